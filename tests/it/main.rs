//! Every integration test in one binary, a module per family: one link
//! instead of one per file, and one test process that keeps both cores
//! busy (measured: `BENCHMARKS.md`, "Test suite speed").
//!
//! Run one family with `cargo test --test it properties::`, one test with
//! `cargo test --test it properties_catch_bugs::late_group`
//! (a prefix: every test whose name starts with it).

mod bad_input;
mod bulk_load;
mod canonical;
mod cli;
mod crash;
mod decoder;
mod durable;
mod executor;
mod faults;
mod hostile_text;
#[cfg(feature = "kafka")]
mod kafka;
mod merkql_anomalies;
mod other_domain;
mod poison;
mod projector;
mod properties;
mod properties_catch_bugs;
mod replay_files;
mod runner;
mod soak;
mod state_machine;
mod support;
mod timeline;
