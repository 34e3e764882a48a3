//! Agent messages that ask for a secret: `secrets::asks_for_secret` on any
//! text (bytes made text by `from_utf8_lossy`, so every input is used).
//!
//! Beyond "no panic": the verdict is judged sentence by sentence, so a
//! harmless sentence before the message changes nothing, and a message that
//! asks keeps asking whatever sentence follows it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::secrets::asks_for_secret;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let verdict = asks_for_secret(&text);
    // Deterministic.
    assert_eq!(asks_for_secret(&text), verdict);
    let after_greeting = format!("Hello, this is support.\n{text}");
    assert_eq!(
        asks_for_secret(&after_greeting),
        verdict,
        "{after_greeting:?}"
    );
    // A request stays a request whatever follows in another sentence.
    if verdict.is_some() {
        let longer = format!("{text}\nNever share your seed phrase with anyone.");
        assert!(asks_for_secret(&longer).is_some(), "{longer:?}");
    }
});
