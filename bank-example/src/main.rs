//! The bank's command line: the harness's commands (`replay`, `append`,
//! `project`, `views`, `soak`) on the topic `bank-events`.

use bank_example::{Bank, bank_cases};
use projection_harness::cli::App;
use proptest::strategy::Strategy;

fn main() -> std::process::ExitCode {
    App::new(Bank::from_env(), "Bank accounts, checked by projection-harness")
        .version(env!("CARGO_PKG_VERSION"))
        .cases(|max| bank_cases(max).sboxed())
        .run()
}
