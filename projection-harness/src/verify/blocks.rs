//! Partition blocks: a poll returns one block of records per partition.
//! Brokers differ in the order of the blocks (merkql's own varies from one
//! consumer to the next; the harness's merkql log puts them in partition
//! order), and a projection must not depend on it: these helpers re-fold a
//! poll's blocks in other orders.

use crate::domain::{AnyView, BoxedProjection, Domain, decode_record};
use crate::record::LogRecord;

/// The partition blocks of `records` (one per partition, in arrival order).
pub fn partition_blocks(records: Vec<LogRecord>) -> Vec<Vec<LogRecord>> {
    let mut blocks: Vec<Vec<LogRecord>> = Vec::new();
    for record in records {
        match blocks.iter_mut().find(|b| b[0].partition == record.partition) {
            Some(block) => block.push(record),
            None => blocks.push(vec![record]),
        }
    }
    blocks
}

/// Block orders worth trying, as indices into the arrival order: arrival
/// order first, then every rotation of it, then its reverse. Each block
/// comes first at least once; at most `blocks + 1` orders.
pub fn block_orders(blocks: usize) -> Vec<Vec<usize>> {
    let mut orders: Vec<Vec<usize>> = (0..blocks).map(|r| (0..blocks).map(|i| (i + r) % blocks).collect()).collect();
    if blocks > 2 {
        orders.push((0..blocks).rev().collect());
    }
    orders
}

/// The events of each block, decoded once for every order and projection;
/// records that do not decode are left out (the runner rejects them).
pub fn decode_blocks<D: Domain>(domain: &D, blocks: &[Vec<LogRecord>]) -> Vec<Vec<D::Event>> {
    blocks.iter().map(|block| block.iter().filter_map(|r| decode_record(domain, r).ok()).collect()).collect()
}

/// Folds the decoded `blocks` in `order` into `projection`.
pub fn fold_blocks<E>(mut projection: BoxedProjection<E>, blocks: &[Vec<E>], order: &[usize]) -> AnyView {
    for &i in order {
        for event in &blocks[i] {
            projection.apply(event);
        }
    }
    projection.view()
}
