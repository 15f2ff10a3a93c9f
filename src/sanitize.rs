//! Text that came from elsewhere (the request, a server, a file, the SDK) made safe to repeat:
//! bounded, one line, control and bidi characters escaped, and every secret the process knows
//! replaced. Errors and traces pass what they echo through here; `Secret::new` registers each
//! secret, so "the secrets the process knows" needs no list kept by hand (issue 10). An error's
//! chain of sources is said here too (`error_chain`), and searched by type (`find_source`), for
//! the transport and the AWS calls alike.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

/// What a secret is shown as, wherever it would have been.
pub(crate) const REDACTED: &str = "** redacted **";
/// How much of a value taken from elsewhere is repeated: an ARN, a code, a path, a host.
pub(crate) const MAX_VALUE_CHARS: usize = 200;
/// An AWS error message explains the denial (which action, which policy); 200 characters would
/// cut that in the middle, so messages keep a little more.
pub const MAX_MESSAGE_CHARS: usize = 400;
/// Shorter strings are not scrubbed: replacing "AWS" or "1" everywhere would say nothing.
const MIN_SECRET_CHARS: usize = 6;

/// The secrets the process knows. A run handles one request, so the list only grows.
static SECRETS: Secrets = Secrets::new();

struct Secrets(Mutex<Vec<String>>);

impl Secrets {
    const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    fn list(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remember(&self, value: &str) {
        let value = value.trim();
        if value.chars().count() < MIN_SECRET_CHARS {
            return;
        }
        let mut secrets = self.list();
        if !secrets.iter().any(|known| known == value) {
            // Longest first: a secret that holds another (a proxy's user:password holds its
            // password) is replaced whole, not around the shorter one.
            let at = secrets.partition_point(|known| known.len() >= value.len());
            secrets.insert(at, value.to_owned());
        }
    }

    fn scrub(&self, text: &str) -> String {
        let secrets = self.list();
        let mut text = text.to_owned();
        for secret in secrets.iter() {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), REDACTED);
            }
        }
        text
    }
}

/// Remembers `value` so that `scrub` replaces it wherever it shows up later.
pub(crate) fn remember_secret(value: &str) {
    SECRETS.remember(value);
}

/// Forgets every secret remembered so far: for a process that handles one unrelated input
/// after another, as a fuzz target does, where the list would otherwise grow with each. A
/// run of the program never calls it.
#[doc(hidden)]
pub fn forget_secrets() {
    SECRETS.list().clear();
}

/// How many secrets the process remembers (see `forget_secrets`).
#[doc(hidden)]
pub fn remembered_secrets() -> usize {
    SECRETS.list().len()
}

/// Remembers the secrets the environment hands the process: keys and tokens (a proxy URL's
/// credentials are `net::proxy::remember_environment_credentials`'s). `app::main` calls it
/// first, before any message can be written.
pub(crate) fn remember_environment_secrets(env: impl Fn(&str) -> Option<String>) {
    for key in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    ] {
        if let Some(value) = env(key) {
            remember_secret(&value);
        }
    }
}

/// Where a URL's user:password is (RFC 3986 userinfo), found so as to hide the most: everything
/// between `scheme://` (or the start, when there is no scheme) and the last `@`, whatever else
/// the text holds. An unencoded `/`, `?` or `#` in a password ends a URL's authority early, so
/// a parser would find no `@` there; this never misses it. `(before, userinfo, after)`.
pub(crate) fn split_userinfo(url: &str) -> Option<(&str, &str, &str)> {
    let start = url.find("://").map_or(0, |at| at + 3);
    let at = url[start..].rfind('@')? + start;
    Some((&url[..start], &url[start..at], &url[at + 1..]))
}

/// `url` with its user:password (see `split_userinfo`) shown as `***`.
pub(crate) fn without_userinfo(url: &str) -> String {
    match split_userinfo(url) {
        Some((before, _, after)) => format!("{before}***@{after}"),
        None => url.to_owned(),
    }
}

/// Whether an environment variable's name says its value is a credential: a token, secret,
/// password, private or API key (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`; not `AWS_ACCESS_KEY_ID`, which names the key), unless it
/// names a file that holds one (`AWS_WEB_IDENTITY_TOKEN_FILE`).
pub(crate) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    !upper.ends_with("_FILE")
        && [
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "PRIVATE_KEY",
            "API_KEY",
            "APIKEY",
        ]
        .iter()
        .any(|word| upper.contains(word))
}

/// An environment variable's value as a config's `env` is echoed (`config check --image`,
/// `check --config`): a credential redacted, a URL's user:password masked (a proxy variable's
/// even without a scheme), and secrets the process knows scrubbed.
pub(crate) fn env_value(name: &str, value: &str) -> String {
    if is_secret_name(name) {
        return REDACTED.to_owned();
    }
    let proxy = name.to_ascii_uppercase().ends_with("_PROXY");
    if proxy || value.contains("://") {
        return scrub(&without_userinfo(value));
    }
    scrub(value)
}

/// `text` with every remembered secret replaced by the redaction marker.
pub(crate) fn scrub(text: &str) -> String {
    SECRETS.scrub(text)
}

/// Characters that can rewrite what a terminal or log viewer shows: C0/C1 controls (newline,
/// ESC), and the Unicode marks that reorder or hide text.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// A value for an error or a trace: secrets scrubbed, unsafe characters shown as escapes
/// (`\n`, `\u{1b}`), at most `MAX_VALUE_CHARS` characters and an ellipsis.
pub(crate) fn value(text: &str) -> String {
    bounded(&escape(&scrub(text)), MAX_VALUE_CHARS)
}

/// Free text (a server's message, an error chain): secrets scrubbed, unsafe characters and
/// runs of whitespace turned into single spaces, at most `MAX_MESSAGE_CHARS` characters.
pub(crate) fn message(text: &str) -> String {
    let flat: String = scrub(text)
        .chars()
        .map(|c| if is_unsafe(c) { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    bounded(&flat, MAX_MESSAGE_CHARS)
}

/// The first error of `E`'s type in `error`'s chain. An `io::Error` that wraps another error
/// is looked into: its `source()` skips the error it wraps (rustls' refusal of a certificate,
/// in a failed handshake), and goes on from that error's own source.
pub(crate) fn find_source<'a, E: StdError + 'static>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = match error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(wrapped) => Some(wrapped as &(dyn StdError + 'static)),
            None => error.source(),
        };
    }
    None
}

/// An error and its sources, each said once: `a: b: c`.
pub(crate) fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !text.is_empty() && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    message(&parts.join(": "))
}

/// The final safeguard before stderr: scrubbed, and nothing a terminal would act on. Parts were
/// bounded where they were made; this keeps whatever slipped through on one line.
pub(crate) fn last_line(text: &str) -> String {
    escape(&scrub(text))
}

/// Unsafe characters as Rust-style escapes; everything else as it is.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The first `max` characters of `text`, and `…` if there were more.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Whether `text` has a character that `value` would escape.
pub fn has_unsafe_characters(text: &str) -> bool {
    text.chars().any(is_unsafe)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rustls' refusal reaches the caller inside an `io::Error`, whose `source()` skips it.
    #[test]
    fn find_source_looks_inside_an_io_error() {
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::other(refused.clone());
        assert!(io.source().is_none());
        let outer: Box<dyn StdError + Send + Sync> = Box::new(io);
        assert_eq!(find_source::<rustls::Error>(outer.as_ref()), Some(&refused));
        assert!(find_source::<std::fmt::Error>(outer.as_ref()).is_none());
    }

    /// On a list of its own: the process's list is shared by every test running at once.
    #[test]
    fn a_cleared_list_scrubs_nothing_and_takes_secrets_again() {
        let secrets = Secrets::new();
        secrets.remember("hunter2-password");
        secrets.remember("hunter2-password");
        secrets.remember("short");
        assert_eq!(secrets.list().len(), 1);
        assert_eq!(
            secrets.scrub("pw=hunter2-password"),
            format!("pw={REDACTED}")
        );
        secrets.list().clear();
        assert_eq!(secrets.scrub("pw=hunter2-password"), "pw=hunter2-password");
        secrets.remember("another-secret");
        assert_eq!(secrets.scrub("another-secret"), REDACTED);
    }

    #[test]
    fn values_are_escaped_and_bounded() {
        assert_eq!(value("a\nb\u{1b}[31mc"), "a\\nb\\u{1b}[31mc");
        assert_eq!(value("x\u{202e}y"), "x\\u{202e}y");
        let long = "é".repeat(10_000);
        assert_eq!(value(&long).chars().count(), MAX_VALUE_CHARS + 1);
        assert_eq!(value("arn:aws:iam::1:role/r"), "arn:aws:iam::1:role/r");
    }

    #[test]
    fn messages_are_one_bounded_line() {
        assert_eq!(message("a\nb\r\n\tc  d\u{1b}e"), "a b c d e");
        assert_eq!(
            message(&"x".repeat(100_000)).chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn the_environment_secrets_are_remembered() {
        remember_environment_secrets(|key| match key {
            "AWS_SESSION_TOKEN" => Some("env-session-token-0123".into()),
            _ => None,
        });
        assert_eq!(
            message("token env-session-token-0123"),
            format!("token {REDACTED}")
        );
    }

    #[test]
    fn userinfo_is_everything_up_to_the_last_at() {
        for (url, shown) in [
            ("http://user:pa/ss@host:3128", "http://***@host:3128"),
            ("http://user:pa#ss@host:3128", "http://***@host:3128"),
            ("http://user:pa?ss@host:3128/x", "http://***@host:3128/x"),
            ("http://user:p@ss@host:3128", "http://***@host:3128"),
            ("user:pass@host:3128", "***@host:3128"),
            ("https://host:3128/path", "https://host:3128/path"),
            ("http://user:s3cret@", "http://***@"),
        ] {
            assert_eq!(without_userinfo(url), shown, "{url}");
        }
    }

    #[test]
    fn env_values_hide_credentials_by_name_and_userinfo() {
        for (name, value, shown) in [
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", REDACTED),
            ("AWS_SESSION_TOKEN", "IQoJb3JpZ2lu", REDACTED),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer x", REDACTED),
            ("my_api_password", "hunter2", REDACTED),
            ("GITHUB_TOKEN", "ghp_x", REDACTED),
            ("TLS_PRIVATE_KEY", "-----BEGIN", REDACTED),
            (
                "AWS_ACCESS_KEY_ID",
                "AKIAIOSFODNN7EXAMPLE",
                "AKIAIOSFODNN7EXAMPLE",
            ),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "/var/run/token",
                "/var/run/token",
            ),
            (
                "HTTPS_PROXY",
                "http://u:pa/ss@proxy:3128",
                "http://***@proxy:3128",
            ),
            ("https_proxy", "u:pass@proxy:3128", "***@proxy:3128"),
            (
                "AWS_ENDPOINT_URL",
                "https://u:p@ecr.example",
                "https://***@ecr.example",
            ),
            ("AWS_REGION", "us-east-1", "us-east-1"),
        ] {
            assert_eq!(env_value(name, value), shown, "{name}={value}");
        }
    }

    #[test]
    fn remembered_secrets_are_scrubbed_and_short_ones_ignored() {
        remember_secret("sanitize-test-secret-0123");
        remember_secret("AWS");
        assert_eq!(
            message("key sanitize-test-secret-0123 for AWS"),
            format!("key {REDACTED} for AWS")
        );
        assert_eq!(
            value("\"sanitize-test-secret-0123\""),
            format!("\"{REDACTED}\"")
        );
    }
}
