//! `parse_event` reads well-formed events through a flat, borrowing fast
//! path and everything else through serde's internally tagged `CartEvent`:
//! the result (event or classified error) must be exactly the tagged enum's.

use event_sourced_cart::event::{CartEvent, DecodeError, DomainEvent, parse_event};
use proptest::prelude::*;

/// The reference: the tagged enum alone, as `parse_event` was before the fast path.
fn reference(json: &str) -> Result<DomainEvent, DecodeError> {
    let wire: CartEvent = serde_json::from_str(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DecodeError::NotAnEvent(e.to_string()),
        _ => DecodeError::NotJson(e.to_string()),
    })?;
    Ok(wire.validate()?)
}

#[test]
fn tricky_values_decode_as_the_tagged_enum_does() {
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
        r#"{"type":"AddItem","cart_id":"c","cart_id":"d","item":"i","qty":1,"price":1}"#,
        r#"{"type":"RemoveItem","cart_id":"c","item":"i","qty":"many"}"#,
        r#"{"type":"RemoveItem","cart_id":"c","item":"i","qty":3,"price":null}"#,
        r#"{"type":"RemoveItem","cart_id":"c"}"#,
        r#"{"type":"Checkout","cart_id":"c","item":5}"#,
        r#"{"type":"Checkout","cart_id":"c","item":"x","extra":{"a":[1,2]}}"#,
        r#"{"type":"Checkout","type":"Checkout","cart_id":"c"}"#,
        r#"{"type":"Pay","cart_id":"c"}"#,
        r#"{"type":5,"cart_id":"c"}"#,
        r#"["Checkout","c"]"#,
        r#"{"type":"Checkout","cart_id":"c"} x"#,
        r#"{"type":"Checkout","cart_id":"c""#,
        "",
        "null",
        "{}",
    ];
    for json in cases {
        assert_eq!(parse_event(json), reference(json), "{json}");
    }
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["AddItem", "RemoveItem", "Checkout", "Pay", "c", "", "i\\u0041", "cart-1"])
            .prop_map(|s| format!("\"{s}\"")),
        prop::sample::select(vec!["0", "1", "2", "-1", "4294967295", "4294967296", "9.99", "1.001", "1e3", "2.0"])
            .prop_map(str::to_string),
        prop::sample::select(vec!["null", "true", "[]", "{}", "[1,\"a\"]"]).prop_map(str::to_string),
    ]
}

fn object() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec!["type", "cart_id", "item", "qty", "price", "extra"]);
    prop::collection::vec((key, value()), 0..7).prop_map(|fields| {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

/// Well-formed events with shuffled fields, so that the fast path is taken.
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn random_objects_decode_as_the_tagged_enum_does(json in prop_oneof![object(), event_object()]) {
        prop_assert_eq!(parse_event(&json), reference(&json), "{}", json);
    }
}
