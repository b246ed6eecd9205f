//! The bank's reference model: its own reading of the JSON (a generic
//! value, not the typed decoder) and its own arithmetic, so that a bug in
//! a projection or the decoder is not repeated in its judge.

use projection_harness::domain::{AnyView, Model, Produced};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the model reads from a valid record: account, deposit or not, cents.
fn read(value: &str) -> Option<(String, bool, i64)> {
    let Value::Object(object) = serde_json::from_str::<Value>(value).ok()? else { return None };
    if object.len() != 3 {
        return None;
    }
    let deposit = match object.get("type")?.as_str()? {
        "Deposit" => true,
        "Withdraw" => false,
        _ => return None,
    };
    let account = object.get("account")?.as_str().filter(|a| !a.is_empty())?.to_string();
    let cents = object.get("cents")?.as_u64().filter(|c| (1..=1_000_000).contains(c))?;
    Some((account, deposit, cents as i64))
}

/// The views of `balances` and `activity`, and the rejected positions.
pub fn model(produced: &[Produced]) -> Model {
    let mut balances: BTreeMap<String, i64> = BTreeMap::new();
    let mut activity: BTreeMap<String, crate::Counts> = BTreeMap::new();
    let mut rejected = Vec::new();
    for (position, record) in produced {
        match read(&record.value) {
            Some((account, deposit, cents)) if record.key.as_deref() == Some(account.as_str()) => {
                *balances.entry(account.clone()).or_insert(0) += if deposit { cents } else { -cents };
                let counts = activity.entry(account).or_default();
                if deposit {
                    counts.deposits += 1;
                } else {
                    counts.withdrawals += 1;
                }
            }
            _ => rejected.push(*position),
        }
    }
    let views = BTreeMap::from([
        ("balances".to_string(), AnyView::new(balances)),
        ("activity".to_string(), AnyView::new(activity)),
    ]);
    Model { views, rejected }
}
