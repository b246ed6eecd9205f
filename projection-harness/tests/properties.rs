//! The one-call property check on the example domain: it passes on the
//! real projection, and it catches, shrinks and saves a planted bug.

use projection_harness::domain::{BoxedProjection, Domain, DurableProjection, Model, Produced, Projection, register};
use projection_harness::example::{Add, Counters, NotAnEvent, Totals, counter_cases};
use projection_harness::properties::{Properties, Runner};
use projection_harness::verify::replay_file::parse;
use std::collections::BTreeMap;

#[test]
fn the_counters_hold_every_property_in_memory_and_durable() {
    Properties::new(Counters).cases(64).regressions("proptest-regressions/counters.txt").run(counter_cases(40));
}

/// `Totals` with one step changed: a negative add is applied as positive.
#[derive(Default)]
struct DropsTheSign(Totals);

impl Projection for DropsTheSign {
    type Event = Add;
    type View = BTreeMap<String, i64>;
    fn group_id(&self) -> &str {
        self.0.group_id()
    }
    fn apply(&mut self, event: &Add) {
        self.0.apply(&Add { counter: event.counter.clone(), add: event.add.abs() });
    }
    fn view(&self) -> Self::View {
        self.0.view()
    }
}

impl DurableProjection for DropsTheSign {
    const STATE_VERSION: u32 = Totals::STATE_VERSION;
    fn save_entry(&self, key: &str) -> Option<String> {
        self.0.save_entry(key)
    }
    fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String> {
        self.0.load_entry(key, state)
    }
}

/// The counters domain with a planted projection `P`.
struct Planted<P>(std::marker::PhantomData<fn() -> P>);

impl<P> Planted<P> {
    const DOMAIN: Planted<P> = Planted(std::marker::PhantomData);
}

impl<P> Clone for Planted<P> {
    fn clone(&self) -> Self {
        Planted::DOMAIN
    }
}

impl<P> std::fmt::Debug for Planted<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::any::type_name::<P>())
    }
}

impl<P: DurableProjection<Event = Add> + Default + Send + 'static> Domain for Planted<P> {
    type Event = Add;
    type Rejection = NotAnEvent;
    fn topic(&self) -> &str {
        Counters.topic()
    }
    fn decode(&self, value: &str) -> Result<Add, NotAnEvent> {
        Counters.decode(value)
    }
    fn key<'e>(&self, event: &'e Add) -> &'e str {
        Counters.key(event)
    }
    fn projections(&self) -> Vec<BoxedProjection<Add>> {
        vec![register(P::default())]
    }
    fn model(&self, produced: &[Produced]) -> Model {
        Counters.model(produced)
    }
}

/// A durable-only bug: the durable runner needs the `sqlite` feature.
#[cfg(feature = "sqlite")]
mod durable_only {
    use super::*;

    /// `Totals` with one step changed: it stores nothing, so a restarted
    /// process starts from an empty view (a durable-only bug).
    #[derive(Default)]
    struct StoresNothing(Totals);

    impl Projection for StoresNothing {
        type Event = Add;
        type View = BTreeMap<String, i64>;
        fn group_id(&self) -> &str {
            self.0.group_id()
        }
        fn apply(&mut self, event: &Add) {
            self.0.apply(event);
        }
        fn view(&self) -> Self::View {
            self.0.view()
        }
    }

    impl DurableProjection for StoresNothing {
        const STATE_VERSION: u32 = Totals::STATE_VERSION;
        fn save_entry(&self, _key: &str) -> Option<String> {
            None
        }
        fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String> {
            self.0.load_entry(key, state)
        }
    }

    /// A bug only a restart shows is caught on the durable runner, and only
    /// there: `in_memory_only` runs no durable case.
    #[test]
    fn a_durable_only_bug_is_caught_by_the_durable_runner_alone() {
        let properties = Properties::new(Planted::<StoresNothing>::DOMAIN).named("planted-stores-nothing").cases(64);
        let failure = properties.check(counter_cases(20)).expect_err("the planted bug is caught");
        assert_eq!(failure.runner, Runner::Durable, "{failure}");
        assert!(failure.case.schedule.phases().iter().any(|phase| phase.restart), "a restart shows it: {failure}");
        let in_memory = properties.in_memory_only().check(counter_cases(20));
        assert!(in_memory.is_ok(), "in memory, nothing is stored: {}", in_memory.unwrap_err());
    }
}

#[test]
fn a_planted_bug_is_caught_shrunk_to_one_record_and_written_as_a_replay_file() {
    let failure = Properties::new(Planted::<DropsTheSign>::DOMAIN)
        .named("planted-drops-the-sign")
        .reproduce_with("cargo run -p counters --")
        .cases(256)
        .check(counter_cases(40))
        .expect_err("the planted bug is caught");
    assert_eq!(failure.runner, Runner::InMemory, "the in-memory runner runs first: {failure}");
    assert_eq!(failure.property, "model_agreement", "{failure}");
    let [record] = failure.case.history.as_slice() else { panic!("shrunk to one record: {failure}") };
    assert_eq!(record.value, r#"{"counter":"a0","add":-1}"#, "{failure}");
    let path = failure.replay_file.as_ref().expect("a replay file");
    assert!(path.ends_with("planted-drops-the-sign-model_agreement.jsonl"), "{}", path.display());
    let text = std::fs::read_to_string(path).unwrap();
    let file = parse(&Planted::<DropsTheSign>::DOMAIN, &text).expect("the replay file reads back");
    assert_eq!(file.history, failure.case.history, "saved byte for byte");
    assert_eq!(file.schedule.as_ref(), Some(&failure.case.schedule));
    let shown = failure.to_string();
    assert!(shown.starts_with("property model_agreement failed with the in-memory runner"), "{shown}");
    assert!(
        shown.contains(&format!("reproduce with: cargo run -p counters -- replay {}\n", path.display())),
        "{shown}"
    );
    let page = failure.page.as_ref().expect("a timeline page");
    assert_eq!(page, &path.with_extension("html"), "beside the replay file");
    assert!(shown.ends_with(&format!("its timeline page: {}", page.display())), "{shown}");
    let html = std::fs::read_to_string(page).unwrap();
    assert!(html.contains("model agreement: group totals-incremental: the view differs from the model"), "{html}");
    assert!(html.contains(&format!("cargo run -p counters -- replay {}", path.display())), "the replay command");
    assert!(html.contains("<td class=\"del\">  &quot;a0&quot;: -1</td>"), "the model's view entry is marked: {html}");
}
