//! The writer behind every trace line: each event becomes one line with every secret the
//! process knows scrubbed and nothing a terminal would act on; the SDK's own events also lose
//! the Debug dumps its error context appends (a raw HTTP response, 1,800 characters) and are
//! bounded (issue 10). Formatting stays with `trace`; this only sees the finished text.

use std::io::{self, Write};

use tracing::Metadata;
use tracing_subscriber::fmt::MakeWriter;

use crate::sanitize;

/// One of our events, all fields included, fits easily.
const MAX_OWN_CHARS: usize = 4000;
/// An SDK warning says what failed in a sentence; the rest was a dump.
const MAX_SDK_CHARS: usize = 300;

/// Stderr, one sanitised line per event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SafeStderr {
    pub(crate) json: bool,
}

impl<'a> MakeWriter<'a> for SafeStderr {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.writer(false)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.writer(!meta.target().starts_with(env!("CARGO_CRATE_NAME")))
    }
}

impl SafeStderr {
    fn writer(self, sdk: bool) -> EventWriter {
        EventWriter {
            buffer: Vec::new(),
            json: self.json,
            sdk,
        }
    }
}

/// Collects one event's text and writes it, cleaned, when dropped.
pub(crate) struct EventWriter {
    buffer: Vec<u8>,
    json: bool,
    sdk: bool,
}

impl Write for EventWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let mut line = clean_event(&text, self.json, self.sdk);
        line.push('\n');
        // Nothing more can be done if stderr is gone.
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Where the SDK's debug dump begins in `text`: `DisplayErrorContext` ends with ` (Debug of the
/// error)`, whose first type name (a run of word characters with a capital letter) is followed by
/// `(` or ` {`; a `credential_process` failure quotes the helper's stderr after `. Stderr:`,
/// which may hold anything. The earliest of the two marks.
fn debug_dump_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let is_word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    (0..bytes.len()).find(|&at| {
        let rest = &bytes[at..];
        if rest.starts_with(b". Stderr:") {
            return true;
        }
        let Some(after) = rest.strip_prefix(b" (") else {
            return false;
        };
        let name_len = after.iter().take_while(|b| is_word(b)).count();
        let (name, next) = after.split_at(name_len);
        name.iter().any(u8::is_ascii_uppercase)
            && (next.starts_with(b"(") || next.starts_with(b" {"))
    })
}

fn clean_value(text: &str, sdk: bool, escape: bool) -> String {
    let mut text = sanitize::scrub(text);
    if sdk && let Some(start) = debug_dump_start(&text) {
        text.truncate(start);
    }
    if escape {
        text = sanitize::escape(&text);
    }
    sanitize::bounded(&text, if sdk { MAX_SDK_CHARS } else { MAX_OWN_CHARS })
}

/// One event's formatted text → one safe line, without the newline.
pub(crate) fn clean_event(text: &str, json: bool, sdk: bool) -> String {
    let text = text.trim_end_matches(['\n', '\r']);
    if json && let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) {
        clean_json(&mut value, sdk);
        return value.to_string();
    }
    clean_value(text, sdk, true)
}

fn clean_json(value: &mut serde_json::Value, sdk: bool) {
    match value {
        serde_json::Value::String(text) => *text = clean_value(text, sdk, false),
        serde_json::Value::Array(items) => {
            for item in items {
                clean_json(item, sdk);
            }
        }
        serde_json::Value::Object(fields) => {
            for item in fields.values_mut() {
                clean_json(item, sdk);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand search against the pattern it stands for.
    #[test]
    fn the_debug_dump_is_found_where_the_pattern_finds_it() {
        let pattern =
            regex::Regex::new(r" \([A-Za-z0-9_]*[A-Z][A-Za-z0-9_]*(\(| \{)|\. Stderr:").unwrap();
        let pieces = [
            "a",
            " (",
            "(",
            " {",
            "{",
            "Dump",
            "dump",
            "_X9",
            "x_y",
            ". Stderr:",
            ". stderr:",
            ".",
            " ",
            "é",
            "Ok",
            ")",
        ];
        let mut texts = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let text = format!("{a}{b}{c}{d}");
                        let expected = pattern.find(&text).map(|found| found.start());
                        assert_eq!(debug_dump_start(&text), expected, "{text:?}");
                        texts += 1;
                    }
                }
            }
        }
        assert_eq!(texts, pieces.len().pow(4));
    }

    #[test]
    fn sdk_warnings_lose_their_debug_dump_and_stay_one_line() {
        let event = "WARN provider failed to provide credentials provider=Ec2 error=an error occurred: failed to load (ProviderError(ProviderError { source: DispatchFailure(DispatchFailure { source: ConnectorError { kind: Other, source: Response { status: 200,\n body: \"...\" } } }) }))\n";
        assert_eq!(
            clean_event(event, false, true),
            "WARN provider failed to provide credentials provider=Ec2 error=an error occurred: failed to load"
        );
        assert_eq!(
            clean_event(&format!("a\n{}", "x".repeat(5000)), false, true)
                .chars()
                .count(),
            MAX_SDK_CHARS + 1
        );
        assert_eq!(
            clean_event("DEBUG ours (Kept(x)) a\u{1b}b\n", false, false),
            "DEBUG ours (Kept(x)) a\\u{1b}b"
        );
    }

    #[test]
    fn json_events_stay_json_with_each_string_cleaned() {
        crate::sanitize::remember_secret("safe-log-test-secret");
        let event =
            r#"{"level":"WARN","error":"x (Dump { a: 1 })","token":"safe-log-test-secret"}"#;
        let cleaned: serde_json::Value =
            serde_json::from_str(&clean_event(event, true, true)).unwrap();
        assert_eq!(cleaned["error"], "x");
        assert_eq!(cleaned["token"], crate::sanitize::REDACTED);
    }
}
