//! AWS error answers: whatever the code, message and body, what the process repeats is one
//! bounded line with nothing a terminal would act on.
#![no_main]

use ecr_credential_provider::fuzzing::aws::code_and_message;
use ecr_credential_provider::fuzzing::sanitize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Option<&str>, Option<&str>, &[u8])| {
    let (code, message, body) = input;
    let (code, message) = code_and_message(code, message, body);
    for text in [&code, &message] {
        assert!(!sanitize::has_unsafe_characters(text), "{text:?}");
        assert!(text.chars().count() <= sanitize::MAX_MESSAGE_CHARS + 1);
    }
});
