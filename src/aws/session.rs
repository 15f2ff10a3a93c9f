//! A session: the SDK's configuration loaded for one registry and the credentials resolved for
//! it, with the settings every call is made with (deadline, trust, proxies) and where the
//! calls go (ECR or ECR Public, FIPS, dual-stack, the user's endpoint). The calls themselves
//! are `authorization`'s and `probe`'s.

use std::error::Error as StdError;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::config::SharedCredentialsProvider;
use aws_sdk_ecr::config::timeout::TimeoutConfig;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};

use super::attempts::AttemptRecorder;
use super::credentials;
use super::failure::{AwsError, EndpointOverride, Failure};
use super::web_identity::WebIdentity;
use crate::deadline::Progress;
use crate::image::{PrivateEcr, RegistryHost, RegistryKind};
use crate::net::proxy::Proxies;
use crate::net::trust::Trust;

/// ECR Public has one API, in us-east-1 of the aws partition.
pub(crate) const ECR_PUBLIC_REGION: &str = "us-east-1";

/// How every AWS call is made.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Each attempt of a call gives up after this; the run's deadline bounds the whole.
    pub(crate) attempt_timeout: Duration,
    /// When the run gives up. A wait that is not an AWS call (the token cache's lock) stops
    /// well before it, so the call still has time.
    pub(crate) deadline: tokio::time::Instant,
    pub(crate) trust: Trust,
    pub(crate) proxies: Proxies,
}

/// Which API serves the registry, and where.
#[derive(Debug, Clone)]
pub(super) enum Api {
    Private { fips: bool, dual_stack: bool },
    Public,
}

/// Loaded configuration and resolved credentials for one registry.
pub(crate) struct Session {
    pub(super) sdk: SdkConfig,
    pub(super) api: Api,
    pub(super) progress: Progress,
    /// Where the credentials came from: the SDK provider's name, or the assumed role.
    pub(crate) credential_source: String,
    pub(crate) region: String,
    access_key_id: String,
    /// The SDK's HTTP client, for `connect_ahead`.
    http_client: crate::net::proxy::RoutingClient,
    timeouts: TimeoutConfig,
    /// When the run gives up: the token call's retries fit before it.
    pub(super) deadline: tokio::time::Instant,
}

impl Session {
    /// Loads the configuration for `registry`, then resolves credentials: the default chain,
    /// or the role `web_identity` names.
    pub(crate) async fn open(
        registry: &RegistryHost,
        web_identity: Option<&WebIdentity>,
        settings: &Settings,
        progress: &Progress,
    ) -> Result<Self, AwsError> {
        progress.step("checking the files the AWS SDK reads");
        crate::files::check_sdk_files().await?;
        progress.step("loading the AWS configuration");
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(settings.attempt_timeout.min(Duration::from_secs(5)))
            .operation_attempt_timeout(settings.attempt_timeout)
            .build();
        // Always our client, capped: the SDK's default one reads any body whole (issue 10).
        let http_client = settings.proxies.sdk_client(&settings.trust);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts.clone())
            .http_client(crate::net::limits::CappedClient::shared(
                http_client.shared(),
            ));
        let (api, region) = match &registry.kind {
            RegistryKind::Private(PrivateEcr {
                region,
                fips,
                dual_stack,
                ..
            }) => (
                Api::Private {
                    fips: *fips,
                    dual_stack: *dual_stack,
                },
                Some(region.clone()),
            ),
            RegistryKind::Public => (Api::Public, Some(ECR_PUBLIC_REGION.to_owned())),
            RegistryKind::Unrecognized => (
                Api::Private {
                    fips: false,
                    dual_stack: false,
                },
                None,
            ),
        };
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        } else {
            progress.step("looking up the default AWS region");
        }
        if web_identity.is_none()
            && let Some(credentials) = credentials::from_environment()
        {
            // The default chain tries the environment first, and building the rest of it costs
            // a tenth of a run's CPU (an STS client for web identity among them): only when
            // there are no keys there.
            loader = loader.credentials_provider(credentials);
        }
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| AwsError::NoRegion {
                host: registry.host.clone(),
            })?;
        let (credentials, credential_source) = if let Some(identity) = web_identity {
            (
                credentials::assume_role(&sdk, &region, identity, progress).await?,
                format!("assumed role {}", identity.role_arn),
            )
        } else {
            let credentials = credentials::default_chain(&sdk, progress).await?;
            let source = credentials::describe_source(&credentials);
            (credentials, source)
        };
        // The process now knows these: no server's echo of them may be repeated.
        crate::sanitize::remember_secret(credentials.secret_access_key());
        if let Some(token) = credentials.session_token() {
            crate::sanitize::remember_secret(token);
        }
        let access_key_id = credentials.access_key_id().to_owned();
        let sdk = sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Ok(Self {
            sdk,
            api,
            progress: progress.clone(),
            credential_source,
            region,
            access_key_id,
            http_client,
            timeouts,
            deadline: settings.deadline,
        })
    }

    /// Starts the private ECR token call's connection (TCP, proxy tunnel, TLS) to the URL
    /// `client`'s endpoint rules give, so that it is made while the call is prepared and
    /// signed (see `net::tls::HttpsConnector::preconnect`).
    pub(super) async fn connect_ahead(&self, client: &aws_sdk_ecr::Client) {
        if !matches!(self.api, Api::Private { .. }) {
            return;
        }
        if let Some(endpoint) = ecr_endpoint(client, &self.region, self.ecr_endpoint()).await {
            self.http_client.preconnect(&endpoint, &self.timeouts);
            // Let it start before the synchronous work that follows.
            tokio::task::yield_now().await;
        }
    }

    /// The private ECR client's endpoint settings: the user's own, else the host's FIPS or
    /// dual-stack form, which does not apply to an endpoint of their own (the SDK refuses FIPS
    /// with one). The client and `connect_ahead` both take them from here.
    fn ecr_endpoint(&self) -> EndpointSettings {
        let url = configured_ecr_endpoint(&self.sdk);
        let (fips, dual_stack) = match self.api {
            Api::Private { fips, dual_stack } if url.is_none() => (fips, dual_stack),
            _ => (false, false),
        };
        EndpointSettings {
            url,
            use_fips: self.sdk.use_fips().unwrap_or(fips),
            use_dual_stack: self.sdk.use_dual_stack().unwrap_or(dual_stack),
        }
    }

    /// The access key id of the resolved credentials: it names the identity, for the token
    /// cache's key (hashed there, never shown).
    pub(crate) fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// What decides where the token call goes, beyond the region: for the token cache's key.
    pub(crate) fn endpoint_settings(&self) -> String {
        let service_id = match self.api {
            Api::Private { .. } => "ECR",
            Api::Public => "ECR PUBLIC",
        };
        let (fips, dual_stack) = match self.api {
            Api::Private { fips, dual_stack } => (fips, dual_stack),
            Api::Public => (false, false),
        };
        format!(
            "{:?} {:?} fips={:?}/{fips} dual-stack={:?}/{dual_stack}",
            self.sdk.endpoint_url(),
            configured_endpoint(&self.sdk, service_id),
            self.sdk.use_fips(),
            self.sdk.use_dual_stack(),
        )
    }

    /// The endpoint the user set for the token call, and the setting it came from: the
    /// service's own variable, else `AWS_ENDPOINT_URL`, else the AWS profile.
    pub(crate) fn endpoint_override(&self) -> Option<EndpointOverride> {
        let (service_id, variable) = match self.api {
            Api::Private { .. } => ("ECR", "AWS_ENDPOINT_URL_ECR"),
            Api::Public => ("ECR PUBLIC", "AWS_ENDPOINT_URL_ECR_PUBLIC"),
        };
        let url = configured_endpoint(&self.sdk, service_id)
            .or_else(|| self.sdk.endpoint_url().map(str::to_owned))?;
        let origin = [variable, "AWS_ENDPOINT_URL"]
            .into_iter()
            .find(|name| std::env::var(name).is_ok_and(|value| value.trim() == url.trim()))
            .unwrap_or("the AWS profile's endpoint_url");
        Some(EndpointOverride::new(origin, &url))
    }

    pub(crate) fn service_name(&self) -> &'static str {
        match self.api {
            Api::Private { .. } => "ECR",
            Api::Public => "ECR Public",
        }
    }

    /// The private ECR client, with the endpoint settings of `ecr_endpoint`.
    pub(super) fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::from_conf(self.ecr_config().build())
    }

    pub(super) fn ecr_config(&self) -> aws_sdk_ecr::config::Builder {
        let endpoint = self.ecr_endpoint();
        // The resolver the SDK would default to, set here so that `ecr_endpoint` can ask it.
        aws_sdk_ecr::config::Builder::from(&self.sdk)
            .endpoint_resolver(aws_sdk_ecr::config::endpoint::DefaultResolver::new())
            .use_fips(endpoint.use_fips)
            .use_dual_stack(endpoint.use_dual_stack)
            .interceptor(AttemptRecorder(self.progress.clone()))
            .retry_classifier(crate::net::limits::NoRetryWhenTooLarge)
    }

    pub(super) fn failure<E>(
        &self,
        error: &SdkError<E, aws_sdk_ecr::config::http::HttpResponse>,
    ) -> Failure
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        match Failure::from_sdk(error, self.progress.endpoint()) {
            // Its head arrived, so the route works: the answer itself never ended.
            Failure::Timeout { .. } if self.progress.answer_started() => Failure::BadResponse {
                status: None,
                cause: "the answer began but did not finish in time".into(),
            },
            failure => failure,
        }
    }
}

/// What decides the private ECR endpoint beyond the region (see `Session::ecr_endpoint`).
struct EndpointSettings {
    url: Option<String>,
    use_fips: bool,
    use_dual_stack: bool,
}

/// Where the SDK will send the private ECR token call: `client`'s own endpoint resolver, asked
/// with the settings the client was built with.
async fn ecr_endpoint(
    client: &aws_sdk_ecr::Client,
    region: &str,
    settings: EndpointSettings,
) -> Option<http::Uri> {
    use aws_smithy_runtime_api::client::endpoint::{EndpointResolverParams, ResolveEndpoint as _};
    let params = aws_sdk_ecr::config::endpoint::Params::builder()
        .region(region)
        .use_fips(settings.use_fips)
        .use_dual_stack(settings.use_dual_stack)
        .set_endpoint(settings.url)
        .build()
        .ok()?;
    let endpoint = client
        .config()
        .endpoint_resolver()
        .resolve_endpoint(&EndpointResolverParams::new(params))
        .await
        .ok()?;
    endpoint.url().parse().ok()
}

/// The endpoint the user points ECR at, if any: `AWS_ENDPOINT_URL_ECR` or a profile's services
/// section, else `AWS_ENDPOINT_URL` or a profile's `endpoint_url`.
fn configured_ecr_endpoint(sdk: &SdkConfig) -> Option<String> {
    configured_endpoint(sdk, "ECR").or_else(|| sdk.endpoint_url().map(str::to_owned))
}

/// The service's own endpoint setting (`AWS_ENDPOINT_URL_<SERVICE>`, a profile's services section).
fn configured_endpoint(sdk: &SdkConfig, service_id: &str) -> Option<String> {
    use aws_types::service_config::ServiceConfigKey;
    let key = ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build();
    key.ok()
        .and_then(|key| sdk.service_config()?.load_config(key))
}
