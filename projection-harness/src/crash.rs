//! Named crash points: where the process aborts itself when
//! `HARNESS_CRASH_AT` asks (read once, [`crate::settings`]), so that crash
//! tests cover each point on every run, not only when a random kill
//! happens to land there. `abort` ends the process at once, as SIGKILL
//! would: no destructor, no flush, no unwinding.

use std::sync::atomic::{AtomicU32, Ordering};

/// Every crash point, in the order a batch meets them.
pub const POINTS: [&str; 4] = [
    // `append`: a chunk is in the log, not yet acknowledged on stdout.
    "after-append",
    // The durable runner: a batch applied in memory, not yet in the store.
    "before-store-commit",
    // In the store, not yet committed to merkql (the store is ahead).
    "after-store-commit",
    // Committed to both.
    "after-log-commit",
];

/// Passes through crash point `name`: aborts if `HARNESS_CRASH_AT` names it
/// and this is its Nth pass.
pub fn point(name: &'static str) {
    debug_assert!(POINTS.contains(&name), "{name} is listed in POINTS");
    static PASSES: AtomicU32 = AtomicU32::new(0);
    let Ok(settings) = crate::settings::Settings::get() else { return };
    if let Some((at, nth)) = &settings.crash_at
        && at == name
        && PASSES.fetch_add(1, Ordering::SeqCst) + 1 == *nth
    {
        std::process::abort();
    }
}
