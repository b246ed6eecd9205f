//! The harness is not the cart's: a second domain, written here through
//! the public seams only (`Domain`, `Projection`, `verify::generate::cases`),
//! gets every property on real merkql logs without a line of the harness
//! changed, and a projection registered without its part of the model is
//! named by model agreement.

use event_sourced_cart::domain::{
    AnyView, BoxedProjection, Domain, DurableProjection, HistoryRecord, Model, Produced, Projection, register,
};
use event_sourced_cart::verify::check::{self, Violation, check_model_agreement};
use event_sourced_cart::verify::generate::cases;
use event_sourced_cart::verify::{Case, Production};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Deposits to accounts: `{"account":"a","amount":5}`, keyed by account.
#[derive(Clone, Debug, PartialEq)]
struct Deposit {
    account: String,
    amount: u64,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("not a deposit: {0}")]
struct NotADeposit(String);

/// The domain, with or without the model's part for `largest`, and
/// optionally with `balances` registered twice (a mistake the harness names).
#[derive(Clone, Copy, Debug)]
struct Bank {
    model_knows_largest: bool,
    balances_twice: bool,
}

/// Balances by account.
#[derive(Default)]
struct Balances(BTreeMap<String, u64>);

impl Projection for Balances {
    type Event = Deposit;
    type View = BTreeMap<String, u64>;
    fn group_id(&self) -> &str {
        "balances"
    }
    fn apply(&mut self, event: &Deposit) {
        let balance = self.0.entry(event.account.clone()).or_default();
        *balance = balance.saturating_add(event.amount);
    }
    fn view(&self) -> Self::View {
        self.0.clone()
    }
}

impl DurableProjection for Balances {
    const STATE_VERSION: u32 = 1;
    fn save_entry(&self, account: &str) -> Option<String> {
        self.0.get(account).map(u64::to_string)
    }
    fn load_entry(&mut self, account: &str, state: &str) -> Result<(), String> {
        self.0.insert(account.to_string(), state.parse().map_err(|e| format!("not a balance ({e})"))?);
        Ok(())
    }
}

/// The largest single deposit (kept per account, so that it can be stored
/// per account).
#[derive(Default)]
struct Largest(BTreeMap<String, u64>);

impl Projection for Largest {
    type Event = Deposit;
    type View = u64;
    fn group_id(&self) -> &str {
        "largest"
    }
    fn apply(&mut self, event: &Deposit) {
        let largest = self.0.entry(event.account.clone()).or_default();
        *largest = (*largest).max(event.amount);
    }
    fn view(&self) -> u64 {
        self.0.values().copied().max().unwrap_or(0)
    }
}

impl DurableProjection for Largest {
    const STATE_VERSION: u32 = 1;
    fn save_entry(&self, account: &str) -> Option<String> {
        self.0.get(account).map(u64::to_string)
    }
    fn load_entry(&mut self, account: &str, state: &str) -> Result<(), String> {
        self.0.insert(account.to_string(), state.parse().map_err(|e| format!("not an amount ({e})"))?);
        Ok(())
    }
}

impl Domain for Bank {
    type Event = Deposit;
    type Rejection = NotADeposit;

    fn topic(&self) -> &str {
        "deposits"
    }

    fn decode(&self, value: &str) -> Result<Deposit, NotADeposit> {
        let (account, amount) = value.split_once(':').ok_or_else(|| NotADeposit("no ':'".into()))?;
        let amount = amount.parse().map_err(|_| NotADeposit("amount is not a whole number".into()))?;
        if account.is_empty() {
            return Err(NotADeposit("empty account".into()));
        }
        Ok(Deposit { account: account.to_string(), amount })
    }

    fn key<'e>(&self, event: &'e Deposit) -> &'e str {
        &event.account
    }

    fn projections(&self) -> Vec<BoxedProjection<Deposit>> {
        let mut projections = vec![register(Balances::default()), register(Largest::default())];
        if self.balances_twice {
            projections.push(register(Balances::default()));
        }
        projections
    }

    /// Independent: sums with `rsplit` and checked arithmetic.
    fn model(&self, produced: &[Produced]) -> Model {
        let mut balances: BTreeMap<String, u64> = BTreeMap::new();
        let mut largest = 0u64;
        let mut rejected = Vec::new();
        for (position, record) in produced {
            let mut parts = record.value.rsplitn(2, ':');
            let amount = parts.next().and_then(|a| a.parse::<u64>().ok());
            let account = parts.next().filter(|a| !a.is_empty() && !a.contains(':'));
            match (account, amount) {
                (Some(account), Some(amount)) if record.key.as_deref() == Some(account) => {
                    let balance = balances.entry(account.to_string()).or_default();
                    *balance = balance.checked_add(amount).unwrap_or(u64::MAX);
                    largest = largest.max(amount);
                }
                _ => rejected.push(*position),
            }
        }
        let mut views = BTreeMap::from([("balances".to_string(), AnyView::new(balances))]);
        if self.model_knows_largest {
            views.insert("largest".to_string(), AnyView::new(largest));
        }
        Model { views, rejected }
    }
}

/// Deposits over a few accounts, some malformed or under another key.
fn bank_cases() -> impl Strategy<Value = Case> {
    let accounts = prop::collection::vec("[a-c]{1,2}", 1..4);
    let op = (0..4usize, 0..1000u64, 0..10u8);
    cases(accounts, op, 30, |accounts: &Vec<String>, (account, amount, noise)| {
        let account = &accounts[account % accounts.len()];
        match noise {
            0 => HistoryRecord { key: Some(account.clone()), value: format!("{account}:x") },
            1 => HistoryRecord { key: Some(format!("{account}-other")), value: format!("{account}:{amount}") },
            _ => HistoryRecord { key: Some(account.clone()), value: format!("{account}:{amount}") },
        }
    })
}

proptest! {
    // 32 cases: the cart suite covers the harness; this shows the seam.
    #![proptest_config(ProptestConfig { cases: 32, ..crate::support::proptest_config("proptest-regressions/other_domain.txt") })]

    /// All seven properties hold for another domain.
    #[test]
    fn every_property_holds_for_another_domain(case in bank_cases()) {
        let execution = crate::support::run(&Production(Bank { model_knows_largest: true, balances_twice: false }), &case);
        prop_assert_eq!(check::check_all(&execution), Vec::<Violation>::new());
        prop_assert_eq!(execution.full.len(), 2);
    }
}

#[test]
fn a_projection_the_model_does_not_know_is_named() {
    let case = Case { schedule: event_sourced_cart::verify::Schedule::new(1, vec![], None).unwrap(), history: vec![] };
    let execution = crate::support::run(&Production(Bank { model_knows_largest: false, balances_twice: false }), &case);
    assert_eq!(check_model_agreement(&execution), Err(Violation::ModelMissing { projection: "largest".into() }));
    // The domain-free properties still hold for it.
    for (name, check) in check::all() {
        if name != "model_agreement" {
            assert_eq!(check(&execution), Ok(()), "{name}");
        }
    }
}

#[test]
fn two_projections_with_one_group_id_are_refused() {
    let (_dir, mut log) = {
        let dir = event_sourced_cart::settings::scratch_dir().unwrap();
        let log = event_sourced_cart::log::MerkqlLog::create(dir.path(), "deposits", 1).unwrap();
        (dir, log)
    };
    let schedule = event_sourced_cart::verify::Schedule::new(1, vec![], None).unwrap();
    let bank = Bank { model_knows_largest: true, balances_twice: true };
    let error = event_sourced_cart::verify::execute(&Production(bank), &[], &schedule, &mut log).unwrap_err();
    assert!(error.to_string().contains("share the group id \"balances\""), "{error}");
}

#[test]
fn plain_replay_files_key_records_by_the_decoded_event_by_default() {
    let bank = Bank { model_knows_largest: true, balances_twice: false };
    let file = event_sourced_cart::verify::replay_file::parse(&bank, "ab:5\nc:7\n").unwrap();
    let keys: Vec<Option<&str>> = file.history.iter().map(|r| r.key.as_deref()).collect();
    assert_eq!(keys, [Some("ab"), Some("c")]);
    let error = event_sourced_cart::verify::replay_file::parse(&bank, "ab:5\nab:x\n").unwrap_err();
    assert_eq!(error.to_string(), "line 2: not a deposit: amount is not a whole number");
}
