//! Credentials for a session: the SDK's default chain (environment, profile, web identity,
//! container, instance metadata) or, for a KEP-4412 service-account token, the role assumed
//! with STS AssumeRoleWithWebIdentity. Also says, in words, where the credentials came from.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_ecr::config::{Credentials, ProvideCredentials};

use super::attempts::AttemptRecorder;
use super::failure::{AwsError, Failure};
use super::web_identity::{TokenClaims, WebIdentity};
use crate::deadline::Progress;
use crate::sanitize::error_chain;

/// The session name upstream gives the role it assumes with a service-account token.
const ROLE_SESSION_NAME: &str = "ecr-credential-provider";

/// A misspelt AWS_PROFILE is an error, as in Go's SDK. Rust's chain would otherwise move on
/// to instance metadata and pull with the node's role, saying nothing (issue 14).
#[allow(
    clippy::default_trait_access,
    reason = "the files type is named only by a deprecated alias here"
)]
async fn missing_profile() -> Result<(), AwsError> {
    use aws_types::os_shim_internal::{Env, Fs};
    let Some(profile) = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|p| !p.is_empty() && p != "default")
    else {
        return Ok(());
    };
    // The default files: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, or ~/.aws. An
    // unreadable or malformed file is the SDK's to report; only a clean miss is ours.
    match aws_config::profile::load(&Fs::real(), &Env::real(), &Default::default(), None).await {
        Ok(set) if set.get_profile(&profile).is_none() => Err(AwsError::Credentials {
            detail: format!(
                "profile {profile:?} (AWS_PROFILE) is in none of the AWS config files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, or ~/.aws/config and ~/.aws/credentials)"
            ),
        }),
        _ => Ok(()),
    }
}

/// The keys in the environment, as the default chain's first provider reads them. It reads
/// variables only: its answer is there at the first poll, which needs no runtime.
pub(super) fn from_environment() -> Option<Credentials> {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    use std::task::{Context, Poll, Waker};
    let provider = EnvironmentVariableCredentialsProvider::new();
    let mut answer = std::pin::pin!(provider.provide_credentials());
    match answer
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(credentials) => credentials.ok(),
        Poll::Pending => None,
    }
}

/// The SDK's default chain, as configured in `sdk`.
pub(super) async fn default_chain(
    sdk: &SdkConfig,
    progress: &Progress,
) -> Result<Credentials, AwsError> {
    progress.step("resolving AWS credentials (environment, profile, web identity, container, instance metadata)");
    missing_profile().await?;
    let provider = sdk
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
                            "none found in environment variables, profile \"{}\" (AWS_PROFILE; does it exist in the AWS config files?), web identity, the container endpoint or instance metadata",
                            crate::sanitize::value(&profile)
                        ),
                        _ => "none found in environment variables, the AWS profile, web identity, the container endpoint or instance metadata".into(),
                    },
                    CredentialsError::ProviderTimedOut(_) => "a credential provider timed out (often instance metadata that does not answer)".into(),
                    _ => credential_process_failure(&error).unwrap_or_else(|| error_chain(&error)),
                };
                AwsError::Credentials { detail }
            })
}

/// A `credential_process` helper's failure, without its stderr: the SDK quotes the helper's
/// stderr whole, and a helper may print anything there, secrets included (issue 10).
fn credential_process_failure(
    error: &aws_credential_types::provider::error::CredentialsError,
) -> Option<String> {
    let mut text = String::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        text.push_str(&error.to_string());
        text.push('\n');
        current = error.source();
    }
    if !text.contains("external process") {
        return None;
    }
    let profile = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|profile| !profile.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let profile = crate::sanitize::value(&profile);
    let status = text
        .split("exited with code ")
        .nth(1)
        .and_then(|rest| rest.split(". Stderr:").next());
    Some(match status {
        Some(status) => format!(
            "the credential_process of profile {profile} failed ({}); its own output is not repeated here",
            crate::sanitize::value(status)
        ),
        None if text.contains("could not parse response") => {
            format!("the credential_process of profile {profile} printed no usable credentials")
        }
        None => format!("the credential_process of profile {profile} could not be run"),
    })
}

/// KEP-4412: trade the pod's service-account token for the role's credentials. The call
/// is unsigned, so the node's own credentials are neither needed nor looked up.
pub(super) async fn assume_role(
    sdk: &SdkConfig,
    region: &str,
    identity: &WebIdentity,
    progress: &Progress,
) -> Result<Credentials, AwsError> {
    progress.step(format!(
        "STS AssumeRoleWithWebIdentity for {} in {region}",
        identity.role_arn
    ));
    let mut unsigned = sdk.to_builder();
    unsigned.set_credentials_provider(None);
    let config = aws_sdk_sts::config::Builder::from(&unsigned.build())
        .interceptor(AttemptRecorder(progress.clone()))
        .retry_classifier(crate::net::limits::NoRetryWhenTooLarge)
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
        region: region.to_owned(),
        failure,
        claims: TokenClaims::of(identity.token.expose()),
    };
    let output = result.map_err(|error| fail(Failure::from_sdk(&error, progress.endpoint())))?;
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

/// Where the default chain found `credentials`, in words a node operator recognises. The SDK
/// tags credentials with the features that produced them, innermost first.
pub(super) fn describe_source(credentials: &Credentials) -> String {
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
