//! GetAuthorizationToken, on ECR or ECR Public: the one call the kubelet path makes.

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_ecr::operation::RequestId;

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
    /// GetAuthorizationToken on the registry's API. Returns the token and how long the call took.
    pub(crate) async fn authorization_token(
        &self,
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
        // (token, expiry, proxy endpoint) of the first authorization data, if any.
        let (request_id, fields) = match &self.api {
            Api::Private { .. } => {
                let client = self.ecr();
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
}
