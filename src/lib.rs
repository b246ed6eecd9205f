//! # event-sourced-cart
//!
//! A verification harness for event-sourced CQRS projections on merkql.
//!
//! Cart events ([`event::CartEvent`]) are appended, keyed by cart id, to the
//! merkql topic `cart-events` ([`log::EventLog`]). Consumer groups build
//! projections ([`projection::CartState`], [`projection::Revenue`]) with a
//! [`runner::Runner`]: full replay first, then incremental catch-ups that
//! see only the new events.
//!
//! Modules, one job each:
//! - [`money`]: exact amounts in cents;
//! - [`event`]: the wire format, validation, decoding with positions;
//! - [`record`]: a log record, independent of merkql;
//! - [`projection`]: the `Projection` trait and the two views;
//! - [`log`]: the merkql adapter (the only module that knows merkql), with
//!   a bulk loader for large fixture logs ([`log::bulk`]);
//! - [`runner`]: one consumer group driving one projection;
//! - [`scenario`]: the seed's canonical 30+5 scenario;
//! - [`report`]: the seed's text format;
//! - [`verify`]: the harness (schedules, executor, model, checks,
//!   generators, replay files), shared by the tests and the CLI.

pub mod event;
pub mod log;
pub mod money;
pub mod projection;
pub mod record;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod verify;
