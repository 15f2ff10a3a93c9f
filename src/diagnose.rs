//! Error → the likely cause and what to do about it, in words a node operator can act on.
//! Pure: reads only the error. `check` and the one-line failure share these texts.

use std::fmt::Write as _;

use crate::aws::{AwsError, CallerIdentity, Failure};
use crate::error::{Error, WAITING_FOR_STDIN};
use crate::request::RequestError;

pub const PULL_POLICY: &str = "AmazonEC2ContainerRegistryPullOnly";
const NOT_ECR: &str =
    "the endpoint answered, but not like ECR: check AWS_ENDPOINT_URL* and any proxy in between";
const UNTRUSTED: &str = "the endpoint's TLS certificate is not trusted: behind a TLS-inspecting proxy, point AWS_CA_BUNDLE at the proxy's CA certificate";
pub const NETWORK: &str = "check the node's route to the endpoint: security groups, the VPC endpoints com.amazonaws.REGION.ecr.api and ecr.dkr (and the S3 gateway for layers), and HTTPS_PROXY/NO_PROXY";
/// No answer in time: a route that drops packets, or a server that is not ECR.
const NO_ANSWER: &str = "nothing answered in time: if nothing accepts the connection, check the node's route to the endpoint (security groups, the VPC endpoints com.amazonaws.REGION.ecr.api and ecr.dkr, HTTPS_PROXY/NO_PROXY); a server that accepts but answers slowly or without end is not ECR: check AWS_ENDPOINT_URL* and any proxy in between";
/// The answer began but never ended: the route works, the server is the trouble.
const UNFINISHED: &str = "the endpoint began to answer but did not finish: ECR answers in well under a second, so this is not ECR or a proxy holds the answer: check AWS_ENDPOINT_URL* and HTTPS_PROXY";
const STDIN_OPEN: &str = "the kubelet writes one request and closes stdin; whatever runs this provider must do the same (by hand, `ecr-credential-provider get IMAGE` builds the request)";

/// The fix for `error`, when there is something more useful to say than the error itself.
pub fn hint(error: &Error) -> Option<String> {
    let text = match error {
        Error::Usage(message) => usage_hint(message),
        Error::ReadStdin(_) | Error::Request(RequestError::Empty) => {
            "to try it by hand, `ecr-credential-provider get IMAGE` builds the request for you".into()
        }
        Error::Request(_) => r#"the kubelet writes {"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"HOST/REPOSITORY"}; by hand, `ecr-credential-provider get IMAGE` builds it"#.into(),
        Error::Image(_) | Error::InvalidRoleArn { .. } | Error::WriteStdout(_) | Error::Startup(_) | Error::Interrupted { .. } => {
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
        Error::Tls(_) => "point AWS_CA_BUNDLE at a readable PEM file of CA certificates, or unset it to trust the system's roots".into(),
        Error::Token { .. } => {
            NOT_ECR.into()
        }
        Error::Timeout { waiting_for, .. } if waiting_for == WAITING_FOR_STDIN => STDIN_OPEN.into(),
        Error::Timeout { answer_started: true, .. } => format!(
            "{UNFINISHED}; the deadline is set with --timeout or ECR_CREDENTIAL_PROVIDER_TIMEOUT (the kubelet kills a provider after 1m)"
        ),
        Error::Timeout { .. } => format!(
            "{NO_ANSWER}; the deadline is set with --timeout or ECR_CREDENTIAL_PROVIDER_TIMEOUT (the kubelet kills a provider after 1m)"
        ),
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

fn aws_hint(error: &AwsError) -> Option<String> {
    let text = match error {
        AwsError::NoRegion { .. } => {
            "set AWS_REGION in this provider's env in the CredentialProviderConfig, or pull through an ECR host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)".into()
        }
        AwsError::Credentials { .. } => {
            "on EC2, check the instance profile and that instance metadata answers (a containerised kubelet needs an IMDS hop limit of 2 or more); elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the provider's env".into()
        }
        AwsError::AssumeRole { failure, .. } => match failure.code() {
            Some("AccessDenied") => {
                "the role's trust policy must allow sts:AssumeRoleWithWebIdentity for this service account's OIDC issuer, subject and audience (tokenAttributes.serviceAccountTokenAudience)".into()
            }
            Some("InvalidIdentityToken" | "IDPRejectedClaim") => {
                "AWS does not trust the token's issuer or audience: register the cluster's OIDC issuer as an IAM identity provider with this audience".into()
            }
            Some("ExpiredTokenException") => "the service-account token has expired".into(),
            _ => return failure_hint(failure, "sts:AssumeRoleWithWebIdentity"),
        },
        AwsError::Call { service, failure, .. } => {
            let action = if *service == "ECR" {
                "ecr:GetAuthorizationToken"
            } else {
                "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
            };
            return failure_hint(failure, action);
        }
        AwsError::EmptyReply { .. } => {
            NOT_ECR.into()
        }
        AwsError::File(_) => {
            "point the setting at a regular file of a sensible size, or unset it".into()
        }
    };
    Some(text)
}

pub fn failure_hint(failure: &Failure, action: &str) -> Option<String> {
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
        Failure::Unreachable { cause, .. } if cause.contains("certificate") => UNTRUSTED.into(),
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

pub fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation"
    )
}

/// The actions a pull needs on the repository, beyond the token.
pub const PULL_ACTIONS: [&str; 3] = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
];

/// How to let `caller` pull from the repository `repository_arn`: an identity policy, and
/// across accounts a repository policy too.
pub fn pull_fix(
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
