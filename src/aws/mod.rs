//! The only module that talks to AWS. It loads the SDK's configuration, resolves credentials
//! (the default chain or, for KEP-4412 service-account tokens, STS AssumeRoleWithWebIdentity)
//! and calls GetAuthorizationToken on ECR or ECR Public. It never prints; what went wrong
//! comes back as an `AwsError` that names the call, the region and the AWS error.
//!
//! Inside, data flows one way: `session` (configuration and credentials, through
//! `credentials`) is what the calls (`authorization`, `probe`) are made on; `failure` says
//! why one failed; `attempts` and `web_identity` are the small pieces they share.

mod attempts;
mod authorization;
mod credentials;
mod failure;
mod probe;
mod session;
mod web_identity;

pub(crate) use authorization::AuthorizationData;
pub use failure::code_and_message;
pub(crate) use failure::{AwsError, EndpointOverride, Failure};
pub(crate) use probe::{CallerIdentity, ImageLookup, MANIFEST_MEDIA_TYPES, PullThroughRule};
pub(crate) use session::{ECR_PUBLIC_REGION, Session, Settings};
pub(crate) use web_identity::{TokenClaims, WebIdentity};

/// Loads the endpoint rules a token call will need now: each client's resolver parses the
/// partitions' JSON once per process (0.7M instructions, a ninth of the main thread's), which
/// the client then finds done. STS's are for the default chain, which builds an STS client
/// (for web identity) whenever the environment has no keys.
pub(crate) fn load_endpoint_rules() {
    drop(aws_sdk_ecr::config::endpoint::DefaultResolver::new());
    if credentials::from_environment().is_none() {
        drop(aws_sdk_sts::config::endpoint::DefaultResolver::new());
    }
}

/// Whether the environment points ECR at a plain-http endpoint (a local stand-in, say): the
/// endpoint variables the SDK reads first, for ECR.
pub(crate) fn endpoint_is_plain_http() -> bool {
    ["AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("http://"))
}
