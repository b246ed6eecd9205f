//! # event-sourced-cart
//!
//! The shopping-cart domain, checked by [`projection_harness`]: its events,
//! exact money, projections, independent model, history generators, the
//! seed's canonical scenario and its reports ([`cart`]). It is the
//! harness's reference user: everything domain-free (logs, runners, the
//! view store, the properties, replay files) comes from the harness crate,
//! re-exported here under the same module names.

pub use projection_harness::{
    anomaly, cli, crash, domain, durable, log, progress, projector, record, runner, scratch, settings, store, text,
    timeline, verify,
};

pub mod cart;
