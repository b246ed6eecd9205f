//! The properties, one check function each. A check returns the first
//! [`Violation`] it finds, named and explained, or `Ok(())`.

use super::diff::json_diff;
use super::execute::{Execution, GroupPair, Trace};
use super::model::model;
use crate::record::{Position, sorted_positions as sorted};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A broken property, with what was expected and what happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("split equivalence: {projection}: full replay and split replay differ\n{diff}")]
    SplitMismatch { projection: String, diff: String },
    #[error(
        "only new events: group {group}, phase {phase}: the poll returned {got:?}, expected exactly the records produced since the last commit {expected:?}"
    )]
    NotOnlyNew { group: String, phase: usize, expected: Vec<Position>, got: Vec<Position> },
    #[error("per-key ordering: group {group}, cart {cart:?}: applied {got:?}, produced {expected:?}")]
    CartOrder { group: String, cart: String, expected: Vec<Position>, got: Vec<Position> },
    #[error("per-key ordering: group {group} applied the record at {position:?} {count} times")]
    AppliedTwice { group: String, position: Position, count: usize },
    #[error("per-key ordering: partition {partition} assigned offsets {offsets:?}, not 0, 1, 2, ... without gaps")]
    OffsetGap { partition: u32, offsets: Vec<u64> },
    #[error("model agreement: group {group}: the view differs from the model\n{diff}")]
    ModelMismatch { group: String, diff: String },
    #[error("model agreement: group {group} rejected {got:?}, the model rejects {expected:?}")]
    RejectedMismatch { group: String, expected: Vec<Position>, got: Vec<Position> },
    #[error(
        "partition-order independence: partition blocks applied in order {order:?} give another view than arrival order {arrival:?}\n{diff}"
    )]
    PartitionOrder { arrival: Vec<u32>, order: Vec<u32>, diff: String },
    #[error(
        "late group: {projection}: the group that joined at phase {joined} differs from the incremental group\n{diff}"
    )]
    LateGroupMismatch { projection: String, joined: usize, diff: String },
    #[error("redelivery: group {group}, phase {phase}: {detail}")]
    Redelivery { group: String, phase: usize, detail: String },
}

/// A property check over a finished execution.
pub type Check = fn(&Execution) -> Result<(), Violation>;

/// Every property that needs only the execution, in a fixed order: all
/// violations found (one per property at most).
pub fn check_all(execution: &Execution) -> Vec<Violation> {
    let checks: [Check; 7] = [
        check_split_equivalence,
        check_only_new_events,
        check_per_key_ordering,
        check_model_agreement,
        check_late_group,
        check_redelivery,
        check_partition_order_independence,
    ];
    checks.iter().filter_map(|check| check(execution).err()).collect()
}

/// Full replay == split replay, for each projection.
pub fn check_split_equivalence(execution: &Execution) -> Result<(), Violation> {
    let (full, split) = (&execution.full, &execution.incremental);
    same_view("cart-state", &full.cart_state, &split.cart_state, |p, diff| Violation::SplitMismatch {
        projection: p.to_string(),
        diff,
    })?;
    same_view("revenue", &full.revenue, &split.revenue, |p, diff| Violation::SplitMismatch {
        projection: p.to_string(),
        diff,
    })
}

/// A late group ends equal to the groups that were incremental all along.
pub fn check_late_group(execution: &Execution) -> Result<(), Violation> {
    let Some(late) = &execution.late else { return Ok(()) };
    let joined = late.cart_state.phases.first().map_or(0, |p| p.phase);
    let make = |p: &str, diff| Violation::LateGroupMismatch { projection: p.to_string(), joined, diff };
    same_view("cart-state", &execution.incremental.cart_state, &late.cart_state, make)?;
    same_view("revenue", &execution.incremental.revenue, &late.revenue, make)
}

fn same_view<V: PartialEq + Serialize>(
    projection: &str,
    left: &Trace<V>,
    right: &Trace<V>,
    violation: impl Fn(&str, String) -> Violation,
) -> Result<(), Violation> {
    if left.view == right.view {
        return Ok(());
    }
    Err(violation(projection, json_diff(&left.group_id, &left.view, &right.group_id, &right.view)))
}

fn pairs(execution: &Execution) -> impl Iterator<Item = &GroupPair> {
    std::iter::once(&execution.incremental).chain(execution.late.as_ref()).chain(std::iter::once(&execution.full))
}

/// Calls `f` with every trace (both projections, every kind of group),
/// type-erased to what the group-level checks need.
fn for_each_trace(
    execution: &Execution,
    mut f: impl FnMut(&str, &[super::execute::PhaseTrace], &[crate::event::Rejected]) -> Result<(), Violation>,
) -> Result<(), Violation> {
    for pair in pairs(execution) {
        f(&pair.cart_state.group_id, &pair.cart_state.phases, &pair.cart_state.rejected)?;
        f(&pair.revenue.group_id, &pair.revenue.phases, &pair.revenue.rejected)?;
    }
    Ok(())
}

/// At each phase a group receives exactly the records produced since its
/// last commit (by partition and offset), crashed polls included.
pub fn check_only_new_events(execution: &Execution) -> Result<(), Violation> {
    for_each_trace(execution, |group, phases, _| {
        for trace in phases {
            let expected = sorted(&trace.expected_new);
            for report in trace.crashed.iter().chain(std::iter::once(&trace.committed)) {
                let got = sorted(&report.delivered);
                if got != expected {
                    return Err(Violation::NotOnlyNew { group: group.to_string(), phase: trace.phase, expected, got });
                }
            }
        }
        Ok(())
    })
}

/// Offsets run from 0 without gaps in every partition; every group applies
/// every valid record exactly once, each cart's in produced order.
pub fn check_per_key_ordering(execution: &Execution) -> Result<(), Violation> {
    let mut offsets: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (position, _) in &execution.produced {
        offsets.entry(position.partition).or_default().push(position.offset);
    }
    for (partition, offsets) in offsets {
        if offsets.iter().enumerate().any(|(i, o)| *o != i as u64) {
            return Err(Violation::OffsetGap { partition, offsets });
        }
    }
    let model = model(&execution.produced);
    let cart_of: HashMap<Position, &str> =
        model.per_cart.iter().flat_map(|(cart, ps)| ps.iter().map(move |p| (*p, cart.as_str()))).collect();
    for_each_trace(execution, |group, phases, _| {
        let applied: Vec<Position> = phases
            .iter()
            .flat_map(|t| t.crashed.iter().chain(std::iter::once(&t.committed)))
            .flat_map(|r| r.applied.iter().copied())
            .collect();
        let mut counts: HashMap<Position, usize> = HashMap::new();
        for p in &applied {
            *counts.entry(*p).or_default() += 1;
        }
        if let Some(position) = applied.iter().find(|p| counts[p] > 1) {
            return Err(Violation::AppliedTwice {
                group: group.to_string(),
                position: *position,
                count: counts[position],
            });
        }
        let mut per_cart: BTreeMap<&str, Vec<Position>> = BTreeMap::new();
        for p in &applied {
            // A position the model rejects, applied anyway, is its own cart "".
            per_cart.entry(cart_of.get(p).copied().unwrap_or("")).or_default().push(*p);
        }
        for (cart, expected) in &model.per_cart {
            let got = per_cart.remove(cart.as_str()).unwrap_or_default();
            if &got != expected {
                return Err(Violation::CartOrder {
                    group: group.to_string(),
                    cart: cart.clone(),
                    expected: expected.clone(),
                    got,
                });
            }
        }
        if let Some((cart, got)) = per_cart.into_iter().next() {
            return Err(Violation::CartOrder {
                group: group.to_string(),
                cart: cart.to_string(),
                expected: vec![],
                got,
            });
        }
        Ok(())
    })
}

/// Every group's views equal the model's, and every group rejects exactly
/// the records the model rejects.
pub fn check_model_agreement(execution: &Execution) -> Result<(), Violation> {
    let model = model(&execution.produced);
    for pair in pairs(execution) {
        agree_with_model(&pair.cart_state, &model.cart_state)?;
        agree_with_model(&pair.revenue, &model.revenue)?;
    }
    for_each_trace(execution, |group, _, rejected| {
        let got =
            sorted(&rejected.iter().map(|r| Position { partition: r.partition, offset: r.offset }).collect::<Vec<_>>());
        let expected = sorted(&model.rejected);
        if got != expected {
            return Err(Violation::RejectedMismatch { group: group.to_string(), expected, got });
        }
        Ok(())
    })
}

fn agree_with_model<V: PartialEq + Serialize>(trace: &Trace<V>, model: &V) -> Result<(), Violation> {
    if &trace.view == model {
        return Ok(());
    }
    Err(Violation::ModelMismatch {
        group: trace.group_id.clone(),
        diff: json_diff("model", model, &trace.group_id, &trace.view),
    })
}

/// Records polled but not committed come back to the next consumer of the
/// group, and the runner applies each of them exactly once.
pub fn check_redelivery(execution: &Execution) -> Result<(), Violation> {
    for_each_trace(execution, |group, phases, _| {
        for trace in phases {
            let Some(crashed) = &trace.crashed else { continue };
            let fail = |detail: String| Violation::Redelivery { group: group.to_string(), phase: trace.phase, detail };
            let next = &trace.committed;
            if let Some(lost) = crashed.delivered.iter().find(|p| !next.delivered.contains(p)) {
                return Err(fail(format!("{lost:?} was polled, not committed, and did not come back")));
            }
            if let Some(twice) = crashed.applied.iter().find(|p| next.applied.contains(p)) {
                return Err(fail(format!("{twice:?} was applied before the crash and again after it")));
            }
            if let Some(missed) = crashed.applied.iter().find(|p| !next.duplicates.contains(p)) {
                return Err(fail(format!("{missed:?} was applied before the crash but not recognised as a duplicate")));
            }
        }
        Ok(())
    })
}

/// The views do not depend on the order in which partition blocks arrive:
/// the full replay's poll, folded block by block in every rotation of the
/// arrival order and in reverse (by the system's own projections), gives
/// the same views as arrival order.
pub fn check_partition_order_independence(execution: &Execution) -> Result<(), Violation> {
    let Some((arrival, others)) = execution.block_orders.split_first() else { return Ok(()) };
    for other in others {
        let diff = if other.cart_state != arrival.cart_state {
            json_diff("arrival order", &arrival.cart_state, "other order", &other.cart_state)
        } else if other.revenue != arrival.revenue {
            json_diff("arrival order", &arrival.revenue, "other order", &other.revenue)
        } else {
            continue;
        };
        return Err(Violation::PartitionOrder {
            arrival: arrival.partitions.clone(),
            order: other.partitions.clone(),
            diff,
        });
    }
    Ok(())
}
