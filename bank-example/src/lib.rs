//! A second domain checked by `projection-harness`: bank accounts.
//!
//! Events are tagged JSON, produced under their account id on the topic
//! `bank-events`: `{"type":"Deposit","account":"a1","cents":500}` and
//! `{"type":"Withdraw","account":"a1","cents":200}` (`cents` a whole
//! number from 1 to 1,000,000). Two projections: `balances` (each
//! account's balance, which may go below zero: overdrafts are the bank's
//! business, not the log's) and `activity` (how many deposits and
//! withdrawals each account had).
//!
//! The whole domain is this file and `model.rs` (its independent
//! reference model); its tests are one call to the harness.

mod model;

use projection_harness::domain::{BoxedProjection, Domain, DurableProjection, Model, Produced, Projection, register};
use projection_harness::verify::Case;
use projection_harness::verify::generate::cases;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The topic bank events go to.
pub const TOPIC: &str = "bank-events";

/// Largest amount of one event, in cents.
pub const MAX_CENTS: u64 = 1_000_000;

/// A validated bank event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Event {
    Deposit { account: String, cents: u64 },
    Withdraw { account: String, cents: u64 },
}

impl Event {
    pub fn account(&self) -> &str {
        match self {
            Event::Deposit { account, .. } | Event::Withdraw { account, .. } => account,
        }
    }
}

/// Why a record is not a bank event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a bank event ({0}); write {{\"type\":\"Deposit\"|\"Withdraw\",\"account\":\"ID\",\"cents\":N}}, N from 1 to 1000000"
)]
pub struct NotAnEvent(String);

/// A bug planted in a projection, for the tests that show the harness
/// catching one; `None` in production.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// `balances` ignores a withdrawal of exactly 100 cents.
    IgnoresWithdrawalsOf100,
}

/// The bank domain.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bank {
    pub planted: Option<PlantedBug>,
}

impl Bank {
    /// The domain the binary runs: the real one, or, for the tests that
    /// replay a planted bug's failure with the binary, the one that
    /// `BANK_PLANTED_BUG=ignores-withdrawals-of-100` names.
    pub fn from_env() -> Bank {
        let planted = match std::env::var("BANK_PLANTED_BUG").as_deref() {
            Ok("ignores-withdrawals-of-100") => Some(PlantedBug::IgnoresWithdrawalsOf100),
            _ => None,
        };
        Bank { planted }
    }
}

impl Domain for Bank {
    type Event = Event;
    type Rejection = NotAnEvent;

    fn topic(&self) -> &str {
        TOPIC
    }

    fn decode(&self, value: &str) -> Result<Event, NotAnEvent> {
        let event: Event = serde_json::from_str(value).map_err(|e| NotAnEvent(e.to_string()))?;
        let (Event::Deposit { cents, .. } | Event::Withdraw { cents, .. }) = &event;
        if !(1..=MAX_CENTS).contains(cents) {
            return Err(NotAnEvent(format!("cents {cents} out of range")));
        }
        if event.account().is_empty() {
            return Err(NotAnEvent("empty account".into()));
        }
        Ok(event)
    }

    fn key<'e>(&self, event: &'e Event) -> &'e str {
        event.account()
    }

    fn projections(&self) -> Vec<BoxedProjection<Event>> {
        vec![register(Balances { planted: self.planted, ..Balances::default() }), register(Activity::default())]
    }

    fn model(&self, produced: &[Produced]) -> Model {
        model::model(produced)
    }
}

/// Each account's balance in cents.
#[derive(Clone, Debug, Default)]
pub struct Balances {
    balances: BTreeMap<String, i64>,
    planted: Option<PlantedBug>,
}

impl Projection for Balances {
    type Event = Event;
    type View = BTreeMap<String, i64>;

    fn group_id(&self) -> &str {
        "balances"
    }

    fn apply(&mut self, event: &Event) {
        let (account, change) = match event {
            Event::Deposit { account, cents } => (account, *cents as i64),
            Event::Withdraw { cents: 100, .. } if self.planted == Some(PlantedBug::IgnoresWithdrawalsOf100) => return,
            Event::Withdraw { account, cents } => (account, -(*cents as i64)),
        };
        // Each event moves at most 1e6 cents: overflow needs 9e12 events.
        let balance = self.balances.entry(account.clone()).or_insert(0);
        *balance = balance.saturating_add(change);
    }

    fn view(&self) -> Self::View {
        self.balances.clone()
    }
}

impl DurableProjection for Balances {
    const STATE_VERSION: u32 = 1;

    fn save_entry(&self, account: &str) -> Option<String> {
        self.balances.get(account).map(i64::to_string)
    }

    fn load_entry(&mut self, account: &str, state: &str) -> Result<(), String> {
        let balance = state.parse().map_err(|e| format!("not a balance ({e})"))?;
        self.balances.insert(account.to_string(), balance);
        Ok(())
    }
}

/// How many deposits and withdrawals each account had.
#[derive(Clone, Debug, Default)]
pub struct Activity {
    counts: BTreeMap<String, Counts>,
}

/// One account's activity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub deposits: u64,
    pub withdrawals: u64,
}

impl Projection for Activity {
    type Event = Event;
    type View = BTreeMap<String, Counts>;

    fn group_id(&self) -> &str {
        "activity"
    }

    fn apply(&mut self, event: &Event) {
        let counts = self.counts.entry(event.account().to_string()).or_default();
        match event {
            Event::Deposit { .. } => counts.deposits += 1,
            Event::Withdraw { .. } => counts.withdrawals += 1,
        }
    }

    fn view(&self) -> Self::View {
        self.counts.clone()
    }
}

impl DurableProjection for Activity {
    const STATE_VERSION: u32 = 1;

    fn save_entry(&self, account: &str) -> Option<String> {
        serde_json::to_string(self.counts.get(account)?).ok()
    }

    fn load_entry(&mut self, account: &str, state: &str) -> Result<(), String> {
        let counts = serde_json::from_str(state).map_err(|e| format!("not an account's activity ({e})"))?;
        self.counts.insert(account.to_string(), counts);
        Ok(())
    }
}

/// One generated operation on one of a case's accounts.
#[derive(Clone, Debug)]
pub enum Op {
    Deposit {
        account: usize,
        cents: u64,
    },
    Withdraw {
        account: usize,
        cents: u64,
    },
    /// A record that must be rejected: another account's key, or garbage.
    Noise {
        account: usize,
        garbage: bool,
    },
}

/// The account ids a case draws from.
#[derive(Clone, Debug)]
pub struct Accounts(pub Vec<String>);

/// Cases of up to `max_records` records over up to 6 accounts; amounts
/// favour 100 cents and round numbers, about one record in twenty noise.
pub fn bank_cases(max_records: usize) -> impl Strategy<Value = Case> {
    let accounts = prop::collection::vec("acct-[a-f]", 1..=6).prop_map(Accounts);
    let cents = prop_oneof![Just(100u64), 1..=MAX_CENTS];
    let op = prop_oneof![
        10 => (0..6usize, cents.clone()).prop_map(|(account, cents)| Op::Deposit { account, cents }),
        8 => (0..6usize, cents).prop_map(|(account, cents)| Op::Withdraw { account, cents }),
        1 => (0..6usize, any::<bool>()).prop_map(|(account, garbage)| Op::Noise { account, garbage }),
    ];
    cases(accounts, op, max_records, render)
}

/// The record of one operation.
pub fn render(accounts: &Accounts, op: Op) -> projection_harness::domain::HistoryRecord {
    let id = |i: usize| accounts.0[i % accounts.0.len()].clone();
    let event = match op {
        Op::Deposit { account, cents } => Event::Deposit { account: id(account), cents },
        Op::Withdraw { account, cents } => Event::Withdraw { account: id(account), cents },
        Op::Noise { account, garbage: true } => {
            return projection_harness::domain::HistoryRecord { key: Some(id(account)), value: "{\"type\":".into() };
        }
        Op::Noise { account, garbage: false } => {
            let event = Event::Deposit { account: id(account), cents: 1 };
            return projection_harness::domain::HistoryRecord {
                key: Some(format!("{}-other", id(account))),
                value: serde_json::to_string(&event).expect("events serialize"),
            };
        }
    };
    projection_harness::domain::HistoryRecord {
        key: Some(event.account().to_string()),
        value: serde_json::to_string(&event).expect("events serialize"),
    }
}
