//! GetAuthorizationToken, on ECR or ECR Public: the one call the kubelet path makes.

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_ecr::operation::RequestId;
use aws_smithy_types::retry::{RetryConfig, RetrySpec};

use super::attempts::AttemptRecorder;
use super::failure::AwsError;
use super::session::{Api, Session};
use crate::secret::Secret;

#[derive(Debug)]
pub(crate) struct AuthorizationData {
    pub(crate) token: Secret,
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) proxy_endpoint: Option<String>,
    pub(crate) request_id: Option<String>,
}

impl Session {
    /// GetAuthorizationToken on the registry's API, its retries over before the run's deadline.
    /// Returns the token and how long the call took.
    pub(crate) async fn authorization_token(
        &self,
    ) -> Result<(AuthorizationData, Duration), AwsError> {
        self.authorization_token_by(self.deadline).await
    }

    /// As `authorization_token`, its retries over before `deadline` (a `check` step's).
    pub(crate) async fn authorization_token_by(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<(AuthorizationData, Duration), AwsError> {
        let service = self.service_name();
        self.progress.step(format!(
            "{service} GetAuthorizationToken in {}",
            self.region
        ));
        let started = Instant::now();
        let call_failed = |failure| AwsError::Call {
            service,
            region: self.region.clone(),
            credential_source: self.credential_source.clone(),
            failure,
            endpoint_override: self.endpoint_override(),
        };
        let empty = |what| AwsError::EmptyReply {
            service,
            region: self.region.clone(),
            what,
        };
        let retry = self.token_retry(deadline);
        // (token, expiry, proxy endpoint) of the first authorization data, if any.
        let (request_id, fields) = match &self.api {
            Api::Private { .. } => {
                let client =
                    aws_sdk_ecr::Client::from_conf(self.ecr_config().retry_config(retry).build());
                self.connect_ahead(&client).await;
                let output = client
                    .get_authorization_token()
                    .send()
                    .await
                    .map_err(|error| call_failed(self.failure(&error)))?;
                let fields = output.authorization_data().first().map(|data| {
                    let proxy_endpoint = data.proxy_endpoint().map(str::to_owned);
                    (
                        data.authorization_token().map(str::to_owned),
                        data.expires_at().copied(),
                        proxy_endpoint,
                    )
                });
                (output.request_id().map(str::to_owned), fields)
            }
            Api::Public => {
                let config = aws_sdk_ecrpublic::config::Builder::from(&self.sdk)
                    .interceptor(AttemptRecorder(self.progress.clone()))
                    .retry_classifier(crate::net::limits::NoRetryWhenTooLarge)
                    .retry_config(retry)
                    .build();
                let output = aws_sdk_ecrpublic::Client::from_conf(config)
                    .get_authorization_token()
                    .send()
                    .await
                    .map_err(|error| call_failed(self.failure(&error)))?;
                let fields = output.authorization_data().map(|data| {
                    (
                        data.authorization_token().map(str::to_owned),
                        data.expires_at().copied(),
                        None,
                    )
                });
                (output.request_id().map(str::to_owned), fields)
            }
        };
        let (token, expires_at, proxy_endpoint) =
            fields.ok_or_else(|| empty("authorization data"))?;
        let data = AuthorizationData {
            token: Secret::new(token.ok_or_else(|| empty("an authorization token"))?),
            expires_at: expires_at.and_then(|at| SystemTime::try_from(at).ok()),
            proxy_endpoint,
            request_id,
        };
        Ok((data, started.elapsed()))
    }

    /// How the token call retries: `spread_retries` over what is left until `deadline`, unless
    /// the user chose otherwise (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE` or their profile keys).
    fn token_retry(&self, deadline: tokio::time::Instant) -> RetryConfig {
        match self.sdk.retry_config() {
            Some(chosen) if *chosen != RetryConfig::standard() => chosen.clone(),
            _ => spread_retries(deadline.saturating_duration_since(tokio::time::Instant::now())),
        }
    }
}

/// The token call's retries when ECR throttles it (issue 23). ECR allows GetAuthorizationToken
/// 20 times a second per account and region, with a burst of 200, and every retry of a fleet
/// that boots at once is one more call against that quota. Two retries after full-jitter waits
/// of up to a third, then up to two thirds, of five sixths of what is `left` of the run (8.3 s
/// and 16.7 s of a 30 s run) win a token more often and with fewer calls than the SDK's quick
/// ones (up to 1 s, then 2 s): scripts/fleet measures both, docs/fleet.md has the numbers. The
/// waits end before the deadline, so a run that stays throttled ends with ECR's own error.
/// Other errors keep the SDK's waits (a 1 s base, so up to 1 s then 2 s): a server error or a
/// dropped connection is not the quota.
fn spread_retries(left: Duration) -> RetryConfig {
    let first = left * 5 / 18;
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(first)
        // The second throttled wait doubles the first; 2 s keeps the other errors' second wait.
        .with_max_backoff((first * 2).max(Duration::from_secs(2)))
        .with_retry_spec(
            RetrySpec::v2_0().with_non_throttling_initial_backoff(Duration::from_secs(1)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest wait before `retry` (1 or 2): the SDK waits a random fraction of
    /// min(base × 2^(retry − 1), max backoff).
    fn longest(config: &RetryConfig, base: Duration, retry: u32) -> Duration {
        (base * 2u32.pow(retry - 1)).min(config.max_backoff())
    }

    #[track_caller]
    fn check(left: Duration, first: Duration) {
        let config = spread_retries(left);
        assert_eq!(config.max_attempts(), 3);
        let throttled = config.initial_backoff();
        let waits = (
            longest(&config, throttled, 1),
            longest(&config, throttled, 2),
        );
        assert_eq!(waits, (first, first * 2), "{left:?}");
        assert!(waits.0 + waits.1 < left, "the waits pass the deadline");
        let other = config
            .retry_spec()
            .map(RetrySpec::non_throttling_initial_backoff)
            .unwrap_or_default();
        let secs = Duration::from_secs;
        let waits = (longest(&config, other, 1), longest(&config, other, 2));
        assert_eq!(waits, (secs(1), secs(2)), "other errors, {left:?}");
    }

    #[test]
    fn throttled_retries_wait_a_third_then_two_thirds_of_five_sixths_of_what_is_left() {
        let secs = Duration::from_secs;
        check(secs(36), secs(10));
        check(secs(54), secs(15));
        check(Duration::from_millis(3600), secs(1));
        check(Duration::from_millis(1800), Duration::from_millis(500));
        let spent = spread_retries(Duration::ZERO);
        assert_eq!(spent.initial_backoff(), Duration::ZERO);
    }
}
