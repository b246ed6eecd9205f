//! The seed's canonical 30+5 scenario: its figures, held in snapshots, and
//! the incremental promise (each group polls exactly the 5 new events).

use crate::support::snapshots;
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::CartEvent;
use event_sourced_cart::cart::projection::{CartState, CartStateView, Revenue, RevenueView, UnitsSold, UnitsSoldView};
use event_sourced_cart::cart::report;
use event_sourced_cart::cart::scenario::{CanonicalRun, FIRST_BATCH, canonical_events, run_canonical};
use event_sourced_cart::domain::{AnyView, Domain, Projection, fold};
use event_sourced_cart::record::Position;
use event_sourced_cart::settings::scratch_dir;

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
    let text = event_sourced_cart::cart::scenario::CANONICAL_EVENTS_JSONL;
    for (line, event) in text.lines().zip(canonical_events()) {
        assert_eq!(event.to_wire().to_json(), line);
    }
}

#[test]
fn views_after_the_first_30_events() {
    let run = canonical_run(3);
    let cart_state = run.first_view::<CartStateView>().unwrap();
    let revenue = run.first_view::<RevenueView>().unwrap();
    let units_sold = run.first_view::<UnitsSoldView>().unwrap();
    snapshots().bind(|| {
        insta::assert_json_snapshot!("cart_state_after_30", cart_state);
        insta::assert_json_snapshot!("revenue_after_30", revenue);
        insta::assert_json_snapshot!("units_sold_after_30", units_sold);
    });
    // The seed's figures, stated plainly too (checked by hand against the seed).
    let totals: Vec<(String, usize, String)> =
        cart_state.carts.iter().map(|(id, c)| (id.clone(), c.item_count(), c.total().to_string())).collect();
    assert_eq!(
        totals,
        [
            ("cart-1".into(), 7, "$125.43".into()),
            ("cart-2".into(), 6, "$141.25".into()),
            ("cart-3".into(), 6, "$49.50".into())
        ]
    );
    assert_eq!(revenue.total_cents.to_string(), "$266.68");
    // Carts 1 and 2: 15 + 16 units (checked by hand against the seed's lines).
    assert_eq!((units_sold.items["Widget"], units_sold.total_units), (3, 31));
}

#[test]
fn views_after_all_35_events() {
    let run = canonical_run(3);
    let cart_state = run.updated_view::<CartStateView>().unwrap();
    let revenue = run.updated_view::<RevenueView>().unwrap();
    let units_sold = run.updated_view::<UnitsSoldView>().unwrap();
    snapshots().bind(|| {
        insta::assert_json_snapshot!("cart_state_after_35", cart_state);
        insta::assert_json_snapshot!("revenue_after_35", revenue);
        insta::assert_json_snapshot!("units_sold_after_35", units_sold);
    });
    let cart_3 = &cart_state.carts["cart-3"];
    assert_eq!((cart_3.item_count(), cart_3.total().to_string()), (8, "$76.00".into()));
    assert_eq!(revenue.total_cents.to_string(), "$342.68");
    // Cart 3 adds 616 units (100+100+200+50+150+5+8+3; Anchor removed).
    assert_eq!((units_sold.items["Rivet"], units_sold.total_units), (200, 647));
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
        assert_eq!(run.projections.len(), Cart.projections().len(), "every registered projection runs");
        for projection in &run.projections {
            assert_eq!(projection.first.report.delivered.len(), FIRST_BATCH);
            assert_eq!(projection.incremental.report.delivered.len(), 5);
            let per_partition = projection.first.report.records_per_partition();
            assert_eq!(per_partition.values().sum::<usize>(), FIRST_BATCH);
            assert!(per_partition.keys().all(|p| *p < partitions));
        }
        run.check_incremental().unwrap();
    }
}

#[test]
fn incremental_views_equal_a_full_fold() {
    let run = canonical_run(3);
    // Every registered projection, folded outside any log.
    let folded: Vec<(String, AnyView)> = Cart
        .projections()
        .into_iter()
        .map(|mut projection| {
            for event in canonical_events() {
                projection.apply(&event);
            }
            (projection.group_id().to_string(), projection.view())
        })
        .collect();
    assert_eq!(run.projections.len(), folded.len());
    for (projection, (group_id, full)) in run.projections.iter().zip(&folded) {
        assert_eq!(&projection.group_id, group_id);
        assert_eq!(&projection.incremental.view, full, "{group_id}");
    }
    // The seed's two, then units-sold, in registration order (more may follow).
    let views = [
        AnyView::new(fold(CartState::new(), canonical_events())),
        AnyView::new(fold(Revenue::new(), canonical_events())),
        AnyView::new(fold(UnitsSold::new(), canonical_events())),
    ];
    for ((group_id, full), view) in folded.iter().zip(views) {
        assert_eq!(full, &view, "{group_id}");
    }
    let groups: Vec<&str> = folded.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(groups[..3], ["cart-state", "revenue", "units-sold"]);
    assert_eq!(groups[..3], [CartState::new().group_id(), Revenue::new().group_id(), UnitsSold::new().group_id()]);
}

/// The main job's verdict: an incremental poll that returned one record
/// too many, one too few, or the right count at the wrong positions is
/// named, with its group.
#[test]
fn an_incremental_poll_other_than_the_new_events_is_refused_with_its_group() {
    let run = canonical_run(3);
    let first_old = run.projections[0].first.report.delivered[0];
    type Edit = fn(&mut Vec<Position>, Position);
    let edits: [(&str, Edit); 3] = [
        ("one more", |delivered, old| delivered.push(old)),
        ("one fewer", |delivered, _| {
            delivered.pop();
        }),
        ("one moved", |delivered, old| delivered[0] = old),
    ];
    for (name, edit) in edits {
        for victim in 0..run.projections.len() {
            let mut changed: CanonicalRun = canonical_run(3);
            edit(&mut changed.projections[victim].incremental.report.delivered, first_old);
            let error = changed.check_incremental().expect_err(name);
            assert!(error.starts_with(&format!("group {}:", changed.projections[victim].group_id)), "{name}: {error}");
        }
    }
}
