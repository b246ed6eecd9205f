//! `parse_event` is one strict single pass over a value; its result (the
//! event, or the class of the error) must be exactly that of a reference
//! built from independent parts:
//! 1. the text must be one valid JSON text as a whole (`serde_json::Value`
//!    reads it): else `NotJson`;
//! 2. it must be an object: else `NotAnEvent` (serde's internally tagged
//!    enums also read a sequence such as `["Checkout","c"]`, as the seed
//!    did; events are objects, for the decoder and for the model alike);
//! 3. it must name no top-level field twice (a small visitor collects the
//!    names): else `NotAnEvent`;
//! 4. then serde's internally tagged `CartEvent` (the seed's wire type)
//!    reads it: a data error is `NotAnEvent`; its rules are checked by
//!    `CartEvent::validate`, except that an `AddItem`'s price is decided on
//!    the number's own text (read by a separate pass), not on the `f64`
//!    the tagged enum holds: a broken rule is `Invalid` with the same
//!    `InvalidEvent`.
//!
//! Error message texts differ between the two and are not compared.

use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::{CartEvent, DecodeError, DomainEvent, InvalidEvent, parse_event, validate_add};
use proptest::prelude::*;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// What a decoder made of a value: the event, or the class of its error.
#[derive(Debug, PartialEq)]
enum Outcome {
    Event(DomainEvent),
    NotJson,
    NotAnEvent,
    Invalid(InvalidEvent),
}

fn outcome(result: Result<DomainEvent, DecodeError>) -> Outcome {
    match result {
        Ok(event) => Outcome::Event(event),
        Err(DecodeError::NotJson(_)) => Outcome::NotJson,
        Err(DecodeError::NotAnEvent(_)) => Outcome::NotAnEvent,
        Err(DecodeError::Invalid(invalid)) => Outcome::Invalid(invalid),
    }
}

/// Whether a JSON object names a top-level field twice (names compared
/// after unescaping).
struct DuplicateField(bool);

impl<'de> Deserialize<'de> for DuplicateField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DuplicateFieldVisitor)
    }
}

struct DuplicateFieldVisitor;

impl<'de> Visitor<'de> for DuplicateFieldVisitor {
    type Value = DuplicateField;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DuplicateField, A::Error> {
        let mut names = HashSet::new();
        let mut duplicate = false;
        while let Some((name, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
            duplicate |= !names.insert(name);
        }
        Ok(DuplicateField(duplicate))
    }
}

/// The reference decoder: JSON validity, an object, no duplicated
/// top-level field, then the tagged enum and its validation.
fn reference(json: &str) -> Result<DomainEvent, DecodeError> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(DecodeError::NotAnEvent("not an object".into()));
    }
    let DuplicateField(duplicate) = serde_json::from_str(json).expect("a valid JSON object");
    if duplicate {
        return Err(DecodeError::NotAnEvent("duplicate field".into()));
    }
    let wire: CartEvent = serde_json::from_str(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DecodeError::NotAnEvent(e.to_string()),
        _ => DecodeError::NotJson(e.to_string()),
    })?;
    match wire {
        CartEvent::AddItem { cart_id, item, qty, price: _ } => {
            #[derive(serde::Deserialize)]
            struct PriceText<'a> {
                #[serde(borrow)]
                price: &'a serde_json::value::RawValue,
            }
            let text: PriceText = serde_json::from_str(json).expect("an AddItem has a price");
            Ok(validate_add(cart_id, item, qty, text.price.get())?)
        }
        other => Ok(other.validate()?),
    }
}

/// `parse_event` and the reference agree on `json`.
fn agree(json: &str) -> Result<(), String> {
    let (decoded, expected) = (outcome(parse_event(json)), outcome(reference(json)));
    if decoded == expected {
        Ok(())
    } else {
        Err(format!("{json}\n parse_event: {decoded:?}\n   reference: {expected:?}"))
    }
}

#[test]
fn tricky_values_decode_as_the_reference_does() {
    let cases = [
        r#"{"type":"AddItem","cart_id":"cart-1","item":"Widget","qty":2,"price":9.99}"#,
        r#"{"cart_id":"cart-1","item":"Widget","qty":2,"price":9.99,"type":"AddItem"}"#,
        r#"  {"type":"AddItem","cart_id":"c\u0041","item":"W\"x","qty":1,"price":10}"#,
        r#"{"type":"Add\u0049tem","cart_id":"c","item":"i","qty":1,"price":1}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"i","qty":1}"#,
        r#"{"type":"AddItem","cart_id":"c","item":null,"qty":1,"price":1}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"i","qty":0,"price":1}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"i","qty":1.0,"price":1}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"i","qty":4294967296,"price":1}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"i","qty":1,"price":"1"}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"i","qty":1,"price":1.001}"#,
        r#"{"type":"AddItem","cart_id":"","item":"i","qty":1,"price":1}"#,
        r#"{"type":"RemoveItem","cart_id":"c","item":"i","qty":"many"}"#,
        r#"{"type":"RemoveItem","cart_id":"c","item":"i","qty":3,"price":null}"#,
        r#"{"type":"RemoveItem","cart_id":"c"}"#,
        r#"{"type":"Checkout","cart_id":"c","item":5}"#,
        r#"{"type":"Checkout","cart_id":"c","item":"x","extra":{"a":[1,2]}}"#,
        r#"{"type":"Pay","cart_id":"c"}"#,
        r#"{"type":5,"cart_id":"c"}"#,
        r#"["Checkout","c"]"#,
        r#"[{"type":"Checkout","cart_id":"c"}]"#,
        r#""Checkout""#,
        r#"{"type":"Checkout","cart_id":"c"} x"#,
        r#"{"type":"Checkout","cart_id":"c""#,
        "",
        "null",
        "{}",
        // A field named twice, read by the variant or not, with equal or
        // different values, spelled the same or through an escape.
        r#"{"type":"AddItem","cart_id":"c","cart_id":"d","item":"i","qty":1,"price":1}"#,
        r#"{"type":"Checkout","type":"Checkout","cart_id":"c"}"#,
        r#"{"type":"Checkout","cart_id":"c","cart_id":"c"}"#,
        r#"{"type":"Checkout","cart_id":"c","item":"x","item":"y"}"#,
        r#"{"type":"Checkout","cart_id":"c","extra":1,"extra":{"a":2}}"#,
        r#"{"type":"Checkout","cart_id":"c","typ\u0065":"Checkout"}"#,
        r#"{"type":"Pay","cart_id":"c","cart_id":"c"}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"i","qty":0,"qty":0,"price":1}"#,
        // A name twice in a nested object is not a field of the event.
        r#"{"type":"Checkout","cart_id":"c","extra":{"a":1,"a":2}}"#,
        r#"[{"type":"Checkout"},{"type":"Checkout","type":"Checkout"}]"#,
        // Lone surrogate escapes, in a field the event reads or not, at any
        // depth; a surrogate pair is fine.
        r#"{"type":"Checkout","cart_id":"\ud800"}"#,
        r#"{"type":"Checkout","cart_id":"c","extra":"\ud800"}"#,
        r#"{"type":"Checkout","cart_id":"c","extra":"\udc00x"}"#,
        r#"{"type":"Checkout","cart_id":"c","extra":["\ud83d"]}"#,
        r#"{"type":"Checkout","cart_id":"c","\ud800":1}"#,
        r#"{"type":"Checkout","cart_id":"c","extra":"\ud83d\ude00"}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"\udfff","qty":1,"price":1}"#,
        r#""\ud800""#,
        // Numbers out of range, even where no event reads them.
        r#"{"type":"Checkout","cart_id":"c","extra":1e999}"#,
        r#"{"type":"Checkout","cart_id":"c","extra":{"x":[-1e400]}}"#,
        r#"{"type":"AddItem","cart_id":"c","item":"i","qty":1,"price":1e999}"#,
        // Both at once, and either with an error of another kind: not JSON
        // comes first.
        r#"{"type":"Checkout","cart_id":"c","cart_id":"d","extra":"\ud800"}"#,
        r#"{"type":"Checkout","cart_id":"c","cart_id":"d","extra":1e999}"#,
        r#"{"type":"Checkout","cart_id":"c","cart_id":"d"} x"#,
        r#"{"type":"Checkout","cart_id":"c","cart_id":"d""#,
        r#"{"type":"Pay","cart_id":"c","extra":"\ud800"}"#,
        r#"{"type":"Checkout","cart_id":"","extra":"\ud800"}"#,
        r#"["Checkout","\ud800"]"#,
        r#"[1e999]"#,
    ];
    let failures: Vec<String> = cases.iter().filter_map(|json| agree(json).err()).collect();
    assert!(failures.is_empty(), "{} of {} cases disagree:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "AddItem",
            "RemoveItem",
            "Checkout",
            "Pay",
            "c",
            "",
            "i\\u0041",
            "cart-1",
            "\\ud800"
        ])
        .prop_map(|s| format!("\"{s}\"")),
        prop::sample::select(vec![
            "0",
            "1",
            "2",
            "-1",
            "4294967295",
            "4294967296",
            "9.99",
            "1.001",
            "1e3",
            "2.0",
            "1e999",
            "-0",
            "-0.0",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "1000000",
            "1000000.01",
            "0.1e1",
            "9.990000000000000001",
            "9.999999999999999",
            "19.990000000000002",
            "1e-400",
            "-1e-400",
            "0.0999E+2",
            "1E2",
            "100000000e-2"
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec!["null", "true", "[]", "{}", "[1,\"a\"]", "{\"a\":1,\"a\":2}"])
            .prop_map(str::to_string),
    ]
}

/// Objects of up to 6 fields drawn with replacement, so that fields named
/// twice are common.
fn object() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec!["type", "cart_id", "item", "qty", "price", "extra"]);
    prop::collection::vec((key, value()), 0..7).prop_map(|fields| {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

/// Objects with every field of their `type`, in reverse order, so that most
/// are events.
fn event_object() -> impl Strategy<Value = String> {
    (0..3usize, value(), value(), value(), value(), any::<bool>()).prop_map(|(kind, cart, item, qty, price, extra)| {
        let kind = ["AddItem", "RemoveItem", "Checkout"][kind];
        let mut fields = vec![format!("\"type\":\"{kind}\""), format!("\"cart_id\":{cart}")];
        if kind != "Checkout" || extra {
            fields.push(format!("\"item\":{item}"));
        }
        if kind == "AddItem" || extra {
            fields.push(format!("\"qty\":{qty}"));
            fields.push(format!("\"price\":{price}"));
        }
        fields.reverse();
        format!("{{{}}}", fields.join(","))
    })
}

/// 2,000 cases whatever `PROPTEST_CASES` says (the `proptest!` macro
/// would let the variable override a count set in code): decoding is cheap.
#[test]
fn random_objects_decode_as_the_reference_does() {
    let config = crate::support::proptest_config("proptest-regressions/decoder.txt");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 2000, ..config });
    runner.run(&prop_oneof![object(), event_object()], |json| agree(&json).map_err(TestCaseError::fail)).unwrap();
}

/// The decoder and the model decide deep nesting alike, at every depth
/// around the limit and wherever the deep value sits.
#[test]
fn deep_nesting_is_decided_alike_by_the_decoder_and_the_model() {
    use event_sourced_cart::domain::{Domain, HistoryRecord};
    use event_sourced_cart::record::Position;
    for depth in 120..=135 {
        let deep = |open: &str, close: &str| format!("{}{}", open.repeat(depth), close.repeat(depth));
        for field in ["x", "qty", "item"] {
            for value in [deep("[", "]"), deep("{\"a\":", "}").replace(":}", ":1}")] {
                let json = format!(r#"{{"type":"Checkout","cart_id":"a","{field}":{value}}}"#);
                let decoded = parse_event(&json).is_ok();
                let record = HistoryRecord { key: Some("a".into()), value: json.clone() };
                let model = Cart.model(&[(Position { partition: 0, offset: 0 }, record)]);
                assert_eq!(decoded, model.rejected.is_empty(), "depth {depth}, field {field}: {json:.60}…");
            }
        }
    }
}
