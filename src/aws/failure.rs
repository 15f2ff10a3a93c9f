//! Why an AWS call failed, in words: the SDK's error → `Failure` (AWS's code and message, a
//! timeout, an unreachable endpoint, an unreadable answer) and `AwsError` (which call, where,
//! with which credentials). Server text is flattened to one bounded line; nothing secret or
//! raw from the wire is kept beyond AWS's own code and message.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::operation::RequestId;

use crate::proxy::ProxyFailure;

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
    /// A proxy on the way refused the request or could not be reached.
    Proxy {
        endpoint: Option<String>,
        cause: String,
        hint: String,
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
                let cause = dispatch
                    .as_connector_error()
                    .map_or_else(cause, |connector| error_chain(connector));
                // The endpoint was reached and answered, but not in HTTP a client can read.
                if spoke_http_badly(&cause) {
                    Self::BadResponse {
                        status: None,
                        cause,
                    }
                } else {
                    Self::Unreachable { endpoint, cause }
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
    pub fn code(&self) -> Option<&str> {
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

/// The text of the first `<tag>…</tag>` near the start of an XML error body.
fn xml_tag(body: &[u8], tag: &str) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]);
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))?;
    Some(text[start..start + end].trim().to_owned()).filter(|value| !value.is_empty())
}

fn find_source<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = error.source();
    }
    None
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
pub(super) fn one_line(text: &str) -> String {
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
