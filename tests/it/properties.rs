//! The harness's properties, each over generated histories and schedules,
//! on real merkql logs. A failure prints the violation, the minimal case is
//! persisted in `proptest-regressions/properties.txt` and written as a
//! replay file (`cargo run -- replay target/failures/<property>.jsonl`).

use crate::support::check;
use event_sourced_cart::cart::generate::case;
use event_sourced_cart::verify::check::{
    check_late_group, check_model_agreement, check_only_new_events, check_partition_order_independence,
    check_per_key_ordering, check_redelivery, check_split_equivalence,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(crate::support::proptest_config("proptest-regressions/properties.txt"))]

    /// For each projection, full replay == split replay at any commit points,
    /// with new or reused consumers, reopens, crashes and late groups.
    #[test]
    fn split_equivalence(case in case()) {
        check("split_equivalence", check_split_equivalence, &case)?;
    }

    /// At each phase a group receives exactly the records produced since its
    /// last commit, identified by partition and offset.
    #[test]
    fn only_new_events(case in case()) {
        check("only_new_events", check_only_new_events, &case)?;
    }

    /// Every key's events are applied exactly once, in produced order;
    /// offsets in each partition run from 0 without gaps.
    #[test]
    fn per_key_ordering(case in case()) {
        check("per_key_ordering", check_per_key_ordering, &case)?;
    }

    /// Every group's views equal an independent in-memory fold of the
    /// produced history: merkql adds and loses nothing.
    #[test]
    fn model_agreement(case in case()) {
        check("model_agreement", check_model_agreement, &case)?;
    }

    /// Views do not depend on the order in which partition blocks arrive.
    #[test]
    fn partition_order_independence(case in case()) {
        check("partition_order_independence", check_partition_order_independence, &case)?;
    }

    /// A group created after k phases, replaying from earliest, ends equal to
    /// the groups that were incremental all along.
    #[test]
    fn late_group(case in case()) {
        check("late_group", check_late_group, &case)?;
    }

    /// Records polled but not committed come back to the next consumer, and
    /// the runner applies each exactly once.
    #[test]
    fn redelivery(case in case()) {
        check("redelivery", check_redelivery, &case)?;
    }
}
