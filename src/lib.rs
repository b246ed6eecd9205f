//! # event-sourced-cart
//!
//! A verification harness for event-sourced CQRS projections on merkql,
//! with a shopping cart as its reference domain.
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
//! - [`durable`]: the same, its state and checkpoint in the view store;
//! - [`cart`]: the cart domain (events, money, projections, model,
//!   generators, canonical scenario, report);
//! - [`settings`]: environment settings, read once;
//! - [`crash`]: named crash points for crash tests;
//! - [`store`]: the SQLite view store of durable projections;
//! - [`scratch`]: throwaway log directories, removed even on Ctrl-C;
//! - [`progress`]: the progress display of long runs on a terminal;
//! - [`projector`]: the projections as a service on a persistent log;
//! - [`text`]: the one escaping path for input-derived text.
//!
//! Arrows point one way: `cart` uses `verify`, `runner`, `log` and
//! `domain`; `verify` and `runner` never name the cart; `log` knows no
//! domain.

pub mod anomaly;
pub mod cart;
pub mod crash;
pub mod domain;
pub mod durable;
pub mod log;
pub mod progress;
pub mod projector;
pub mod record;
pub mod runner;
pub mod scratch;
pub mod settings;
pub mod store;
pub mod text;
pub mod verify;
