//! ECR authorization data → registry credentials and how long the kubelet may cache them.
//! Pure: `now` is passed in, never read here.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::secret::Secret;

#[derive(Debug)]
pub struct RegistryLogin {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The field the whole exchange is for was missing or empty.
    #[error("the authorization token in the response is empty")]
    Empty,
    #[error("the authorization token in the response is not valid base64")]
    NotBase64,
    #[error("the decoded authorization token is not UTF-8 text")]
    NotUtf8,
    /// Upstream's "error parsing username and password from authorization token".
    #[error("the decoded authorization token is not of the form user:password")]
    NoSeparator,
    #[error("the decoded authorization token has an empty user name or password")]
    EmptyPart,
}

/// Decodes ECR's `authorizationToken` (base64 of `AWS:<password>`), split at the first `:`.
pub fn decode(authorization_token: &Secret) -> Result<RegistryLogin, TokenError> {
    let encoded = authorization_token.expose().trim();
    if encoded.is_empty() {
        return Err(TokenError::Empty);
    }
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| TokenError::NotBase64)?;
    let text = String::from_utf8(bytes).map_err(|_| TokenError::NotUtf8)?;
    let (username, password) = text.split_once(':').ok_or(TokenError::NoSeparator)?;
    if username.is_empty() || password.is_empty() {
        return Err(TokenError::EmptyPart);
    }
    Ok(RegistryLogin {
        username: username.to_owned(),
        password: Secret::new(password),
    })
}

/// Half the time left until `expires_at`, in whole seconds, as upstream computes it (the
/// other half absorbs the time between the token's creation and the kubelet's use of it).
///
/// Zero, meaning "do not cache", when `expires_at` is unknown or not in the future. Upstream
/// omits `cacheDuration` when the expiry is already past (a skewed clock), and the kubelet
/// then caches the dead token for `defaultCacheDuration`, often 12 hours.
///
/// At most `MAX_CACHE_DURATION`: the kubelet parses the value into Go's `time.Duration`, and
/// an absurd `expiresAt` (year 9999, 1e308) would otherwise give text it refuses (issue 10).
pub fn cache_duration(expires_at: Option<SystemTime>, now: SystemTime) -> Duration {
    let Some(left) = expires_at.and_then(|at| at.duration_since(now).ok()) else {
        return Duration::ZERO;
    };
    Duration::from_secs(left.as_secs() / 2).min(MAX_CACHE_DURATION)
}

/// The longest whole-second duration Go's `time.Duration` (int64 nanoseconds) holds:
/// 2562047h47m16s.
pub const MAX_CACHE_DURATION: Duration = Duration::from_secs(i64::MAX as u64 / 1_000_000_000);

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str) -> Secret {
        Secret::new(STANDARD.encode(text))
    }

    #[test]
    fn decodes_user_and_password_at_the_first_colon() {
        let creds = decode(&token("AWS:pass:with:colons")).unwrap();
        assert_eq!(creds.username, "AWS");
        assert_eq!(creds.password.expose(), "pass:with:colons");
    }

    #[test]
    fn rejects_tokens_that_would_give_useless_credentials() {
        let table = [
            (Secret::new(""), TokenError::Empty),
            (Secret::new("   "), TokenError::Empty),
            (Secret::new("not base64!"), TokenError::NotBase64),
            (Secret::new("QVdTOnBhc3M"), TokenError::NotBase64), // padding missing, as Go's StdEncoding
            (
                Secret::new(STANDARD.encode([0xff, 0xfe, b':', b'x'])),
                TokenError::NotUtf8,
            ),
            (token("AWSpassword"), TokenError::NoSeparator),
            (token(":password"), TokenError::EmptyPart),
            (token("AWS:"), TokenError::EmptyPart),
        ];
        for (input, expected) in table {
            assert_eq!(decode(&input).unwrap_err(), expected);
        }
    }

    #[test]
    fn cache_duration_is_half_the_time_left() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let table = [
            (
                Some(now + Duration::from_secs(12 * 3600)),
                Duration::from_secs(6 * 3600),
            ),
            (Some(now + Duration::from_secs(3)), Duration::from_secs(1)),
            (Some(now + Duration::from_millis(1999)), Duration::ZERO),
            (Some(now), Duration::ZERO),
            (Some(now - Duration::from_secs(3600)), Duration::ZERO),
            (None, Duration::ZERO),
            (
                Some(now + Duration::from_secs(2 * MAX_CACHE_DURATION.as_secs() + 2)),
                MAX_CACHE_DURATION,
            ),
            (
                Some(now + Duration::from_secs(250_000_000_000)),
                MAX_CACHE_DURATION,
            ),
        ];
        for (expires_at, expected) in table {
            assert_eq!(cache_duration(expires_at, now), expected, "{expires_at:?}");
        }
        assert_eq!(
            crate::duration::format(MAX_CACHE_DURATION),
            "2562047h47m16s"
        );
    }
}
