//! A role to assume with a pod's service-account token (KEP-4412), and what that token's
//! claims say: the issuer, subject and audience a role's trust policy must name.

use crate::secret::Secret;

/// What a service-account token's claims say, read without verifying it: only to name the
/// issuer, subject and audience a role's trust policy must match. None of them is secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenClaims {
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) audiences: Vec<String>,
}

impl TokenClaims {
    /// The claims of a JWT, or `None` for a token that is not one.
    pub(crate) fn of(token: &str) -> Option<Self> {
        use base64::Engine as _;
        let payload = token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let text = |key: &str| json[key].as_str().unwrap_or_default().to_owned();
        let audiences = match &json["aud"] {
            serde_json::Value::String(one) => vec![one.clone()],
            serde_json::Value::Array(many) => many
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Some(Self {
            issuer: text("iss"),
            subject: text("sub"),
            audiences,
        })
    }
}

/// A role to assume with the pod's service-account token (KEP-4412).
#[derive(Debug)]
pub(crate) struct WebIdentity {
    pub(crate) role_arn: String,
    pub(crate) token: Secret,
}
