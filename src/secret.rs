//! A string that must never be printed: passwords, ECR tokens, service-account tokens, keys.
//! `Debug` and `Display` redact; the only way to the value is `expose`, used where the value
//! is sent somewhere on purpose (the response on stdout, an AWS request). Each value is also
//! remembered by `sanitize`, which scrubs it from any text the process repeats.

use std::fmt;

use crate::sanitize::REDACTED;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::sanitize::remember_secret(&value);
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&secret)), format!("Some({REDACTED})"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
