//! The ceiling on every HTTP answer the process reads: AWS calls, credential endpoints (IMDS,
//! container credentials) and the registry probe all go through `CappedConnector`, whose bodies
//! fail past `MAX_BODY_BYTES`. A real answer is a few kB; an endless or huge
//! one (a broken proxy, a hostile middlebox) becomes one error instead of an out-of-memory kill.

use std::fmt;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

/// GetAuthorizationToken answers with ~3 kB, STS with ~2 kB, IMDS with less: 1 MiB is far
/// beyond any of them and still small next to the process's own ~10 MB.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// The answer's body went past `MAX_BODY_BYTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyTooLarge;

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the answer is larger than {} MiB, far beyond any real answer (a proxy or middlebox in between?)",
            MAX_BODY_BYTES >> 20
        )
    }
}

impl std::error::Error for BodyTooLarge {}

/// Whether `error` or one of its sources is `BodyTooLarge`.
pub(crate) fn is_body_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<BodyTooLarge>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// A second attempt would only read as much again: an answer past the cap is not retried.
#[derive(Debug)]
pub(crate) struct NoRetryWhenTooLarge;

impl ClassifyRetry for NoRetryWhenTooLarge {
    fn classify_retry(&self, context: &InterceptorContext) -> RetryAction {
        match context.output_or_error() {
            Some(Err(error)) if is_body_too_large(error) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "NoRetryWhenTooLarge"
    }
}

/// Wraps a connector so that each response's body fails with `BodyTooLarge` past the cap.
/// The head is handed on at once (the run's progress knows the answer began); the body is
/// checked as the SDK reads it.
#[derive(Debug, Clone)]
pub(crate) struct CappedConnector<C>(pub C);

fn too_large(error: BoxError) -> BoxError {
    if error.is::<LengthLimitError>() {
        Box::new(BodyTooLarge)
    } else {
        error
    }
}

impl<C: HttpConnector + Clone + 'static> HttpConnector for CappedConnector<C> {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.0.clone();
        HttpConnectorFuture::new(async move {
            let response = inner.call(request).await?;
            Ok(response.map(|body| {
                SdkBody::from_body_1_x(
                    Limited::new(body, MAX_BODY_BYTES)
                        .map_err(too_large as fn(BoxError) -> BoxError),
                )
            }))
        })
    }
}

/// An SDK HTTP client whose every connector is capped: what the SDK is given, always, so that
/// its calls and its credential providers (IMDS, container credentials) share the ceiling.
#[derive(Debug)]
pub(crate) struct CappedClient(pub SharedHttpClient);

impl CappedClient {
    pub(crate) fn shared(inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Self(inner))
    }
}

impl HttpClient for CappedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CappedConnector(self.0.http_connector(settings, components)))
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_base_client_config(components, cfg)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}
