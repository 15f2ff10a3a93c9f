//! The only module that talks to AWS. It loads the SDK's configuration, resolves credentials
//! (the default chain or, for KEP-4412 service-account tokens, STS AssumeRoleWithWebIdentity)
//! and calls GetAuthorizationToken on ECR or ECR Public. It never prints; what went wrong
//! comes back as an `AwsError` that names the call, the region and the AWS error.

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ecr::config::timeout::TimeoutConfig;
use aws_sdk_ecr::config::{
    ConfigBag, Credentials, Intercept, ProvideCredentials, RuntimeComponents,
    SharedCredentialsProvider,
};
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::operation::RequestId;

use crate::deadline::Progress;
use crate::http::Trust;
use crate::image::{PrivateEcr, Reference, Registry, RegistryKind};
use crate::secret::Secret;

/// ECR Public has one API, in us-east-1 of the aws partition.
pub const ECR_PUBLIC_REGION: &str = "us-east-1";
/// The session name upstream gives the role it assumes with a service-account token.
pub const ROLE_SESSION_NAME: &str = "ecr-credential-provider";

/// How every AWS call is made.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Each attempt of a call gives up after this; the run's deadline bounds the whole.
    pub attempt_timeout: Duration,
    pub trust: Trust,
}

/// A role to assume with the pod's service-account token (KEP-4412).
#[derive(Debug)]
pub struct WebIdentity {
    pub role_arn: String,
    pub token: Secret,
}

#[derive(Debug)]
pub struct AuthorizationData {
    pub token: Secret,
    pub expires_at: Option<SystemTime>,
    pub proxy_endpoint: Option<String>,
    pub request_id: Option<String>,
}

/// Which API serves the registry, and where.
#[derive(Debug, Clone)]
enum Api {
    Private { fips: bool, dual_stack: bool },
    Public,
}

/// Loaded configuration and resolved credentials for one registry.
pub struct Session {
    sdk: SdkConfig,
    api: Api,
    progress: Progress,
    /// Where the credentials came from: the SDK provider's name, or the assumed role.
    pub credential_source: String,
    pub region: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A host that is not ECR, and no region configured to fall back on.
    #[error(
        "no AWS region for {host}: it is not an ECR host, so the region must come from AWS_REGION, AWS_DEFAULT_REGION, the AWS profile or instance metadata, and none set one"
    )]
    NoRegion { host: String },
    /// The default credential chain found nothing, or a provider in it failed.
    #[error("could not load AWS credentials: {detail}")]
    Credentials { detail: String },
    #[error("STS AssumeRoleWithWebIdentity for role {role_arn} in {region} failed: {failure}")]
    AssumeRole {
        role_arn: String,
        region: String,
        failure: Failure,
    },
    #[error(
        "{service} GetAuthorizationToken in {region} with {credential_source} credentials failed: {failure}"
    )]
    Call {
        service: &'static str,
        region: String,
        credential_source: String,
        failure: Failure,
    },
    /// A reply that parsed but carries nothing to authenticate with.
    #[error("{service} GetAuthorizationToken in {region} answered without {what}")]
    EmptyReply {
        service: &'static str,
        region: String,
        what: &'static str,
    },
}

/// Why one AWS call failed, without anything secret or raw from the wire beyond AWS's
/// own error code and message.
#[derive(Debug)]
pub enum Failure {
    /// AWS answered with an error.
    Service {
        code: String,
        message: String,
        status: u16,
        request_id: Option<String>,
    },
    /// The SDK's own per-attempt or per-operation timeout.
    Timeout {
        endpoint: Option<String>,
    },
    /// No HTTP exchange completed: DNS, connect, TLS, proxy, connection reset.
    Unreachable {
        endpoint: Option<String>,
        cause: String,
    },
    /// The answer could not be read as the API's response.
    BadResponse {
        status: Option<u16>,
        cause: String,
    },
    Other {
        cause: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |endpoint: &Option<String>| {
            endpoint
                .as_ref()
                .map(|e| format!(" at {e}"))
                .unwrap_or_default()
        };
        match self {
            Self::Service {
                code,
                message,
                status,
                request_id,
            } => {
                write!(f, "{code} (HTTP {status}")?;
                if let Some(id) = request_id {
                    write!(f, ", request id {id}")?;
                }
                f.write_str(")")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Self::Timeout { endpoint } => {
                write!(f, "timed out waiting for an answer{}", at(endpoint))
            }
            Self::Unreachable { endpoint, cause } => {
                write!(f, "could not reach the endpoint{}: {cause}", at(endpoint))
            }
            Self::BadResponse {
                status: Some(status),
                cause,
            } => write!(f, "unreadable response (HTTP {status}): {cause}"),
            Self::BadResponse {
                status: None,
                cause,
            } => write!(f, "unreadable response: {cause}"),
            Self::Other { cause } => f.write_str(cause),
        }
    }
}

impl Failure {
    fn from_sdk<E>(
        error: &SdkError<E, aws_sdk_ecr::config::http::HttpResponse>,
        endpoint: Option<String>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let cause = || error_chain(error);
        match error {
            SdkError::ServiceError(service) => {
                // Some servers (and AWS-compatible emulators) answer a JSON API's denial in
                // the XML of the query APIs; the SDK then finds no code. Read it from the body.
                let body = service.raw().body().bytes().unwrap_or_default();
                let code = service
                    .err()
                    .code()
                    .map(str::to_owned)
                    .or_else(|| xml_tag(body, "Code"));
                let message = service
                    .err()
                    .message()
                    .map(str::to_owned)
                    .or_else(|| xml_tag(body, "Message"));
                Self::Service {
                    code: code.unwrap_or_else(|| "UnknownError".to_owned()),
                    message: one_line(&message.unwrap_or_default()),
                    status: service.raw().status().as_u16(),
                    request_id: error.request_id().map(str::to_owned),
                }
            }
            SdkError::TimeoutError(_) => Self::Timeout { endpoint },
            SdkError::DispatchFailure(dispatch) if dispatch.is_timeout() => {
                Self::Timeout { endpoint }
            }
            SdkError::DispatchFailure(dispatch) => Self::Unreachable {
                endpoint,
                cause: dispatch
                    .as_connector_error()
                    .map_or_else(cause, |connector| error_chain(connector)),
            },
            SdkError::ResponseError(response) => Self::BadResponse {
                status: Some(response.raw().status().as_u16()),
                cause: cause(),
            },
            _ => Self::Other { cause: cause() },
        }
    }

    /// The AWS error code, when AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The text of the first `<tag>…</tag>` near the start of an XML error body.
fn xml_tag(body: &[u8], tag: &str) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]);
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))?;
    Some(text[start..start + end].trim().to_owned()).filter(|value| !value.is_empty())
}

/// An error and its sources, each said once: `a: b: c`.
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !text.is_empty() && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    one_line(&parts.join(": "))
}

/// Messages come from servers and chains of errors: keep them to one bounded line.
fn one_line(text: &str) -> String {
    const MAX_CHARS: usize = 400;
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// Reports each attempt's endpoint to `Progress`, so a timeout or an unreachable endpoint
/// can be named.
#[derive(Debug)]
struct AttemptRecorder(Progress);

impl Intercept for AttemptRecorder {
    fn name(&self) -> &'static str {
        "AttemptRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn StdError + Send + Sync>> {
        let uri = context.request().uri();
        let endpoint = uri.split('?').next().unwrap_or(uri).trim_end_matches('/');
        self.0.sending(endpoint.to_owned());
        Ok(())
    }
}

impl Session {
    /// Loads the configuration for `registry` and resolves credentials.
    pub async fn open(
        registry: &Registry,
        web_identity: Option<&WebIdentity>,
        settings: &Settings,
        progress: &Progress,
    ) -> Result<Self, AwsError> {
        progress.step("loading the AWS configuration");
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(settings.attempt_timeout.min(Duration::from_secs(5)))
            .operation_attempt_timeout(settings.attempt_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
        if let Some(client) = settings.trust.sdk_client() {
            loader = loader.http_client(client);
        }
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
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| AwsError::NoRegion {
                host: registry.host.clone(),
            })?;

        let mut session = Self {
            sdk,
            api,
            progress: progress.clone(),
            credential_source: String::new(),
            region,
        };
        let credentials = match web_identity {
            Some(identity) => session.assume_role(identity).await?,
            None => session.default_credentials().await?,
        };
        session.credential_source = match web_identity {
            Some(identity) => format!("assumed role {}", identity.role_arn),
            None => describe_source(&credentials),
        };
        session.sdk = session
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Ok(session)
    }

    async fn default_credentials(&self) -> Result<Credentials, AwsError> {
        self.progress.step("resolving AWS credentials (environment, profile, web identity, container, instance metadata)");
        let provider = self
            .sdk
            .credentials_provider()
            .ok_or_else(|| AwsError::Credentials {
                detail: "no credential provider is configured".into(),
            })?;
        provider
            .provide_credentials()
            .await
            .map_err(|error| {
                use aws_credential_types::provider::error::CredentialsError;
                let detail = match &error {
                    CredentialsError::CredentialsNotLoaded(_) => match std::env::var("AWS_PROFILE") {
                        Ok(profile) if !profile.is_empty() => format!(
                            "none found in environment variables, profile {profile:?} (AWS_PROFILE; does it exist in the AWS config files?), web identity, the container endpoint or instance metadata"
                        ),
                        _ => "none found in environment variables, the AWS profile, web identity, the container endpoint or instance metadata".into(),
                    },
                    CredentialsError::ProviderTimedOut(_) => "a credential provider timed out (often instance metadata that does not answer)".into(),
                    _ => error_chain(&error),
                };
                AwsError::Credentials { detail }
            })
    }

    /// KEP-4412: trade the pod's service-account token for the role's credentials. The call
    /// is unsigned, so the node's own credentials are neither needed nor looked up.
    async fn assume_role(&self, identity: &WebIdentity) -> Result<Credentials, AwsError> {
        self.progress.step(format!(
            "STS AssumeRoleWithWebIdentity for {} in {}",
            identity.role_arn, self.region
        ));
        let mut unsigned = self.sdk.to_builder();
        unsigned.set_credentials_provider(None);
        let config = aws_sdk_sts::config::Builder::from(&unsigned.build())
            .interceptor(AttemptRecorder(self.progress.clone()))
            .build();
        let result = aws_sdk_sts::Client::from_conf(config)
            .assume_role_with_web_identity()
            .role_arn(&identity.role_arn)
            .role_session_name(ROLE_SESSION_NAME)
            .web_identity_token(identity.token.expose())
            .send()
            .await;
        let fail = |failure| AwsError::AssumeRole {
            role_arn: identity.role_arn.clone(),
            region: self.region.clone(),
            failure,
        };
        let output =
            result.map_err(|error| fail(Failure::from_sdk(&error, self.progress.endpoint())))?;
        let credentials = output.credentials().ok_or_else(|| {
            fail(Failure::Other {
                cause: "the answer has no credentials".into(),
            })
        })?;
        Ok(Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            SystemTime::try_from(*credentials.expiration()).ok(),
            "AssumeRoleWithWebIdentity",
        ))
    }

    pub fn service_name(&self) -> &'static str {
        match self.api {
            Api::Private { .. } => "ECR",
            Api::Public => "ECR Public",
        }
    }

    /// GetAuthorizationToken on the registry's API. Returns the token and how long the call took.
    pub async fn authorization_token(&self) -> Result<(AuthorizationData, Duration), AwsError> {
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
        };
        let empty = |what| AwsError::EmptyReply {
            service,
            region: self.region.clone(),
            what,
        };
        // (token, expiry, proxy endpoint) of the first authorization data, if any.
        let (request_id, fields) = match &self.api {
            Api::Private { .. } => {
                let output = self
                    .ecr()
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

    /// The private ECR client: the host's FIPS or dual-stack form carries over to the API
    /// endpoint unless the user's own AWS settings say otherwise.
    fn ecr(&self) -> aws_sdk_ecr::Client {
        let mut config = aws_sdk_ecr::config::Builder::from(&self.sdk)
            .interceptor(AttemptRecorder(self.progress.clone()));
        if let Api::Private { fips, dual_stack } = self.api
            && !ecr_endpoint_configured(&self.sdk)
        {
            if fips && self.sdk.use_fips().is_none() {
                config = config.use_fips(true);
            }
            if dual_stack && self.sdk.use_dual_stack().is_none() {
                config = config.use_dual_stack(true);
            }
        }
        aws_sdk_ecr::Client::from_conf(config.build())
    }

    fn failure<E>(&self, error: &SdkError<E, aws_sdk_ecr::config::http::HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        Failure::from_sdk(error, self.progress.endpoint())
    }

    /// STS GetCallerIdentity: who these credentials are.
    pub async fn caller_identity(&self) -> Result<CallerIdentity, Failure> {
        self.progress
            .step(format!("STS GetCallerIdentity in {}", self.region));
        let config = aws_sdk_sts::config::Builder::from(&self.sdk)
            .interceptor(AttemptRecorder(self.progress.clone()))
            .build();
        let output = aws_sdk_sts::Client::from_conf(config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|error| self.failure(&error))?;
        Ok(CallerIdentity {
            account: output.account().unwrap_or_default().to_owned(),
            arn: output.arn().unwrap_or_default().to_owned(),
        })
    }

    /// ECR BatchGetImage: what a pull does first, with the same permission check.
    pub async fn batch_get_image(
        &self,
        registry_id: &str,
        image: &Reference,
    ) -> Result<ImageLookup, Failure> {
        use aws_sdk_ecr::types::ImageIdentifier;
        self.progress
            .step(format!("ECR BatchGetImage in {}", self.region));
        let id = if image.is_digest() {
            ImageIdentifier::builder().image_digest(&image.tag_or_digest)
        } else {
            ImageIdentifier::builder().image_tag(&image.tag_or_digest)
        };
        let output = self
            .ecr()
            .batch_get_image()
            .registry_id(registry_id)
            .repository_name(&image.repository)
            .image_ids(id.build())
            .set_accepted_media_types(Some(MANIFEST_MEDIA_TYPES.map(str::to_owned).to_vec()))
            .send()
            .await
            .map_err(|error| self.failure(&error))?;
        if let Some(found) = output.images().first() {
            let manifest: serde_json::Value = found
                .image_manifest()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            let layers = manifest["layers"]
                .as_array()
                .map(|layers| {
                    layers
                        .iter()
                        .filter_map(|layer| layer["digest"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            return Ok(ImageLookup::Found {
                media_type: found.image_manifest_media_type().map(str::to_owned),
                digest: found
                    .image_id()
                    .and_then(|id| id.image_digest())
                    .map(str::to_owned),
                layers,
            });
        }
        let failure = output.failures().first();
        Ok(ImageLookup::Missing {
            code: failure.and_then(|f| f.failure_code()).map_or_else(
                || "ImageNotFound".to_owned(),
                |code| code.as_str().to_owned(),
            ),
            reason: one_line(failure.and_then(|f| f.failure_reason()).unwrap_or_default()),
        })
    }

    /// ECR GetDownloadUrlForLayer: the permission a pull needs for each layer.
    pub async fn layer_download(
        &self,
        registry_id: &str,
        repository: &str,
        digest: &str,
    ) -> Result<(), Failure> {
        self.progress
            .step(format!("ECR GetDownloadUrlForLayer in {}", self.region));
        self.ecr()
            .get_download_url_for_layer()
            .registry_id(registry_id)
            .repository_name(repository)
            .layer_digest(digest)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| self.failure(&error))
    }
}

/// The manifest types a pull accepts, newest first.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

#[derive(Debug)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

#[derive(Debug)]
pub enum ImageLookup {
    Found {
        media_type: Option<String>,
        digest: Option<String>,
        /// Layer digests, when the manifest is an image manifest (not an index).
        layers: Vec<String>,
    },
    Missing {
        code: String,
        reason: String,
    },
}

/// Whether the user points ECR at an endpoint of their own (`AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_ECR`, a profile's `endpoint_url`): a host's FIPS or dual-stack form does
/// not apply to it, and the SDK refuses FIPS with a custom endpoint.
fn ecr_endpoint_configured(sdk: &SdkConfig) -> bool {
    use aws_types::service_config::ServiceConfigKey;
    let key = ServiceConfigKey::builder()
        .service_id("ECR")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build();
    let service_endpoint = key
        .ok()
        .and_then(|key| sdk.service_config()?.load_config(key));
    sdk.endpoint_url().is_some() || service_endpoint.is_some()
}

/// Where the default chain found `credentials`, in words a node operator recognises. The SDK
/// tags credentials with the features that produced them, innermost first.
fn describe_source(credentials: &Credentials) -> String {
    use aws_credential_types::credential_feature::AwsCredentialFeature as Feature;
    let features = credentials
        .get_property::<Vec<Feature>>()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let words = features.iter().find_map(|feature| {
        Some(match feature {
            Feature::CredentialsEnvVars => "environment variables (AWS_ACCESS_KEY_ID)",
            Feature::CredentialsEnvVarsStsWebIdToken
            | Feature::CredentialsProfileStsWebIdToken
            | Feature::CredentialsStsAssumeRoleWebId => {
                "web identity (IRSA, AWS_WEB_IDENTITY_TOKEN_FILE)"
            }
            Feature::CredentialsStsAssumeRole => "an assumed role from the AWS profile",
            Feature::CredentialsSso | Feature::CredentialsProfileSso => {
                "AWS SSO from the AWS profile"
            }
            Feature::CredentialsProcess | Feature::CredentialsProfileProcess => {
                "credential_process from the AWS profile"
            }
            Feature::CredentialsProfile
            | Feature::CredentialsProfileSourceProfile
            | Feature::CredentialsProfileNamedProvider => "the AWS profile",
            Feature::CredentialsHttp => {
                "the container credentials endpoint (ECS, EKS Pod Identity)"
            }
            Feature::CredentialsImds => "instance metadata (IMDS)",
            _ => return None,
        })
    });
    words.unwrap_or("the default credential chain").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_error_bodies_give_their_code_and_message() {
        let body = b"<?xml version='1.0'?><ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: x is not authorized</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_tag(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            xml_tag(body, "Message").as_deref(),
            Some("User: x is not authorized")
        );
        assert_eq!(xml_tag(b"{}", "Code"), None);
        assert_eq!(xml_tag(b"<Code></Code>", "Code"), None);
    }

    #[test]
    fn one_line_flattens_and_bounds_server_text() {
        assert_eq!(one_line("a\nb\r\n\tc  d"), "a b c d");
        let long = "x".repeat(1000);
        assert_eq!(one_line(&long).chars().count(), 401);
    }

    #[test]
    fn service_failures_name_code_status_and_request_id() {
        let failure = Failure::Service {
            code: "AccessDeniedException".into(),
            message: "not authorized".into(),
            status: 400,
            request_id: Some("abc-123".into()),
        };
        assert_eq!(
            failure.to_string(),
            "AccessDeniedException (HTTP 400, request id abc-123): not authorized"
        );
    }
}
