//! # projection-harness
//!
//! A verification harness for event-sourced CQRS projections: it appends
//! generated histories to a real log (merkql on disk, or a Kafka-protocol
//! broker), runs consumer groups that build projections by full replay and
//! incrementally, and proves that full replay equals any split replay, that
//! each key's events are applied once and in order (also across crashes,
//! restarts and injected faults), and that every view equals an
//! independent model. A failure is named ([`anomaly`]), shrunk, and saved
//! as a replay file that reproduces it.
//!
//! ## In a test
//!
//! Implement [`domain::Domain`] for your events (decode, key, projections,
//! an independent model), give a proptest strategy of histories, and make
//! one call ([`properties::Properties`]). Here with the crate's own small
//! domain, [`example::Counters`]:
//!
//! ```
//! use projection_harness::example::{Counters, counter_cases};
//! use projection_harness::properties::Properties;
//!
//! // Every property, on 16 generated cases of up to 10 records each, on
//! // real merkql logs in a temporary directory.
//! Properties::new(Counters).cases(16).run(counter_cases(10));
//! ```
//!
//! A failure panics with the violated property, what differs, and the
//! command that replays the minimal case from its saved replay file.
//!
//! ## Features
//!
//! | feature | adds | for |
//! |---|---|---|
//! | (none) | merkql, proptest, serde | domains, logs, the runner, schedules, the checker, the properties, replay files |
//! | `sqlite` | rusqlite (bundled SQLite) | the view store, durable projections' checkpoints, the projector service |
//! | `cli` | clap, indicatif, signal-hook (and `sqlite`) | a domain's command line in one call ([`cli::App`]) |
//! | `kafka` | rdkafka (bundled librdkafka) | the Kafka-protocol log backend |
//!
//! Three seams keep it usable for any projection, any domain and any log:
//! - [`domain`]: what the harness needs of a domain ([`domain::Domain`]:
//!   decoding, keys, the registered [`domain::Projection`]s, the reference
//!   model);
//! - [`log`]: what it needs of a log ([`log::Log`]); merkql
//!   ([`log::MerkqlLog`]) is one implementation and the only module that
//!   knows merkql;
//! - [`verify`]: the harness core, generic over both: schedules, executor,
//!   property checks, replay files, schedule generators.
//!
//! Around them:
//! - [`record`]: a log record, its position and its digest;
//! - [`anomaly`]: the named anomalies every layer reports with;
//! - [`runner`]: one consumer group driving one projection;
//! - [`settings`]: environment settings, read once;
//! - [`crash`]: named crash points for crash tests;
//! - [`text`]: the one escaping path for input-derived text;
//! - [`example`]: a complete small domain (counters), for the docs and tests.
//!
//! With the `sqlite` feature:
//! - [`store`]: the SQLite view store of durable projections;
//! - [`durable`]: a runner whose state and checkpoint live in the store;
//! - [`projector`]: a domain's projections as a service on a persistent log.
//!
//! With the `cli` feature (which includes `sqlite`):
//! - [`cli`]: a domain's command line in one call;
//! - [`scratch`]: throwaway log directories, removed even on Ctrl-C;
//! - [`progress`]: the progress display of long runs on a terminal.
//!
//! With the `kafka` feature, `log::kafka`: the Kafka-protocol backend.
//!
//! Arrows point one way: `verify` uses `runner`, `log` and `domain`; `log`
//! knows no domain; nothing here names a domain of its own.

pub mod anomaly;
#[cfg(feature = "cli")]
pub mod cli;
pub mod crash;
pub mod domain;
#[cfg(feature = "sqlite")]
pub mod durable;
pub mod example;
pub mod log;
#[cfg(feature = "cli")]
pub mod progress;
#[cfg(feature = "sqlite")]
pub mod projector;
pub mod properties;
pub mod record;
pub mod runner;
#[cfg(feature = "cli")]
pub mod scratch;
pub mod settings;
#[cfg(feature = "sqlite")]
pub mod store;
pub mod text;
pub mod timeline;
pub mod verify;
