//! Error → the likely cause and what to do about it, in words a node operator can act on.
//! Pure: reads only the error. `check` and the one-line failure share these texts.

use crate::aws::{AwsError, Failure};
use crate::error::Error;
use crate::request::RequestError;

pub const PULL_POLICY: &str = "AmazonEC2ContainerRegistryPullOnly";
const NETWORK: &str = "check the node's route to the AWS API endpoint: security groups, the VPC endpoints com.amazonaws.REGION.ecr.api and ecr.dkr (and the S3 gateway for layers), and HTTPS_PROXY/NO_PROXY";

/// The fix for `error`, when there is something more useful to say than the error itself.
pub fn hint(error: &Error) -> Option<String> {
    let text = match error {
        Error::Usage(_) => "run `ecr-credential-provider --help` for usage".into(),
        Error::ReadStdin(_) | Error::Request(RequestError::Empty) => {
            "the kubelet writes a CredentialProviderRequest on stdin; by hand, run `ecr-credential-provider get IMAGE`".into()
        }
        Error::Request(_) => "see examples/request.json for a well-formed request".into(),
        Error::Image(_) | Error::InvalidRoleArn { .. } | Error::WriteStdout(_) => return None,
        Error::Aws(aws) => return aws_hint(aws),
        Error::Token { .. } => {
            "the endpoint answered, but not like ECR: check AWS_ENDPOINT_URL* and any proxy in between".into()
        }
        Error::Timeout { .. } => format!(
            "{NETWORK}; the deadline is set with --timeout or ECR_CREDENTIAL_PROVIDER_TIMEOUT (the kubelet kills a provider after 1m)"
        ),
    };
    Some(text)
}

fn aws_hint(error: &AwsError) -> Option<String> {
    let text = match error {
        AwsError::NoRegion { .. } => {
            "set AWS_REGION in this provider's env in the CredentialProviderConfig, or pull through an ECR host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)".into()
        }
        AwsError::Credentials { .. } => {
            "on EC2, check the instance profile and that instance metadata answers (a containerised kubelet needs an IMDS hop limit of 2 or more; a proxy must exempt 169.254.169.254 in NO_PROXY); elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the provider's env".into()
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
            "the endpoint answered, but not like ECR: check AWS_ENDPOINT_URL* and any proxy in between".into()
        }
    };
    Some(text)
}

fn failure_hint(failure: &Failure, action: &str) -> Option<String> {
    let text = match failure {
        Failure::Service { code, status, .. } => match code.as_str() {
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => format!(
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
                "AWS is throttling this call: too many nodes or pulls ask at once; a longer defaultCacheDuration does not help, ECR tokens are already cached for 6h".into()
            }
            _ if *status >= 500 => "AWS had a server error; the kubelet will retry on the next pull".into(),
            _ => return None,
        },
        Failure::Timeout { .. } | Failure::Unreachable { .. } => NETWORK.into(),
        Failure::BadResponse { .. } | Failure::Other { .. } => return None,
    };
    Some(text)
}
