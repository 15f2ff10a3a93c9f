//! ECR tokens and expiries: any token text decodes or is refused, and any `expiresAt` gives a
//! cacheDuration the kubelet (Go's time.Duration) can parse. Each input's secrets are
//! forgotten before the next: a run knows only its own, and the list would otherwise grow
//! with every input (and each `Secret::new` search it).
#![no_main]

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use ecr_credential_provider::fuzzing::secret::Secret;
use ecr_credential_provider::fuzzing::{duration, sanitize, token};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, f64, u32)| {
    let (text, expires_at, now_secs) = input;
    sanitize::forget_secrets();
    if let Ok(login) = token::decode(&Secret::new(text)) {
        assert!(!login.username.is_empty() && !login.password.expose().is_empty());
    }
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(now_secs));
    let expires_at = SystemTime::try_from(DateTime::from_secs_f64(expires_at)).ok();
    let cached = token::cache_duration(expires_at, now);
    assert!(cached <= token::MAX_CACHE_DURATION);
    if let Some(at) = expires_at {
        assert!(now + cached <= at || cached.is_zero());
    }
    let _ = duration::format(cached);
    // The token, and the password decoded from it.
    assert!(sanitize::remembered_secrets() <= 2);
});
