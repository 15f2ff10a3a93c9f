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
/// that boots at once is one more call against that quota. Two retries, each after a
/// full-jitter wait of up to half of five sixths of what is `left` of the run (12.5 s of a
/// 30 s run), win a token more often and with fewer calls than the SDK's quick ones (up to 1 s,
/// then 2 s): scripts/fleet measures both, docs/fleet.md has the numbers. The waits end before
/// the deadline, so a run that stays throttled ends with ECR's own error. Other errors keep the
/// SDK's 1 s base: a server error or a dropped connection is not the quota.
fn spread_retries(left: Duration) -> RetryConfig {
    let wait = left * 5 / 12;
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(wait)
        .with_max_backoff(wait)
        .with_retry_spec(
            RetrySpec::v2_0().with_non_throttling_initial_backoff(Duration::from_secs(1)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(left: Duration, wait: Duration) {
        let config = spread_retries(left);
        assert_eq!(config.max_attempts(), 3);
        // The SDK waits a random fraction of min(initial × 2^(retry − 1), max) before a retry.
        let longest =
            |retry: u32| (config.initial_backoff() * 2u32.pow(retry - 1)).min(config.max_backoff());
        assert_eq!((longest(1), longest(2)), (wait, wait), "{left:?}");
        assert!(
            longest(1) + longest(2) < left,
            "the waits pass the deadline"
        );
        let non_throttling = config
            .retry_spec()
            .map(RetrySpec::non_throttling_initial_backoff);
        assert_eq!(non_throttling, Some(Duration::from_secs(1)));
    }

    #[test]
    fn throttled_retries_wait_up_to_half_of_five_sixths_of_what_is_left() {
        let secs = Duration::from_secs;
        check(secs(30), Duration::from_millis(12_500));
        check(secs(12), secs(5));
        check(secs(54), Duration::from_millis(22_500));
        check(Duration::from_millis(2400), secs(1));
        let spent = spread_retries(Duration::ZERO);
        assert_eq!(
            (spent.initial_backoff(), spent.max_backoff()),
            (Duration::ZERO, Duration::ZERO)
        );
    }
}
