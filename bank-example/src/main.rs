//! The bank's command line: `bank replay FILE [--durable]`.

fn main() -> std::process::ExitCode {
    projection_harness::cli::main(bank_example::Bank::from_env(), "Bank accounts, checked by projection-harness")
}
