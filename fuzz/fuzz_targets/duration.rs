//! Go durations: parsing any text never panics, and every duration formats as text that parses
//! again (up to Go's largest, an int64 of nanoseconds).
#![no_main]

use std::time::Duration;

use ecr_credential_provider::fuzzing::duration;
use libfuzzer_sys::fuzz_target;

const PARSEABLE: Duration = Duration::from_nanos(i64::MAX.unsigned_abs() + 1);

fuzz_target!(|input: (&str, u64, u32)| {
    let (text, secs, nanos) = input;
    if let Ok(parsed) = duration::parse(text)
        && parsed < PARSEABLE
    {
        let formatted = duration::format(parsed);
        assert!(
            duration::parse(&formatted).is_ok(),
            "{text:?} → {formatted:?}"
        );
    }
    let any = Duration::new(secs, nanos % 1_000_000_000);
    let formatted = duration::format(any);
    if any < PARSEABLE {
        assert!(
            duration::parse(&formatted).is_ok(),
            "{any:?} → {formatted:?}"
        );
    }
});
