//! `event-sourced-cart`: the harness's command line for the cart domain,
//! with the seed's canonical 30+5 scenario as its main job.

use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::generate::case_with;
use event_sourced_cart::cart::report::{canonical_text, view_text};
use event_sourced_cart::cart::scenario::run_canonical_on;
use event_sourced_cart::cli::App;
use event_sourced_cart::log::Log;
use event_sourced_cart::runner::RunError;
use proptest::strategy::Strategy;
use std::process::ExitCode;

const ABOUT: &str = "Event-sourced shopping carts on merkql (or Kafka), checked by projection-harness.

With no command: runs the seed's canonical 30+5 scenario on a merkql log in a temporary directory and prints the projections.";

/// The canonical scenario on `log`: its report and, if the incremental
/// catch-up did not see exactly the new events, why.
fn canonical(log: &mut dyn Log, backend: &str) -> Result<(String, Option<String>), RunError> {
    let run = run_canonical_on(log, backend)?;
    let failure = run.check_incremental().err().map(|reason| format!("incremental update is wrong: {reason}"));
    Ok((canonical_text(&run), failure))
}

fn main() -> ExitCode {
    App::new(Cart, ABOUT)
        .version(env!("CARGO_PKG_VERSION"))
        .view_text(view_text)
        .cases(|max| case_with(max).sboxed())
        .main_job(canonical)
        .run()
}
