//! The frame decoder: `protocol::parse` of a text frame as a customer frame
//! and as an agent frame, on any UTF-8 text (the transport closes 1007 on
//! anything else, so non-UTF-8 input is skipped).
//!
//! Beyond "no panic":
//! - a frame that parses survives the JSON round trip that followers use to
//!   forward it to the matcher node (serialize, parse again: the same frame,
//!   but for the last bits of a float in `metadata`: serde_json's default
//!   float parser is not exact, see `same`);
//! - a frame that does not parse gets an `error` frame that is valid JSON and
//!   echoes the frame's `client_msg_id` (when it is a string) as `ref`.
//!
//! The field checks the session applies next (`session::validate`) are
//! private to the session module and reachable only through a live
//! WebSocket, so they are not fuzzed here.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use switchboard::protocol::{AgentFrame, CustomerFrame, error_frame, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check::<CustomerFrame>(text);
    check::<AgentFrame>(text);
});

fn check<F: Serialize + DeserializeOwned + PartialEq + Debug>(text: &str) {
    match parse::<F>(text) {
        Ok(frame) => {
            let json = serde_json::to_string(&frame).expect("a parsed frame serializes");
            match parse::<F>(&json) {
                Ok(again) if again == frame => {}
                Ok(again) => {
                    let (a, b) = (to_value(&frame), to_value(&again));
                    assert!(
                        same(&a, &b),
                        "round trip through {json}: {frame:?} -> {again:?}"
                    );
                }
                Err(e) => panic!("{json} (serialized from {frame:?}) does not parse: {e:?}"),
            }
        }
        Err(e) => {
            let expected = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("client_msg_id")?.as_str().map(str::to_owned));
            assert_eq!(e.reference.as_deref(), expected.as_deref(), "ref of {text}");
            let rendered = error_frame(&e.error, e.reference.as_deref());
            let v: Value = serde_json::from_str(&rendered).expect("the error frame is JSON");
            assert_eq!(v["type"], "error", "{rendered}");
            assert_eq!(v["ref"].as_str(), expected.as_deref(), "{rendered}");
        }
    }
}

fn to_value<F: Serialize>(frame: &F) -> Value {
    serde_json::to_value(frame).expect("a parsed frame is a JSON value")
}

/// Equal, but for floats a few units in the last place apart: without its
/// `float_roundtrip` feature serde_json parses some floats (long mantissas,
/// large exponents) to a neighbour of the nearest double, so a float that
/// went through one JSON hop may come back one or two bits off.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs()),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
