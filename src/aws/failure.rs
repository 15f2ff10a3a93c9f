//! Why an AWS call failed, in words: the SDK's error → `Failure` (AWS's code and message, a
//! timeout, an unreachable endpoint, an unreadable answer) and `AwsError` (which call, where,
//! with which credentials). Server text is flattened to one bounded line, with every secret
//! the process knows scrubbed; codes and request ids are escaped and bounded like any value
//! taken from the wire (issue 10); nothing else raw from the wire is kept.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::operation::RequestId;

use crate::files::FileError;
use crate::net::limits;
use crate::net::proxy::ProxyFailure;
use crate::net::tls::CertificateProblem;
use crate::sanitize::{self, error_chain, find_source};

#[derive(Debug, thiserror::Error)]
pub(crate) enum AwsError {
    /// A host that is not ECR, and no region configured to fall back on.
    #[error(
        "no AWS region for {host}: it is not an ECR host, so the region must come from AWS_REGION, AWS_DEFAULT_REGION, the AWS profile or instance metadata, and none set one"
    )]
    NoRegion { host: String },
    /// A file the SDK would read is not one it can read safely.
    #[error(transparent)]
    File(#[from] FileError),
    /// The default credential chain found nothing, or a provider in it failed.
    #[error("could not load AWS credentials: {detail}")]
    Credentials { detail: String },
    #[error("STS AssumeRoleWithWebIdentity for role {role_arn} in {region} failed: {failure}")]
    AssumeRole {
        role_arn: String,
        region: String,
        failure: Failure,
        /// The token's issuer, subject and audience, for the trust-policy fix.
        claims: Option<super::web_identity::TokenClaims>,
    },
    #[error(
        "{service} GetAuthorizationToken in {region} with {credential_source} credentials failed: {failure}"
    )]
    Call {
        service: &'static str,
        region: String,
        credential_source: String,
        failure: Failure,
        /// The endpoint the user set for the call, if any: then the route to AWS's own
        /// endpoint is not the question.
        endpoint_override: Option<EndpointOverride>,
    },
    /// A reply that parsed but carries nothing to authenticate with.
    #[error("{service} GetAuthorizationToken in {region} answered without {what}")]
    EmptyReply {
        service: &'static str,
        region: String,
        what: &'static str,
    },
}

/// An endpoint the user set for a service, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointOverride {
    /// `AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL`, or the AWS profile's setting.
    pub(crate) origin: String,
    /// The URL, any user info in it masked, escaped and bounded.
    pub(crate) url: String,
}

impl EndpointOverride {
    /// `url` as set by `origin`; user info (`http://user:password@host`) never shown.
    pub(crate) fn new(origin: impl Into<String>, url: &str) -> Self {
        Self {
            origin: origin.into(),
            url: sanitize::value(&sanitize::without_userinfo(url)),
        }
    }
}

/// Why one AWS call failed, without anything secret or raw from the wire beyond AWS's
/// own error code and message.
#[derive(Debug)]
pub(crate) enum Failure {
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
        /// What was wrong with the certificate, when the TLS handshake refused it.
        certificate: Option<CertificateProblem>,
    },
    /// A proxy on the way refused the request or could not be reached.
    Proxy {
        endpoint: Option<String>,
        cause: String,
        hint: String,
    },
    /// The answer went past the ceiling on bodies (`net::limits`).
    TooLarge {
        endpoint: Option<String>,
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
            Self::TooLarge { endpoint } => {
                write!(f, "{}{}", limits::BodyTooLarge, at(endpoint))
            }
            Self::Unreachable {
                endpoint, cause, ..
            } => {
                write!(f, "could not reach the endpoint{}: {cause}", at(endpoint))
            }
            Self::Proxy {
                endpoint, cause, ..
            } => write!(f, "could not reach the endpoint{}: {cause}", at(endpoint)),
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
    pub(super) fn from_sdk<E>(
        error: &SdkError<E, aws_sdk_ecr::config::http::HttpResponse>,
        endpoint: Option<String>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let cause = || error_chain(error);
        match error {
            SdkError::ServiceError(service)
                if service.raw().status().is_success()
                    && service.err().code().is_none()
                    && xml_tag(service.raw().body().bytes().unwrap_or_default(), "Code")
                        .is_none() =>
            {
                // A 2xx the SDK could not read as the API's answer: not an AWS error at all.
                Self::BadResponse {
                    status: Some(service.raw().status().as_u16()),
                    cause: "the answer is not one this API gives".to_owned(),
                }
            }
            SdkError::ServiceError(service) => {
                let (code, message) = code_and_message(
                    service.err().code(),
                    service.err().message(),
                    service.raw().body().bytes().unwrap_or_default(),
                );
                Self::Service {
                    code,
                    message,
                    status: service.raw().status().as_u16(),
                    request_id: error.request_id().map(sanitize::value),
                }
            }
            _ if limits::is_body_too_large(error) => Self::TooLarge { endpoint },
            SdkError::TimeoutError(_) => Self::Timeout { endpoint },
            SdkError::DispatchFailure(dispatch) if dispatch.is_timeout() => {
                Self::Timeout { endpoint }
            }
            SdkError::DispatchFailure(dispatch)
                if let Some(proxy) = dispatch
                    .as_connector_error()
                    .and_then(|error| find_source::<ProxyFailure>(error)) =>
            {
                Self::Proxy {
                    endpoint,
                    cause: one_line(&proxy.to_string()),
                    hint: proxy.hint(),
                }
            }
            SdkError::DispatchFailure(dispatch) => {
                let connector = dispatch.as_connector_error();
                let certificate = connector.and_then(|connector| CertificateProblem::of(connector));
                let cause = match connector {
                    // Sorted as "other" only so that it is not retried: a label that says
                    // nothing, left out.
                    Some(connector) if certificate.is_some() => connector
                        .source()
                        .map_or_else(|| error_chain(connector), error_chain),
                    Some(connector) => error_chain(connector),
                    None => cause(),
                };
                // The endpoint was reached and answered, but not in HTTP a client can read.
                if spoke_http_badly(&cause) {
                    Self::BadResponse {
                        status: None,
                        cause,
                    }
                } else {
                    Self::Unreachable {
                        endpoint,
                        cause,
                        certificate,
                    }
                }
            }
            SdkError::ResponseError(response) => Self::BadResponse {
                status: Some(response.raw().status().as_u16()),
                cause: cause(),
            },
            _ => Self::Other { cause: cause() },
        }
    }

    /// The AWS error code, when AWS answered with one.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// hyper's words for an answer that is not well-formed HTTP (a huge head, garbage).
fn spoke_http_badly(cause: &str) -> bool {
    [
        "message head is too large",
        "invalid HTTP",
        "invalid URI",
        "invalid header",
    ]
    .iter()
    .any(|needle| cause.contains(needle))
}

/// AWS's error code and message, made safe to repeat: what the SDK parsed (from `__type`,
/// `X-Amzn-ErrorType` or the XML), else read from the body, since some servers (and
/// AWS-compatible emulators) answer a JSON API's denial in the XML of the query APIs.
pub fn code_and_message(
    parsed_code: Option<&str>,
    parsed_message: Option<&str>,
    body: &[u8],
) -> (String, String) {
    let code = parsed_code
        .map(str::to_owned)
        .or_else(|| xml_tag(body, "Code"))
        .filter(|code| !code.trim().is_empty());
    let message = parsed_message
        .map(str::to_owned)
        .or_else(|| xml_tag(body, "Message"));
    (
        code.map_or_else(|| "UnknownError".to_owned(), |code| sanitize::value(&code)),
        one_line(&message.unwrap_or_default()),
    )
}

/// The text of the first `<tag>…</tag>` near the start of an XML error body.
fn xml_tag(body: &[u8], tag: &str) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]);
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))?;
    Some(text[start..start + end].trim().to_owned()).filter(|value| !value.is_empty())
}

/// Messages come from servers and chains of errors: keep them to one bounded line.
pub(super) fn one_line(text: &str) -> String {
    sanitize::message(text)
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
    fn hostile_codes_and_messages_are_escaped_scrubbed_and_bounded() {
        crate::sanitize::remember_secret("failure-test-secret-key-0123");
        let code = format!("Denied\n{}\u{1b}[2J", "X".repeat(100_000));
        let message = "no\nkubelet: E0101 forged line failure-test-secret-key-0123";
        let (code, message) = code_and_message(Some(&code), Some(message), b"");
        assert!(
            code.starts_with("Denied\\nXXX") && code.chars().count() == 201,
            "{code}"
        );
        assert_eq!(message, "no kubelet: E0101 forged line ** redacted **");
        let body = b"<Error><Code>Bad\x1b]0;title\x07</Code><Message>m</Message></Error>";
        let (code, message) = code_and_message(None, None, body);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("Bad\\u{1b}]0;title\\u{7}", "m")
        );
        assert_eq!(code_and_message(Some(" "), None, b"{}").0, "UnknownError");
    }

    #[test]
    fn one_line_flattens_and_bounds_server_text() {
        assert_eq!(one_line("a\nb\r\n\tc  d"), "a b c d");
        let long = "x".repeat(1000);
        assert_eq!(one_line(&long).chars().count(), 401);
        assert_eq!(one_line("a\u{1b}[31mb"), "a [31mb");
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
