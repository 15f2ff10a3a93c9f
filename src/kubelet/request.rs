//! The kubelet's wire protocol: CredentialProviderRequest in, CredentialProviderResponse out.
//! Pure. Requests are read leniently (newer kubelets add fields) but every field we use is
//! type-checked by name, so an error names the field and never echoes its value.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::secret::Secret;

pub(crate) const REQUEST_KIND: &str = "CredentialProviderRequest";
pub(crate) const RESPONSE_KIND: &str = "CredentialProviderResponse";
/// Read far more than any request needs, then stop: a runaway writer must not exhaust memory.
pub(crate) const MAX_REQUEST_BYTES: usize = 1 << 20;

/// The request versions the kubelet has spoken: v1alpha1 (1.20), v1beta1 (1.24), v1 (1.26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V1Alpha1,
    V1Beta1,
    V1,
}

impl ApiVersion {
    pub(crate) const ALL: [Self; 3] = [Self::V1, Self::V1Beta1, Self::V1Alpha1];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::V1Alpha1 => "credentialprovider.kubelet.k8s.io/v1alpha1",
            Self::V1Beta1 => "credentialprovider.kubelet.k8s.io/v1beta1",
            Self::V1 => "credentialprovider.kubelet.k8s.io/v1",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// A request that has been checked: the only form the rest of the program sees.
#[derive(Debug)]
pub struct Request {
    /// The response MUST be in the same version as the request.
    pub(crate) api_version: ApiVersion,
    pub(crate) image: String,
    /// KEP-4412: the pod's service-account token, present only with `tokenAttributes`.
    pub(crate) service_account_token: Option<Secret>,
    /// Only the annotations the provider config lists are passed by the kubelet.
    pub(crate) service_account_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("stdin is empty: expected a {REQUEST_KIND} in JSON, as the kubelet writes it")]
    Empty,
    #[error("the request on stdin is larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    #[error("the request on stdin is not UTF-8 text")]
    NotUtf8,
    #[error("the request on stdin is not valid JSON (line {line}, column {column})")]
    NotJson { line: usize, column: usize },
    #[error("the request on stdin is not a JSON object")]
    NotAnObject,
    #[error("the request has no {0:?} field")]
    Missing(&'static str),
    #[error("the request's {field:?} must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("the request's kind is \"{0}\", expected {REQUEST_KIND:?}")]
    WrongKind(String),
    #[error(
        "the request's apiVersion \"{0}\" is not supported; supported: credentialprovider.kubelet.k8s.io/v1, v1beta1 and v1alpha1"
    )]
    UnsupportedVersion(String),
}

/// Parses and checks the bytes the kubelet wrote on stdin.
pub fn parse(bytes: &[u8]) -> Result<Request, RequestError> {
    if bytes.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| RequestError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(RequestError::Empty);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| RequestError::NotJson {
        line: e.line(),
        column: e.column(),
    })?;
    let Value::Object(mut fields) = value else {
        return Err(RequestError::NotAnObject);
    };

    let kind = required_string(&mut fields, "kind")?;
    let api_version = required_string(&mut fields, "apiVersion")?;
    if kind != REQUEST_KIND {
        return Err(RequestError::WrongKind(truncated(&kind)));
    }
    let api_version = ApiVersion::parse(&api_version)
        .ok_or_else(|| RequestError::UnsupportedVersion(truncated(&api_version)))?;
    // An empty image is reported by image::parse, with the other image errors.
    let image = optional_string(&mut fields, "image")?.unwrap_or_default();
    let service_account_token = optional_string(&mut fields, "serviceAccountToken")?
        .filter(|token| !token.is_empty())
        .map(Secret::new);
    let service_account_annotations = annotations(fields.remove("serviceAccountAnnotations"))?;

    Ok(Request {
        api_version,
        image,
        service_account_token,
        service_account_annotations,
    })
}

fn required_string(
    fields: &mut serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<String, RequestError> {
    optional_string(fields, field)?.ok_or(RequestError::Missing(field))
}

/// JSON `null` reads as absent, as Go's decoder treats it.
fn optional_string(
    fields: &mut serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, RequestError> {
    match fields.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(RequestError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn annotations(value: Option<Value>) -> Result<BTreeMap<String, String>, RequestError> {
    let wrong_type = RequestError::WrongType {
        field: "serviceAccountAnnotations",
        expected: "an object of strings",
    };
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key, text)),
                _ => Err(wrong_type.clone()),
            })
            .collect(),
        Some(_) => Err(wrong_type),
    }
}

/// Kinds and versions are echoed in errors: escaped and bounded, a hostile one must not
/// flood or rewrite the kubelet's log.
fn truncated(text: &str) -> String {
    crate::sanitize::value(text)
}

/// How the kubelet keys its cache of our answer. We always answer per registry: one ECR
/// token is valid for every repository of a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum CacheKeyType {
    Registry,
}

#[derive(Debug, Serialize)]
pub(crate) struct AuthConfig<'a> {
    pub(crate) username: &'a str,
    pub(crate) password: &'a str,
}

/// The response exactly as the kubelet decodes it (strictly: no other field may appear).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Response<'a> {
    pub(crate) kind: &'static str,
    pub(crate) api_version: &'static str,
    pub(crate) cache_key_type: CacheKeyType,
    pub(crate) cache_duration: String,
    pub(crate) auth: BTreeMap<&'a str, AuthConfig<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_err(input: &str, expected: &RequestError) {
        assert_eq!(parse(input.as_bytes()).unwrap_err(), *expected, "{input}");
    }

    #[test]
    fn accepts_every_version_and_ignores_unknown_fields() {
        for version in ApiVersion::ALL {
            let input = format!(
                r#"{{"kind":"CredentialProviderRequest","apiVersion":"{}","image":"a/b","newField":{{"x":1}}}}"#,
                version.as_str()
            );
            let request = parse(input.as_bytes()).unwrap();
            assert_eq!(request.api_version, version);
            assert_eq!(request.image, "a/b");
            assert!(request.service_account_token.is_none());
        }
    }

    #[test]
    fn reads_service_account_token_and_annotations() {
        let input = br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1",
            "image":"x","serviceAccountToken":"jwt","serviceAccountAnnotations":{"eks.amazonaws.com/ecr-role-arn":"arn:aws:iam::1:role/r"}}"#;
        let request = parse(input).unwrap();
        assert_eq!(request.service_account_token.unwrap().expose(), "jwt");
        assert_eq!(
            request.service_account_annotations["eks.amazonaws.com/ecr-role-arn"],
            "arn:aws:iam::1:role/r"
        );
    }

    #[test]
    fn rejects_bad_input_naming_the_problem() {
        let v1 = "credentialprovider.kubelet.k8s.io/v1";
        check_err("", &RequestError::Empty);
        check_err(" \n\t", &RequestError::Empty);
        check_err("{", &RequestError::NotJson { line: 1, column: 1 });
        check_err("[]", &RequestError::NotAnObject);
        check_err("\"x\"", &RequestError::NotAnObject);
        check_err("{} {}", &RequestError::NotJson { line: 1, column: 4 });
        check_err(r#"{"apiVersion":"x"}"#, &RequestError::Missing("kind"));
        check_err(
            r#"{"kind":"CredentialProviderRequest"}"#,
            &RequestError::Missing("apiVersion"),
        );
        check_err(
            &format!(r#"{{"kind":"Pod","apiVersion":"{v1}"}}"#),
            &RequestError::WrongKind("Pod".into()),
        );
        check_err(
            r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v2"}"#,
            &RequestError::UnsupportedVersion("credentialprovider.kubelet.k8s.io/v2".into()),
        );
        check_err(
            &format!(r#"{{"kind":"CredentialProviderRequest","apiVersion":"{v1}","image":5}}"#),
            &RequestError::WrongType {
                field: "image",
                expected: "a string",
            },
        );
        check_err(
            &format!(
                r#"{{"kind":"CredentialProviderRequest","apiVersion":"{v1}","serviceAccountAnnotations":{{"a":1}}}}"#
            ),
            &RequestError::WrongType {
                field: "serviceAccountAnnotations",
                expected: "an object of strings",
            },
        );
        assert_eq!(parse(&[0xff, 0xfe]).unwrap_err(), RequestError::NotUtf8);
        assert_eq!(
            parse(&vec![b' '; MAX_REQUEST_BYTES + 1]).unwrap_err(),
            RequestError::TooLarge
        );
    }

    #[test]
    fn echoed_kinds_and_versions_are_escaped_and_bounded() {
        let kind = format!("Pod\n\u{1b}[2J{}", "x".repeat(100_000));
        let input = serde_json::json!({"kind": kind, "apiVersion": "v"}).to_string();
        let message = parse(input.as_bytes()).unwrap_err().to_string();
        assert!(
            message.starts_with("the request's kind is \"Pod\\n\\u{1b}[2Jxxx"),
            "{message}"
        );
        assert!(message.chars().count() < 300, "{message}");
    }

    #[test]
    fn a_token_of_the_wrong_type_is_never_echoed() {
        let input = r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","serviceAccountToken":["sekrit"]}"#;
        let message = parse(input.as_bytes()).unwrap_err().to_string();
        assert!(
            message.contains("serviceAccountToken") && !message.contains("sekrit"),
            "{message}"
        );
    }

    #[test]
    fn response_has_exactly_the_fields_the_kubelet_decodes() {
        let response = Response {
            kind: RESPONSE_KIND,
            api_version: ApiVersion::V1Beta1.as_str(),
            cache_key_type: CacheKeyType::Registry,
            cache_duration: "6h0m0s".into(),
            auth: BTreeMap::from([(
                "h",
                AuthConfig {
                    username: "AWS",
                    password: "p",
                },
            )]),
        };
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","cacheKeyType":"Registry","cacheDuration":"6h0m0s","auth":{"h":{"username":"AWS","password":"p"}}}"#
        );
    }
}
