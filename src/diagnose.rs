//! Error → the likely cause and what to do about it, in words a node operator can act on.
//! Pure: reads only what it is given. Every cause and fix text lives here: the one-line
//! failure's hint and each `check` step's advice.

use std::fmt::Write as _;
use std::time::Duration;

use crate::aws::{
    AwsError, CallerIdentity, EndpointOverride, Failure, PullThroughRule, TokenClaims,
};
use crate::deadline::Stdin;
use crate::error::{Error, WAITING_FOR_CONFIG};
use crate::files::FileError;
use crate::kubelet::request::RequestError;
use crate::net::tls::CertificateProblem;
use crate::net::trust::TlsError;
use crate::registry::Unreached;

pub(crate) const PULL_POLICY: &str = "AmazonEC2ContainerRegistryPullOnly";
const NOT_ECR: &str =
    "the endpoint answered, but not like ECR: check AWS_ENDPOINT_URL* and any proxy in between";
const UNTRUSTED: &str = "the endpoint's TLS certificate is not trusted: behind a TLS-inspecting proxy, point AWS_CA_BUNDLE at the proxy's CA certificate";
/// At an endpoint the user set, its own CA is the likelier one missing.
const UNTRUSTED_OVERRIDE: &str = "the endpoint's TLS certificate is not trusted: point AWS_CA_BUNDLE at the CA that signed the endpoint's certificate (or, behind a TLS-inspecting proxy, the proxy's CA)";
const WRONG_NAME: &str = "the certificate is not issued for the name dialled: use a name it is issued for in AWS_ENDPOINT_URL* (an IP address needs an IP entry in the certificate)";
/// A certificate out of its dates: a node's clock far off is the commoner cause.
const CLOCK: &str = "check the node's clock (timedatectl), then the server's certificate dates";
pub(crate) const NETWORK: &str = "check the node's route to the endpoint: security groups, the VPC endpoints com.amazonaws.REGION.ecr.api and ecr.dkr (and the S3 gateway for layers), and HTTPS_PROXY/NO_PROXY";
/// No answer in time: a route that drops packets, or a server that is not ECR.
const NO_ANSWER: &str = "nothing answered in time: if nothing accepts the connection, check the node's route to the endpoint (security groups, the VPC endpoints com.amazonaws.REGION.ecr.api and ecr.dkr, HTTPS_PROXY/NO_PROXY); a server that accepts but answers slowly or without end is not ECR: check AWS_ENDPOINT_URL* and any proxy in between";
/// The answer began but never ended: the route works, the server is the trouble.
const UNFINISHED: &str = "the endpoint began to answer but did not finish: ECR answers in well under a second, so this is not ECR or a proxy holds the answer: check AWS_ENDPOINT_URL* and HTTPS_PROXY";
const FILE: &str = "point the setting at a regular file of a sensible size, or unset it";
/// No thread could be started: what runs out is the system's, not the input's.
const THREADS: &str = "the limit on processes and threads is reached: the pids cgroup's pids.max (TasksMax= of the kubelet's systemd unit, a container's --pids-limit) or ulimit -u; raise it, or find what holds so many threads";
const STDIN_OPEN: &str = "the kubelet writes one request and closes stdin; whatever runs this provider must do the same (by hand, `ecr-credential-provider get IMAGE` builds the request)";
const DOCKER_STDIN_OPEN: &str = "docker, podman and skopeo write the registry's host (or, to store, its credentials) on stdin and close it; whatever runs this helper must do the same, as in `echo HOST | docker-credential-ecr-login get`";
/// Shorter than this, a deadline is too short for any call to AWS: it, not the route, is the
/// cause (a TLS connection and an answer take tens to hundreds of milliseconds).
const SHORTEST_USEFUL_TIMEOUT: Duration = Duration::from_secs(1);
/// Reading a request its writer has closed takes a thread's start and a read: well under this.
const STDIN_READ: Duration = Duration::from_millis(10);
const DEADLINE_SETTING: &str = "the deadline is set with --timeout or ECR_CREDENTIAL_PROVIDER_TIMEOUT (the kubelet kills a provider after 1m)";

/// The fix for `error`, when there is something more useful to say than the error itself.
pub(crate) fn hint(error: &Error) -> Option<String> {
    let text = match error {
        Error::NoThread(_)
        | Error::Tls(TlsError::File(FileError::NoThread(_)))
        | Error::Aws(AwsError::File(FileError::NoThread(_))) => THREADS.into(),
        Error::Usage(message) => usage_hint(message),
        Error::ReadStdin(_) | Error::Request(RequestError::Empty) => {
            "to try it by hand, `ecr-credential-provider get IMAGE` builds the request for you".into()
        }
        Error::Request(_) => r#"the kubelet writes {"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"HOST/REPOSITORY"}; by hand, `ecr-credential-provider get IMAGE` builds it"#.into(),
        Error::Image(_) | Error::InvalidRoleArn { .. } | Error::NotEcr { .. } | Error::WriteStdout(_) | Error::Startup(_) | Error::Interrupted { .. } | Error::ReadFile { .. } | Error::ProviderRun { .. } => {
            return None;
        }
        Error::Aws(aws) => return aws_hint(aws),
        Error::ProxyUrl(error) => format!(
            "write it as http://HOST:PORT (or http://USER:PASSWORD@HOST:PORT), or unset {}",
            error.variable
        ),
        Error::ReadConfig(_) => {
            "give the kubelet's --image-credential-provider-config: a file or a directory of *.yaml, *.yml or *.json files".into()
        }
        Error::File(FileError::NotRegular { .. } | FileError::TooLarge { .. }) => FILE.into(),
        Error::File(_) => return None,
        Error::Tls(_) => "point AWS_CA_BUNDLE at a readable PEM file of CA certificates, or unset it to trust the system's roots".into(),
        Error::Token { .. } => {
            NOT_ECR.into()
        }
        // Stdin that a writer closes is read in well under this.
        Error::Timeout { stdin: Some(writer), after, .. } if *after >= STDIN_READ => match writer {
            Stdin::Kubelet => STDIN_OPEN.into(),
            Stdin::DockerClient => DOCKER_STDIN_OPEN.into(),
        },
        Error::Timeout { waiting_for, .. } if waiting_for.starts_with(WAITING_FOR_CONFIG) => {
            "a credential provider config reads in well under a second: give check --config the kubelet's own file or directory, or a longer --timeout".into()
        }
        Error::Timeout { after, .. } if *after < SHORTEST_USEFUL_TIMEOUT => format!(
            "a deadline of {} is too short for a call to AWS, which takes tens to hundreds of milliseconds: give it seconds (the default is 30s); {DEADLINE_SETTING}",
            crate::duration::format(*after)
        ),
        Error::Timeout { answer_started: true, .. } => format!("{UNFINISHED}; {DEADLINE_SETTING}"),
        Error::Timeout { .. } => format!("{NO_ANSWER}; {DEADLINE_SETTING}"),
    };
    Some(text)
}

/// The help of the command the message is about, else the overview.
fn usage_hint(message: &str) -> String {
    let command = crate::cli::COMMANDS
        .iter()
        .map(|spec| spec.name)
        .find(|name| {
            message.starts_with(&format!("{name} "))
                || message.starts_with(&format!("{name}: "))
                || message.ends_with(&format!("goes with {name} only"))
        });
    match command {
        Some(name) => {
            format!("run `ecr-credential-provider {name} --help` for its flags and an example")
        }
        None => "run `ecr-credential-provider --help` for usage".into(),
    }
}

pub(crate) fn aws_hint(error: &AwsError) -> Option<String> {
    let text = match error {
        AwsError::NoRegion { .. } => {
            "set AWS_REGION in this provider's env in the CredentialProviderConfig, or pull through an ECR host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)".into()
        }
        AwsError::Credentials { .. } => {
            "on EC2, check the instance profile and that instance metadata answers (a containerised kubelet needs an IMDS hop limit of 2 or more); elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the provider's env".into()
        }
        AwsError::AssumeRole {
            role_arn,
            failure,
            region,
            claims: Some(claims),
        } if !claims.issuer.is_empty() && failure.code().is_some() => {
            // The token names what the trust policy must match: say it in the one line too.
            let advice = assume_role(failure, role_arn, Some(claims), Place::of_region(region));
            return match (advice.cause, advice.fix) {
                (Some(cause), Some(fix)) => Some(format!("{cause}: {fix}")),
                (cause, fix) => fix.or(cause),
            };
        }
        AwsError::AssumeRole {
            failure, region, ..
        } => match failure.code() {
            Some("AccessDenied") => {
                "the role's trust policy must allow sts:AssumeRoleWithWebIdentity for this service account's OIDC issuer, subject and audience (tokenAttributes.serviceAccountTokenAudience)".into()
            }
            Some("InvalidIdentityToken" | "IDPRejectedClaim") => {
                "AWS does not trust the token's issuer or audience: register the cluster's OIDC issuer as an IAM identity provider with this audience".into()
            }
            Some("ExpiredTokenException") => "the service-account token has expired".into(),
            _ => {
                return api_failure(
                    failure,
                    "sts:AssumeRoleWithWebIdentity",
                    Endpoint::Sts,
                    Place::of_region(region),
                )
                .fix;
            }
        },
        AwsError::Call {
            service,
            region,
            failure,
            endpoint_override,
            ..
        } => {
            return token_call(
                service,
                failure,
                endpoint_override.as_ref(),
                Place::of_region(region),
            )
            .fix;
        }
        AwsError::EmptyReply { .. } => {
            NOT_ECR.into()
        }
        AwsError::File(FileError::NoThread(_)) => THREADS.into(),
        AwsError::File(_) => FILE.into(),
    };
    Some(text)
}

pub(crate) fn failure_hint(failure: &Failure, action: &str) -> Option<String> {
    let text = match failure {
        Failure::Service { code, status, .. } => match code.as_str() {
            code if is_access_denied(code) => format!(
                "the identity needs {action}; the managed policy {PULL_POLICY} grants it together with the pull actions"
            ),
            "UnrecognizedClientException" | "InvalidClientTokenId" => {
                "AWS does not know this access key in this region's partition: check the credentials and the region".into()
            }
            "InvalidSignatureException" | "SignatureDoesNotMatch" => {
                "the secret key does not match the access key, or the node's clock is wrong".into()
            }
            "ExpiredTokenException" | "ExpiredToken" | "RequestExpired" => {
                "the credentials have expired (or the node's clock is wrong): refresh them".into()
            }
            "ThrottlingException" | "ThrottledException" | "TooManyRequestsException" | "RequestLimitExceeded" => {
                "AWS is throttling this call: too many nodes or pulls ask at once; --cache-dir shares one token per registry among the node's execs (a longer defaultCacheDuration does not help: the kubelet already caches the token for 6h)".into()
            }
            _ if *status >= 500 => "AWS had a server error; the kubelet will retry on the next pull".into(),
            // ECR answers errors with 4xx and a code; a success or a redirect it could not
            // read came from something else.
            "UnknownError" if *status < 400 => NOT_ECR.into(),
            _ => return None,
        },
        Failure::Unreachable {
            certificate: Some(problem),
            ..
        } => certificate_fix(*problem, false).into(),
        Failure::Timeout { .. } => NO_ANSWER.into(),
        Failure::Unreachable { .. } => NETWORK.into(),
        Failure::Proxy { hint, .. } => hint.clone(),
        Failure::BadResponse { .. } => NOT_ECR.into(),
        Failure::TooLarge { .. } => {
            "something between this node and AWS answers in AWS's place: check HTTPS_PROXY and AWS_ENDPOINT_URL, and what answers at the endpoint".into()
        }
        Failure::Other { .. } => return None,
    };
    Some(text)
}

/// What `check` says under a step: the likely cause and the fix.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Advice {
    pub(crate) cause: Option<String>,
    pub(crate) fix: Option<String>,
}

impl Advice {
    pub(crate) fn new(cause: impl Into<String>, fix: Option<String>) -> Self {
        Self {
            cause: Some(cause.into()),
            fix,
        }
    }

    pub(crate) fn fix(fix: Option<String>) -> Self {
        Self { cause: None, fix }
    }
}

/// Where a request goes, for naming the route (and the VPC endpoint) it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// The ECR API (`api.ecr.REGION.amazonaws.com`).
    EcrApi,
    /// The registry (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`).
    EcrDkr,
    /// ECR's layer storage in S3, where a layer download is redirected.
    LayerStorage,
    Sts,
    /// ECR Public's API and registry.
    EcrPublic,
    /// A registry that is not ECR.
    Other,
}

/// Where the image lives, for naming VPC endpoints and ARNs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) region: &'a str,
    pub(crate) partition: &'a str,
}

impl<'a> Place<'a> {
    /// A region alone: its partition, as far as VPC endpoint names differ, from its name.
    pub(crate) fn of_region(region: &'a str) -> Self {
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else {
            "aws"
        };
        Self { region, partition }
    }

    fn vpc_endpoint(&self, service: &str) -> String {
        let prefix = if self.partition == "aws-cn" {
            "cn.com.amazonaws"
        } else {
            "com.amazonaws"
        };
        format!("{prefix}.{}.{service}", self.region)
    }
}

/// How to give the node a route to `endpoint`.
pub(crate) fn route_fix(endpoint: Endpoint, place: Place<'_>) -> String {
    let interface = |service: &str| {
        format!(
            "check the node's route to the endpoint: in a VPC without internet access, the interface VPC endpoint {} with private DNS enabled, and a security group that allows HTTPS from the node; behind a proxy, HTTPS_PROXY and NO_PROXY",
            place.vpc_endpoint(service)
        )
    };
    match endpoint {
        Endpoint::EcrApi => interface("ecr.api"),
        Endpoint::EcrDkr => interface("ecr.dkr"),
        Endpoint::Sts => interface("sts"),
        Endpoint::LayerStorage => format!(
            "layers download from S3: in a VPC without internet access, the S3 gateway endpoint {} in the node's route table; behind a proxy, HTTPS_PROXY and NO_PROXY",
            place.vpc_endpoint("s3")
        ),
        Endpoint::EcrPublic => "ECR Public has no VPC endpoint: the node needs a route to the internet (a NAT gateway) or a proxy in HTTPS_PROXY".into(),
        Endpoint::Other => NETWORK.into(),
    }
}

/// An AWS call that failed, in a `check` step.
pub(crate) fn api_failure(
    failure: &Failure,
    action: &str,
    endpoint: Endpoint,
    place: Place<'_>,
) -> Advice {
    match failure {
        Failure::Unreachable {
            certificate: Some(problem),
            ..
        } => Advice::fix(Some(certificate_fix(*problem, false).into())),
        Failure::Unreachable { cause, .. } if cause.contains("dns error") => Advice::new(
            "DNS has no address for the endpoint",
            Some(route_fix(endpoint, place)),
        ),
        Failure::Timeout { .. } => Advice::fix(Some(format!(
            "if nothing accepts the connection, {}; a server that accepts but answers slowly or without end is not ECR: check AWS_ENDPOINT_URL* and any proxy in between",
            route_fix(endpoint, place)
        ))),
        Failure::Unreachable { .. } => Advice::fix(Some(route_fix(endpoint, place))),
        _ => Advice::fix(failure_hint(failure, action)),
    }
}

/// A GetAuthorizationToken on `service` (`ECR` or `ECR Public`) that failed.
pub(crate) fn token_call(
    service: &str,
    failure: &Failure,
    endpoint_override: Option<&EndpointOverride>,
    place: Place<'_>,
) -> Advice {
    if let Some(fix) = endpoint_override.and_then(|setting| unreached_override(failure, setting)) {
        return Advice::fix(Some(fix));
    }
    let (action, endpoint) = if service == "ECR" {
        ("ecr:GetAuthorizationToken", Endpoint::EcrApi)
    } else {
        (
            "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken",
            Endpoint::EcrPublic,
        )
    };
    api_failure(failure, action, endpoint, place)
}

/// An endpoint the user set that nothing answered at: that setting, not the route to AWS's
/// own endpoint (nor its VPC endpoint), is the first thing to check.
fn unreached_override(failure: &Failure, setting: &EndpointOverride) -> Option<String> {
    match failure {
        Failure::Unreachable {
            certificate: Some(problem),
            ..
        } => Some(certificate_fix(*problem, true).into()),
        Failure::Unreachable { .. } => Some(override_fix("the endpoint is set by", setting, "")),
        Failure::Timeout { .. } => Some(override_fix(
            "nothing answered in time at the endpoint set by",
            setting,
            SLOW_IS_NOT_ECR,
        )),
        _ => None,
    }
}

/// The fix for a certificate the handshake refused; `endpoint_set` when the user set the
/// endpoint (AWS_ENDPOINT_URL*), else it is AWS's own, which only an inspecting proxy replaces.
fn certificate_fix(problem: CertificateProblem, endpoint_set: bool) -> &'static str {
    match problem {
        CertificateProblem::Untrusted | CertificateProblem::Other if endpoint_set => {
            UNTRUSTED_OVERRIDE
        }
        CertificateProblem::Untrusted | CertificateProblem::Other => UNTRUSTED,
        CertificateProblem::WrongName => WRONG_NAME,
        CertificateProblem::Expired | CertificateProblem::NotYetValid => CLOCK,
    }
}

const SLOW_IS_NOT_ECR: &str =
    " (a server that accepts but answers slowly or without end is not ECR)";

fn override_fix(what: &str, setting: &EndpointOverride, slow: &str) -> String {
    format!(
        "{what} {}={}: check that ECR (or its stand-in) answers there{slow}, or unset it to use the service's own endpoint",
        setting.origin, setting.url
    )
}

/// The token step ran out of its share of the deadline: at an endpoint the user set, that
/// setting is the first thing to check.
pub(crate) fn token_timed_out(
    endpoint: Endpoint,
    place: Place<'_>,
    endpoint_override: Option<&EndpointOverride>,
) -> Advice {
    match endpoint_override {
        Some(setting) => Advice::new(
            "no answer in time",
            Some(override_fix(
                "nothing answered at the endpoint set by",
                setting,
                SLOW_IS_NOT_ECR,
            )),
        ),
        None => timed_out(endpoint, place),
    }
}

/// A step that ran out of its share of the deadline.
pub(crate) fn timed_out(endpoint: Endpoint, place: Place<'_>) -> Advice {
    Advice::new(
        "no answer in time: usually no route to the endpoint, or a firewall or proxy that drops the connection",
        Some(route_fix(endpoint, place)),
    )
}

/// A registry request that got no HTTP answer.
pub(crate) fn unreached(unreached: &Unreached, endpoint: Endpoint, place: Place<'_>) -> Advice {
    let route = || Some(route_fix(endpoint, place));
    match unreached {
        Unreached::Resolve { host, .. } => {
            let mut fix = route_fix(endpoint, place);
            if matches!(endpoint, Endpoint::EcrDkr | Endpoint::EcrApi) {
                fix.push_str("; without the VPC endpoint's private DNS, ECR names resolve only through public DNS");
            }
            Advice::new(format!("DNS has no address for {host}"), Some(fix))
        }
        Unreached::Connect {
            host,
            certificate: Some(problem),
            ..
        } => Advice::new(
            match problem {
                CertificateProblem::Untrusted => {
                    "the registry's TLS certificate is not trusted".into()
                }
                CertificateProblem::WrongName => {
                    format!("the registry's TLS certificate is not issued for {host}")
                }
                CertificateProblem::Expired => "the registry's TLS certificate has expired".into(),
                CertificateProblem::NotYetValid => {
                    "the registry's TLS certificate is not valid yet".into()
                }
                CertificateProblem::Other => "the registry's TLS certificate was refused".into(),
            },
            Some(certificate_fix(*problem, false).into()),
        ),
        Unreached::Connect {
            host,
            timeout: true,
            ..
        } => Advice::new(format!("{host} did not answer in time"), route()),
        Unreached::Connect { host, .. } => Advice::new(format!("no connection to {host}"), route()),
        Unreached::Invalid { .. } => Advice::default(),
    }
}

/// BatchGetImage or GetDownloadUrlForLayer denied.
pub(crate) fn repository_denied(
    repository_arn: &str,
    registry_id: &str,
    caller: Option<&CallerIdentity>,
) -> Advice {
    Advice::new(
        "these credentials may get a token but not read this repository: a token does not grant pull rights",
        Some(pull_fix(repository_arn, registry_id, caller)),
    )
}

pub(crate) fn layers_denied(
    repository_arn: &str,
    registry_id: &str,
    caller: Option<&CallerIdentity>,
) -> Advice {
    Advice::new(
        "these credentials may read the manifest but not download its layers",
        Some(pull_fix(repository_arn, registry_id, caller)),
    )
}

pub(crate) fn image_missing(
    repository: &str,
    reference: &str,
    registry_id: &str,
    region: &str,
) -> Advice {
    Advice::new(
        format!("repository {repository} has no image {reference}"),
        Some(format!(
            "check the tag or digest; list them with `aws ecr describe-images --registry-id {registry_id} --repository-name {repository} --region {region}`"
        )),
    )
}

pub(crate) fn repository_missing(repository: &str, registry_id: &str, region: &str) -> Advice {
    Advice::new(
        format!("there is no repository {repository} in registry {registry_id} in {region}, and no pull-through cache rule covers it"),
        Some("check the repository name, and the account and region in the image's host; for a mirror, create a pull-through cache rule for its first path segment".into()),
    )
}

/// The actions a first pull through a pull-through cache rule needs, beyond the pull actions.
pub(crate) const PULL_THROUGH_ACTIONS: [&str; 2] =
    ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"];

/// A repository a pull-through cache rule will create on the first pull.
pub(crate) fn pull_through(
    rule: &PullThroughRule,
    repository_prefix_arn: &str,
    caller: Option<&CallerIdentity>,
) -> Advice {
    let who = caller.map_or_else(|| "this identity".to_owned(), |c| principal(&c.arn));
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": PULL_THROUGH_ACTIONS, "Resource": repository_prefix_arn}
    ]});
    Advice::new(
        format!(
            "the first pull through the cache rule for {}/ copies the image from {} and creates the repository: that pull also needs {}",
            rule.prefix,
            rule.upstream,
            PULL_THROUGH_ACTIONS.join(" and ")
        ),
        Some(format!(
            "allow {} (with the pull actions, or the managed policy {PULL_POLICY}) to {who}: {policy}; or have an administrator pull the image once",
            PULL_THROUGH_ACTIONS.join(", ")
        )),
    )
}

pub(crate) fn pull_through_unknown(failure: &Failure) -> Advice {
    Advice::new(
        format!("the repository does not exist, and whether a pull-through cache rule creates it is unknown: DescribePullThroughCacheRules failed: {failure}"),
        Some("allow ecr:DescribePullThroughCacheRules to see the rules, or check the repository name".into()),
    )
}

/// What `check` knows when the registry refuses a request.
pub(crate) struct Refusal<'a> {
    pub(crate) status: u16,
    pub(crate) repository: &'a str,
    pub(crate) reference: &'a str,
    /// The token's expiry is already past by this node's clock.
    pub(crate) token_expired: bool,
    /// Who issued the token, and where: `ECR in us-west-2`.
    pub(crate) issuer: String,
    pub(crate) pull_fix: Option<String>,
    pub(crate) pull_through: Option<Advice>,
}

/// The registry answered the manifest or the layer with an error status.
pub(crate) fn registry_refused(refusal: Refusal<'_>) -> Advice {
    match refusal.status {
        401 if refusal.token_expired => clock(),
        401 => Advice::new(
            "the registry did not accept the login",
            Some(format!(
                "the token came from {}: a token works only for registries in the region and partition that issued it; with --registry-endpoint, name the image's own registry",
                refusal.issuer
            )),
        ),
        403 | 404 if refusal.pull_through.is_some() => refusal.pull_through.unwrap_or_default(),
        403 => Advice::new("the registry denied this identity", refusal.pull_fix),
        404 => Advice::new(
            format!(
                "the registry has no {}:{}",
                refusal.repository, refusal.reference
            ),
            Some("check the repository name and the tag or digest".into()),
        ),
        status => Advice::new(format!("the registry answered HTTP {status}"), None),
    }
}

fn clock() -> Advice {
    Advice::new(
        "the token's expiry is already past by this node's clock, so the registry's answer cannot be trusted to be about the token",
        Some("check the node's clock: chrony or NTP (on EC2, the Amazon Time Sync Service at 169.254.169.123)".into()),
    )
}

/// The registry answered the layer HEAD with an error status.
pub(crate) fn layer_refused(status: u16, pull_fix: Option<String>) -> Advice {
    match status {
        401 | 403 => Advice::new("the registry refused the layer download", pull_fix),
        _ => Advice::new("the layer could not be fetched", None),
    }
}

/// An image with a host but no repository.
pub(crate) fn no_repository() -> Advice {
    Advice::fix(Some(
        "give the whole image, such as HOST/REPOSITORY:TAG".into(),
    ))
}

/// The Bearer challenge's token service refused the credentials.
pub(crate) fn login_refused(realm: &str, status: u16, token_expired: bool, issuer: &str) -> Advice {
    if token_expired {
        return clock();
    }
    Advice::new(
        format!("the registry's token service {realm} refused the credentials from {issuer} (HTTP {status})"),
        Some("ECR Public's login needs ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken (the managed policy AmazonElasticContainerRegistryPublicReadOnly); for another registry, its own credentials".into()),
    )
}

pub(crate) fn no_bearer_token(realm: &str) -> Advice {
    Advice::new(
        format!("the token service {realm} answered without a token"),
        Some(NOT_ECR.into()),
    )
}

/// A Bearer challenge whose realm is elsewhere than the registry's own host: ECR's never is.
pub(crate) fn foreign_realm(realm: &str) -> Advice {
    Advice::new(
        format!(
            "the registry sends logins to {realm}, which is neither https on the registry's own host nor ECR Public's token service: ECR's never does, so the ECR token was not sent there"
        ),
        Some("something other than ECR answers for this host: check DNS, /etc/hosts and any proxy in between".into()),
    )
}

/// `check` of an image whose host is not ECR's: the token is not sent there.
pub(crate) fn not_ecr_registry(host: &str, why: String) -> Advice {
    Advice::new(
        why,
        Some(format!(
            "if containerd mirrors {host} to ECR (a pull-through cache, say), check the ECR image it pulls from"
        )),
    )
}

/// `/v2/` answered, but not as a registry does.
pub(crate) fn not_a_registry(status: u16) -> Advice {
    Advice::new(
        format!(
            "the host answered the registry's /v2/ with HTTP {status}: it is not a registry API, or something in between answers for it"
        ),
        Some("check the image's host (or --registry-endpoint) and any proxy in between".into()),
    )
}

/// A challenge this client cannot answer.
pub(crate) fn unknown_challenge(scheme: &str) -> Advice {
    Advice::new(
        format!(
            "the registry asks for {scheme} authentication, which the kubelet's credentials cannot answer"
        ),
        None,
    )
}

/// `check --config`: no provider's matchImages matches the image's host.
/// No provider matches the image. `ecr`: its host is an ECR registry's. For any other host no
/// pattern is the right state: a pattern would hand that host the node's ECR token.
pub(crate) fn no_provider_matches(host: &str, ecr: bool) -> Advice {
    if !ecr {
        return Advice::new(
            format!(
                "{host} is not an ECR registry: matching a host that is not ECR's sends the node's ECR token to it, unless containerd mirrors that host to ECR"
            ),
            Some(format!(
                "nothing to add for {host}, unless containerd mirrors it to an ECR pull-through cache: only then add `{host}` to matchImages, so that the token goes to ECR"
            )),
        );
    }
    let labels = host.split(':').next().unwrap_or(host).split('.').count();
    Advice::new(
        format!(
            "the kubelet matches each glob label by label: a glob needs exactly as many labels as {host} ({labels}) and the same port; `*` never spans a dot, so `*.amazonaws.com` matches no ECR host"
        ),
        Some(format!(
            "add a matchImages glob for it, such as `*.dkr.ecr.*.amazonaws.com` (private ECR), `public.ecr.aws`, or `{host}` itself, and restart the kubelet"
        )),
    )
}

/// STS AssumeRoleWithWebIdentity refused: name the trust-policy condition that must hold.
pub(crate) fn assume_role(
    failure: &Failure,
    role_arn: &str,
    claims: Option<&TokenClaims>,
    place: Place<'_>,
) -> Advice {
    let account = role_arn.split(':').nth(4).unwrap_or("ACCOUNT");
    let partition = role_arn.split(':').nth(1).unwrap_or("aws");
    let Some(claims) = claims.filter(|c| !c.issuer.is_empty()) else {
        return match failure.code() {
            Some(_) => Advice::fix(assume_role_hint(failure)),
            None => api_failure(
                failure,
                "sts:AssumeRoleWithWebIdentity",
                Endpoint::Sts,
                place,
            ),
        };
    };
    let issuer = claims
        .issuer
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let audience = claims
        .audiences
        .first()
        .map_or("sts.amazonaws.com", String::as_str);
    let provider = format!("arn:{partition}:iam::{account}:oidc-provider/{issuer}");
    match failure.code() {
        Some("AccessDenied") => {
            let statement = serde_json::json!({"Effect": "Allow", "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {format!("{issuer}:sub"): claims.subject, format!("{issuer}:aud"): audience}}});
            Advice::new(
                format!(
                    "the trust policy of {role_arn} does not let this token in: its issuer, subject ({}) or audience ({audience}) does not match",
                    claims.subject
                ),
                Some(format!("add to the role's trust policy: {statement}")),
            )
        }
        Some("InvalidIdentityToken" | "IDPRejectedClaim") => Advice::new(
            format!(
                "account {account} does not trust the token's issuer {} for the audience {audience}",
                claims.issuer
            ),
            Some(format!(
                "register the cluster's OIDC issuer as an IAM identity provider ({provider}) with the client ID {audience}: `aws iam create-open-id-connect-provider --url {} --client-id-list {audience}`; the audience is the provider config's tokenAttributes.serviceAccountTokenAudience",
                claims.issuer
            )),
        ),
        Some("ExpiredTokenException") => Advice::new(
            "the service-account token has expired",
            Some(
                "use a fresh one: `kubectl create token SERVICE_ACCOUNT --audience AUDIENCE`"
                    .into(),
            ),
        ),
        Some(_) => Advice::fix(assume_role_hint(failure)),
        None => api_failure(
            failure,
            "sts:AssumeRoleWithWebIdentity",
            Endpoint::Sts,
            place,
        ),
    }
}

fn assume_role_hint(failure: &Failure) -> Option<String> {
    aws_hint(&AwsError::AssumeRole {
        role_arn: String::new(),
        region: String::new(),
        claims: None,
        failure: Failure::Service {
            code: failure.code().unwrap_or_default().to_owned(),
            message: String::new(),
            status: 400,
            request_id: None,
        },
    })
}

pub(crate) fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation"
    )
}

/// The actions a pull needs on the repository, beyond the token.
pub(crate) const PULL_ACTIONS: [&str; 3] = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
];

/// How to let `caller` pull from the repository `repository_arn`: an identity policy, and
/// across accounts a repository policy too.
pub(crate) fn pull_fix(
    repository_arn: &str,
    registry_id: &str,
    caller: Option<&CallerIdentity>,
) -> String {
    let actions = serde_json::json!(PULL_ACTIONS);
    let identity_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": repository_arn}
    ]});
    let who = caller.map_or_else(|| "this identity".to_owned(), |c| principal(&c.arn));
    let mut fix = format!(
        "attach the managed policy {PULL_POLICY} to {who}, or allow {} on the repository: {identity_policy}",
        PULL_ACTIONS.join(", ")
    );
    if let Some(caller) = caller.filter(|c| !c.account.is_empty() && c.account != registry_id) {
        let repository_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowPull", "Effect": "Allow", "Principal": {"AWS": principal(&caller.arn)}, "Action": actions}
        ]});
        let _ = write!(
            fix,
            "; the repository is in account {registry_id}, not {}: its repository policy must allow the puller too: {repository_policy}",
            caller.account
        );
    }
    fix
}

/// An assumed-role session's ARN names the role a policy must name.
fn principal(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if let ["arn", partition, "sts", "", account, resource] = parts.as_slice()
        && let Some(role) = resource
            .strip_prefix("assumed-role/")
            .and_then(|r| r.split('/').next())
    {
        return format!("arn:{partition}:iam::{account}:role/{role}");
    }
    arn.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(arn: &str, account: &str) -> CallerIdentity {
        CallerIdentity {
            arn: arn.into(),
            account: account.into(),
        }
    }

    /// The deadline's hint names what ran out: a writer that never closed stdin, a deadline
    /// too short for anything, or the endpoint that did not answer.
    #[test]
    fn a_timeout_hint_names_what_ran_out() {
        let timeout = |ms, stdin, answer_started| Error::Timeout {
            after: Duration::from_millis(ms),
            waiting_for: "x".into(),
            stdin,
            answer_started,
        };
        let table = [
            (timeout(3000, Some(Stdin::Kubelet), false), STDIN_OPEN),
            (timeout(500, Some(Stdin::Kubelet), false), STDIN_OPEN),
            (
                timeout(500, Some(Stdin::DockerClient), false),
                DOCKER_STDIN_OPEN,
            ),
            (
                timeout(1, Some(Stdin::Kubelet), false),
                "a deadline of 1ms is too short",
            ),
            (timeout(0, None, false), "a deadline of 0s is too short"),
            (timeout(999, None, true), "a deadline of 999ms is too short"),
            (timeout(1000, None, false), NO_ANSWER),
            (timeout(30_000, None, true), UNFINISHED),
        ];
        for (error, expected) in table {
            let hint = hint(&error).unwrap_or_default();
            assert!(hint.starts_with(expected), "{error:?}: {hint}");
        }
    }

    /// An endpoint the user set is named, with its setting, when nothing answers there; the
    /// route to AWS's own endpoint (its VPC endpoint) only without one.
    #[test]
    fn an_unreached_endpoint_the_user_set_is_named_instead_of_the_route() {
        let refused = || Failure::Unreachable {
            endpoint: Some("http://127.0.0.1:9".into()),
            cause: "tcp connect error: Connection refused (os error 111)".into(),
            certificate: None,
        };
        let refusing = |problem| Failure::Unreachable {
            endpoint: None,
            // Words that would mislead a match on text: the type decides.
            cause: "invalid peer certificate: certificate expired".into(),
            certificate: Some(problem),
        };
        let untrusted = refusing(CertificateProblem::Untrusted);
        let env = EndpointOverride::new("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        let with_password = EndpointOverride::new(
            "AWS_ENDPOINT_URL_ECR",
            "https://user:pa/ss@ecr.example:8443/x",
        );
        assert_eq!(with_password.url, "https://***@ecr.example:8443/x");
        let place = Place::of_region("us-west-2");
        let fix = |failure: &Failure, setting: Option<&EndpointOverride>, service| {
            token_call(service, failure, setting, place)
                .fix
                .unwrap_or_default()
        };
        let table = [
            (
                fix(&refused(), Some(&env), "ECR"),
                "the endpoint is set by AWS_ENDPOINT_URL=http://127.0.0.1:9: check that ECR (or its stand-in) answers there, or unset it to use the service's own endpoint",
            ),
            (
                fix(&refused(), Some(&with_password), "ECR Public"),
                "the endpoint is set by AWS_ENDPOINT_URL_ECR=https://***@ecr.example:8443/x: ",
            ),
            (
                fix(&Failure::Timeout { endpoint: None }, Some(&env), "ECR"),
                "nothing answered in time at the endpoint set by AWS_ENDPOINT_URL=http://127.0.0.1:9: ",
            ),
            (fix(&untrusted, Some(&env), "ECR"), UNTRUSTED_OVERRIDE),
            (fix(&untrusted, None, "ECR"), UNTRUSTED),
            (
                fix(&refusing(CertificateProblem::WrongName), Some(&env), "ECR"),
                WRONG_NAME,
            ),
            (
                fix(&refusing(CertificateProblem::Expired), None, "ECR"),
                CLOCK,
            ),
            (
                fix(
                    &refusing(CertificateProblem::NotYetValid),
                    Some(&env),
                    "ECR",
                ),
                CLOCK,
            ),
            (
                fix(&refused(), None, "ECR"),
                "check the node's route to the endpoint: in a VPC without internet access, the interface VPC endpoint com.amazonaws.us-west-2.ecr.api",
            ),
            (
                fix(&refused(), None, "ECR Public"),
                "ECR Public has no VPC endpoint",
            ),
        ];
        for (fix, expected) in table {
            assert!(fix.starts_with(expected), "{fix}");
        }
        assert!(
            token_timed_out(Endpoint::EcrApi, place, Some(&env))
                .fix
                .is_some_and(|fix| fix.contains("AWS_ENDPOINT_URL=http://127.0.0.1:9"))
        );
    }

    #[test]
    fn pull_fix_names_the_actions_and_the_repository() {
        let arn = "arn:aws:ecr:us-west-2:111122223333:repository/app";
        let fix = pull_fix(
            arn,
            "111122223333",
            Some(&caller("arn:aws:iam::111122223333:user/u", "111122223333")),
        );
        for needle in [
            PULL_POLICY,
            "arn:aws:iam::111122223333:user/u",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            arn,
        ] {
            assert!(fix.contains(needle), "{needle}: {fix}");
        }
        assert!(!fix.contains("repository policy"), "{fix}");
    }

    #[test]
    fn routes_name_the_vpc_endpoint_of_the_partition() {
        let commercial = Place::of_region("us-west-2");
        assert!(
            route_fix(Endpoint::EcrApi, commercial).contains("com.amazonaws.us-west-2.ecr.api")
        );
        assert!(
            route_fix(Endpoint::EcrDkr, commercial).contains("com.amazonaws.us-west-2.ecr.dkr")
        );
        assert!(
            route_fix(Endpoint::LayerStorage, commercial)
                .contains("S3 gateway endpoint com.amazonaws.us-west-2.s3")
        );
        let china = Place::of_region("cn-north-1");
        assert!(route_fix(Endpoint::EcrApi, china).contains("cn.com.amazonaws.cn-north-1.ecr.api"));
        assert!(route_fix(Endpoint::EcrPublic, commercial).contains("no VPC endpoint"));
    }

    #[test]
    fn the_trust_policy_fix_names_issuer_subject_and_audience() {
        let claims = TokenClaims {
            issuer: "https://oidc.eks.us-west-2.amazonaws.com/id/ABC".into(),
            subject: "system:serviceaccount:shop:cart".into(),
            audiences: vec!["sts.amazonaws.com".into()],
        };
        let denied = Failure::Service {
            code: "AccessDenied".into(),
            message: String::new(),
            status: 403,
            request_id: None,
        };
        let role = "arn:aws:iam::111122223333:role/pull";
        let advice = assume_role(&denied, role, Some(&claims), Place::of_region("us-west-2"));
        let fix = advice.fix.unwrap_or_default();
        for needle in [
            "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC",
            "\"oidc.eks.us-west-2.amazonaws.com/id/ABC:sub\":\"system:serviceaccount:shop:cart\"",
            "\"oidc.eks.us-west-2.amazonaws.com/id/ABC:aud\":\"sts.amazonaws.com\"",
        ] {
            assert!(fix.contains(needle), "{needle}: {fix}");
        }
        let unknown_issuer = Failure::Service {
            code: "InvalidIdentityToken".into(),
            message: String::new(),
            status: 400,
            request_id: None,
        };
        let advice = assume_role(
            &unknown_issuer,
            role,
            Some(&claims),
            Place::of_region("us-west-2"),
        );
        assert!(
            advice.fix.unwrap_or_default().contains("create-open-id-connect-provider --url https://oidc.eks.us-west-2.amazonaws.com/id/ABC --client-id-list sts.amazonaws.com")
        );
    }

    #[test]
    fn cross_account_pulls_need_a_repository_policy_naming_the_role() {
        let arn = "arn:aws:ecr:us-west-2:111122223333:repository/app";
        let session = caller(
            "arn:aws:sts::444455556666:assumed-role/node-role/i-0abc",
            "444455556666",
        );
        let fix = pull_fix(arn, "111122223333", Some(&session));
        assert!(
            fix.contains("repository policy")
                && fix.contains("\"arn:aws:iam::444455556666:role/node-role\""),
            "{fix}"
        );
    }
}
