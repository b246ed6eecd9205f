//! The seed's canonical 30+5 scenario: its figures, held in snapshots, and
//! the incremental promise (each group polls exactly the 5 new events).

mod support;

use event_sourced_cart::event::CartEvent;
use event_sourced_cart::log::scratch_dir;
use event_sourced_cart::projection::{CartState, Projection, Revenue, fold};
use event_sourced_cart::report;
use event_sourced_cart::scenario::{CanonicalRun, FIRST_BATCH, canonical_events, run_canonical};
use support::snapshots;

fn canonical_run(partitions: u32) -> CanonicalRun {
    let dir = scratch_dir().unwrap();
    run_canonical(dir.path(), partitions).unwrap()
}

#[test]
fn wire_json_of_each_variant() {
    let variants = [
        CartEvent::AddItem { cart_id: "cart-1".into(), item: "Widget".into(), qty: 2, price: 9.99 },
        CartEvent::RemoveItem { cart_id: "cart-1".into(), item: "Doohickey".into() },
        CartEvent::Checkout { cart_id: "cart-1".into() },
    ];
    let lines: Vec<String> = variants.iter().map(CartEvent::to_json).collect();
    snapshots().bind(|| insta::assert_snapshot!("wire_json", lines.join("\n")));
}

#[test]
fn the_bundled_events_are_byte_identical_to_their_wire_form() {
    let text = event_sourced_cart::scenario::CANONICAL_EVENTS_JSONL;
    for (line, event) in text.lines().zip(canonical_events()) {
        assert_eq!(event.to_wire().to_json(), line);
    }
}

#[test]
fn views_after_the_first_30_events() {
    let run = canonical_run(3);
    snapshots().bind(|| {
        insta::assert_json_snapshot!("cart_state_after_30", run.cart_state.view);
        insta::assert_json_snapshot!("revenue_after_30", run.revenue.view);
    });
    // The seed's figures, stated plainly too (checked by hand against the seed).
    let totals: Vec<(String, usize, String)> =
        run.cart_state.view.carts.iter().map(|(id, c)| (id.clone(), c.item_count(), c.total().to_string())).collect();
    assert_eq!(
        totals,
        [
            ("cart-1".into(), 7, "$125.43".into()),
            ("cart-2".into(), 6, "$141.25".into()),
            ("cart-3".into(), 6, "$49.50".into())
        ]
    );
    assert_eq!(run.revenue.view.total_cents.to_string(), "$266.68");
}

#[test]
fn views_after_all_35_events() {
    let run = canonical_run(3);
    snapshots().bind(|| {
        insta::assert_json_snapshot!("cart_state_after_35", run.cart_state_incremental.view);
        insta::assert_json_snapshot!("revenue_after_35", run.revenue_incremental.view);
    });
    let cart_3 = &run.cart_state_incremental.view.carts["cart-3"];
    assert_eq!((cart_3.item_count(), cart_3.total().to_string()), (8, "$76.00".into()));
    assert_eq!(run.revenue_incremental.view.total_cents.to_string(), "$342.68");
}

#[test]
fn the_main_job_report() {
    let run = canonical_run(3);
    snapshots().bind(|| insta::assert_snapshot!("canonical_report", report::canonical_text(&run)));
}

#[test]
fn each_group_polls_exactly_the_5_new_events_whatever_the_partition_count() {
    for partitions in [1, 2, 3, 8] {
        let run = canonical_run(partitions);
        assert_eq!(run.cart_state.report.delivered.len(), FIRST_BATCH);
        assert_eq!(run.revenue.report.delivered.len(), FIRST_BATCH);
        assert_eq!(run.cart_state_incremental.report.delivered.len(), 5);
        let per_partition = run.cart_state.report.records_per_partition();
        assert_eq!(per_partition.values().sum::<usize>(), FIRST_BATCH);
        assert!(per_partition.keys().all(|p| *p < partitions));
        assert_eq!(run.revenue_incremental.report.delivered.len(), 5);
        run.check_incremental().unwrap();
    }
}

#[test]
fn incremental_views_equal_a_full_fold() {
    let run = canonical_run(3);
    assert_eq!(run.cart_state_incremental.view, fold(CartState::new(), canonical_events()));
    assert_eq!(run.revenue_incremental.view, fold(Revenue::new(), canonical_events()));
    assert_eq!(CartState::new().group_id(), "cart-state");
    assert_eq!(Revenue::new().group_id(), "revenue");
}
