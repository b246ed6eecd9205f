//! Independent work shared out over the machine's cores, in order.

/// `work` applied to every item, the items shared out in contiguous chunks
/// over the machine's cores, the results in the items' order; in place when
/// `parallel` is false (small work, where a thread costs more than it
/// saves) or there is one core or one item. A panic in `work` goes on in
/// the caller, as if the work had run there.
pub(crate) fn map_on_cores<T: Sync, R: Send>(items: &[T], parallel: bool, work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = if parallel { cores.clamp(1, items.len().max(1)) } else { 1 };
    if threads == 1 {
        return items.iter().map(work).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let running: Vec<_> = items
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().map(work).collect::<Vec<R>>()))
            .collect();
        running
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::map_on_cores;

    #[test]
    fn results_keep_the_items_order_in_place_or_not() {
        let items: Vec<u32> = (0..101).collect();
        let squares: Vec<u32> = items.iter().map(|i| i * i).collect();
        assert_eq!(map_on_cores(&items, true, |i| i * i), squares);
        assert_eq!(map_on_cores(&items, false, |i| i * i), squares);
        assert_eq!(map_on_cores(&[] as &[u32], true, |i| i * i), Vec::<u32>::new());
    }
}
