//! One request → one response: the kubelet's path (no command, or kOps's `get-credentials`),
//! shared by `get IMAGE`, the Docker helper and `check`'s role choice. Decides which role to
//! assume, asks AWS (through `aws`), decodes the token and shapes the answer. It never
//! writes to stdout or stderr; tracing is the only output, and it never holds a secret.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tracing::{debug, info, warn};

use crate::aws::{AuthorizationData, Session, Settings, WebIdentity};
use crate::cache::{self, Cache};
use crate::deadline::Progress;
use crate::duration;
use crate::error::Error;
use crate::image::{self, RegistryKind};
use crate::kubelet::request::{
    ApiVersion, AuthConfig, CacheKeyType, RESPONSE_KIND, Request, Response,
};
use crate::sanitize;
use crate::sanitize::REDACTED;
use crate::secret::Secret;
use crate::token;

/// Upstream's annotation for the role to assume with a service-account token.
pub(crate) const ECR_ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/ecr-role-arn";
/// The IRSA annotation, accepted when the ECR-specific one is absent (opt-in: the kubelet
/// passes only the annotations a provider config lists).
pub(crate) const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
pub(crate) const ROLE_ARN_ENV: &str = "AWS_ECR_ROLE_ARN";

#[derive(Debug)]
pub(crate) struct ProviderAnswer {
    pub(crate) api_version: ApiVersion,
    /// The `auth` key: the registry host as the image spells it.
    pub(crate) host: String,
    pub(crate) username: String,
    pub(crate) password: Secret,
    pub(crate) cache_duration: Duration,
}

impl ProviderAnswer {
    /// The CredentialProviderResponse as JSON; the password is redacted unless `reveal`.
    pub(crate) fn to_json(&self, reveal: bool) -> String {
        let password = if reveal {
            self.password.expose()
        } else {
            REDACTED
        };
        let response = Response {
            kind: RESPONSE_KIND,
            api_version: self.api_version.as_str(),
            cache_key_type: CacheKeyType::Registry,
            cache_duration: duration::format(self.cache_duration),
            auth: BTreeMap::from([(
                self.host.as_str(),
                AuthConfig {
                    username: &self.username,
                    password,
                },
            )]),
        };
        serde_json::to_string(&response)
            .unwrap_or_else(|_| unreachable!("a response of strings always serializes"))
    }
}

/// Serves one request. `role_arn_env` is `AWS_ECR_ROLE_ARN`; `cache` the shared token cache,
/// if on; `now` is when tokens are judged.
pub(crate) async fn answer(
    request: Request,
    role_arn_env: Option<String>,
    settings: &Settings,
    cache: Option<&Cache>,
    progress: &Progress,
    now: impl Fn() -> SystemTime,
) -> Result<ProviderAnswer, Error> {
    // The image is traced only once it is known to be one: a tenant's text must not reach
    // the log raw (issue 10).
    let registry = image::parse(&request.image)?;
    debug!(
        image = %request.image,
        api_version = request.api_version.as_str(),
        service_account_token = if request.service_account_token.is_some() { "present" } else { "absent" },
        annotations = ?request.service_account_annotations.keys().map(|key| sanitize::value(key)).collect::<Vec<_>>(),
        "request",
    );
    match &registry.kind {
        RegistryKind::Private(ecr) => debug!(
            host = %registry.host, kind = "private", partition = ecr.partition.id(), region = %ecr.region,
            registry_id = %ecr.registry_id, fips = ecr.fips, dual_stack = ecr.dual_stack, "classified",
        ),
        RegistryKind::Public => {
            debug!(host = %registry.host, kind = "public", region = crate::aws::ECR_PUBLIC_REGION, "classified");
        }
        RegistryKind::Unrecognized => warn!(
            host = %registry.host,
            kind = "unrecognized",
            fallback = true,
            "{:?} is not an ECR host; asking private ECR in the default AWS region, as upstream does",
            registry.host
        ),
    }
    let web_identity = web_identity(&request, role_arn_env.as_deref())?;
    let session = Session::open(&registry, web_identity.as_ref(), settings, progress).await?;
    info!(source = %session.credential_source, region = %session.region, "credentials");

    let service = session.service_name();
    // A service-account token's role is proven by STS on every exec, so its answers are not
    // shared through the cache: the kubelet already caches them per service account.
    let cache = cache.filter(|_| web_identity.is_none());
    let (token, expires_at) = match cache {
        None => {
            let data = fetch_token(&session, &request.image, progress).await?;
            (data.token, data.expires_at)
        }
        Some(cache) => {
            let key = cache_key(&session, &registry.host);
            let fetch = || fetch_token(&session, &request.image, progress);
            let left = settings
                .deadline
                .saturating_duration_since(tokio::time::Instant::now());
            let lock_wait = lock_wait(settings.attempt_timeout, left);
            match cache
                .through(&key, &now, lock_wait, progress, fetch)
                .await?
            {
                cache::Answer::Hit(cached) => {
                    info!(expires_at = %rfc3339(cached.expires_at), "token cache: hit");
                    (cached.token, Some(cached.expires_at))
                }
                cache::Answer::Fetched(data) => (data.token, data.expires_at),
                cache::Answer::Stale { cached, error } => {
                    warn!(
                        "{error}; answering with the cached token, valid until {}, and trying again on the next exec",
                        rfc3339(cached.expires_at)
                    );
                    (cached.token, Some(cached.expires_at))
                }
            }
        }
    };
    let credentials = token::decode(&token).map_err(|source| Error::Token { service, source })?;
    let now = now();
    let cache_duration = token::cache_duration(expires_at, now);
    if let Some(expires_at) = expires_at.filter(|at| *at <= now) {
        // Every pull will exec the provider again; say why, or nobody will find out.
        warn!(
            "the token's expiresAt {} is already past by this node's clock, so the kubelet will not cache it: check the node's clock",
            rfc3339(expires_at)
        );
    }
    debug!(
        cache_key_type = "Registry",
        cache_duration = %duration::format(cache_duration),
        auth = %registry.host,
        expires_at = %expires_at.map(rfc3339).unwrap_or_default(),
        "response",
    );
    Ok(ProviderAnswer {
        api_version: request.api_version,
        host: registry.host,
        username: credentials.username,
        password: credentials.password,
        cache_duration,
    })
}

/// The token cache's key for the registry `host`, asked for through `session`.
pub(crate) fn cache_key(session: &Session, host: &str) -> cache::Key {
    cache::Key::new(&cache::KeyParts {
        service: session.service_name(),
        registry: host,
        region: &session.region,
        endpoint: &session.endpoint_settings(),
        access_key_id: session.access_key_id(),
        credential_source: &session.credential_source,
    })
}

/// How long to wait for another exec filling the token cache: an attempt's timeout at most,
/// and never more than half of what is `left` of the run, so that when the holder is stuck
/// there is still time to ask AWS without the lock (issue 19).
fn lock_wait(attempt_timeout: Duration, left: Duration) -> Duration {
    attempt_timeout.min(left / 2)
}

/// GetAuthorizationToken, traced; a token that does not decode is an error here, so it is
/// never cached.
async fn fetch_token(
    session: &Session,
    image: &str,
    progress: &Progress,
) -> Result<AuthorizationData, Error> {
    let (data, latency) = session.authorization_token().await?;
    let service = session.service_name();
    debug!(
        service,
        region = %session.region,
        endpoint = progress.endpoint().as_deref().unwrap_or_default(),
        request_id = data.request_id.as_deref().unwrap_or_default(),
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        attempts = progress.attempts(),
        expires_at = %data.expires_at.map(rfc3339).unwrap_or_default(),
        proxy_endpoint = data.proxy_endpoint.as_deref().unwrap_or_default(),
        "GetAuthorizationToken",
    );
    info!(
        "a token lets the kubelet log in to the registry; pulling also needs ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the repository: run `ecr-credential-provider check {image}` to test them"
    );
    token::decode(&data.token).map_err(|source| Error::Token { service, source })?;
    Ok(data)
}

impl cache::Fetched for AuthorizationData {
    fn token(&self) -> &Secret {
        &self.token
    }

    fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

pub(crate) fn rfc3339(at: SystemTime) -> String {
    use aws_sdk_ecr::primitives::{DateTime, DateTimeFormat};
    DateTime::from(at)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
}

/// Which role a service-account token is traded for, and why: `check` and the trace say both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleChoice {
    /// `None`: node credentials (the default chain).
    pub(crate) role_arn: Option<String>,
    pub(crate) reason: String,
}

/// KEP-4412, upstream's precedence to the letter: the annotation `eks.amazonaws.com/ecr-role-arn`
/// when present — present but empty means node credentials, so one service account can opt out
/// of a node-wide `AWS_ECR_ROLE_ARN` — else the IRSA annotation (ours alone), else
/// `AWS_ECR_ROLE_ARN`, else node credentials.
pub(crate) fn choose_role(
    annotations: &BTreeMap<String, String>,
    role_arn_env: Option<&str>,
) -> Result<RoleChoice, Error> {
    let chosen = |role_arn: &str, reason: String| -> Result<RoleChoice, Error> {
        if !is_role_arn(role_arn) {
            return Err(Error::InvalidRoleArn {
                value: sanitize::value(role_arn),
                origin: reason,
            });
        }
        Ok(RoleChoice {
            role_arn: Some(role_arn.to_owned()),
            reason,
        })
    };
    let env = role_arn_env.filter(|value| !value.is_empty());
    match annotations.get(ECR_ROLE_ARN_ANNOTATION) {
        Some(value) if value.is_empty() => Ok(RoleChoice {
            role_arn: None,
            reason: format!(
                "annotation {ECR_ROLE_ARN_ANNOTATION} is present but empty: node credentials{}",
                if env.is_some() {
                    format!(", not {ROLE_ARN_ENV}")
                } else {
                    String::new()
                }
            ),
        }),
        Some(value) => chosen(value, format!("annotation {ECR_ROLE_ARN_ANNOTATION}")),
        None => match (
            annotations
                .get(ROLE_ARN_ANNOTATION)
                .filter(|v| !v.is_empty()),
            env,
        ) {
            (Some(value), _) => chosen(
                value,
                format!("annotation {ROLE_ARN_ANNOTATION} ({ECR_ROLE_ARN_ANNOTATION} is absent)"),
            ),
            (None, Some(value)) => chosen(value, format!("{ROLE_ARN_ENV} (no role annotation)")),
            (None, None) => Ok(RoleChoice {
                role_arn: None,
                reason: format!(
                    "no role annotation and no {ROLE_ARN_ENV}: the token is ignored, node credentials"
                ),
            }),
        },
    }
}

/// The role to assume for `request`, if it carries a service-account token and names one.
fn web_identity(
    request: &Request,
    role_arn_env: Option<&str>,
) -> Result<Option<WebIdentity>, Error> {
    let Some(token) = &request.service_account_token else {
        return Ok(None);
    };
    let choice = choose_role(&request.service_account_annotations, role_arn_env)?;
    match &choice.role_arn {
        Some(role_arn) => {
            info!(role_arn = %role_arn, why = %choice.reason, "assuming role with the service-account token");
        }
        None => {
            info!(why = %choice.reason, "a service-account token came without a role ARN; using the default credential chain");
        }
    }
    Ok(choice.role_arn.map(|role_arn| WebIdentity {
        role_arn,
        token: token.clone(),
    }))
}

/// `arn:PARTITION:iam::ACCOUNT:role/NAME`, loosely: enough to catch a pasted wrong value. IAM
/// names and paths are printable ASCII, so a space, a control character or anything beyond
/// ASCII is refused: the value comes from a tenant's annotation and ends up in logs.
fn is_role_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if !partition.is_empty() && !account.is_empty() && resource.starts_with("role/") && resource.len() > 5)
        && text.len() <= 2048
        && text.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: Option<&str>, annotations: &[(&str, &str)]) -> Request {
        Request {
            api_version: ApiVersion::V1,
            image: "public.ecr.aws/x".into(),
            service_account_token: token.map(Secret::new),
            service_account_annotations: annotations
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }

    const ROLE_A: &str = "arn:aws:iam::111122223333:role/a";
    const ROLE_B: &str = "arn:aws:iam::111122223333:role/b";
    const ROLE_C: &str = "arn:aws-cn:iam::111122223333:role/path/c";

    #[test]
    fn role_precedence_ecr_annotation_then_irsa_annotation_then_env() {
        let role = |req: &Request, env: Option<&str>| {
            web_identity(req, env)
                .unwrap()
                .map(|identity| identity.role_arn)
        };
        let both = request(
            Some("jwt"),
            &[
                (ECR_ROLE_ARN_ANNOTATION, ROLE_A),
                (ROLE_ARN_ANNOTATION, ROLE_B),
            ],
        );
        assert_eq!(role(&both, Some(ROLE_C)).as_deref(), Some(ROLE_A));
        let irsa = request(Some("jwt"), &[(ROLE_ARN_ANNOTATION, ROLE_B)]);
        assert_eq!(role(&irsa, Some(ROLE_C)).as_deref(), Some(ROLE_B));
        let none = request(Some("jwt"), &[]);
        assert_eq!(role(&none, Some(ROLE_C)).as_deref(), Some(ROLE_C));
        assert_eq!(role(&none, None), None);
        assert_eq!(role(&none, Some("")), None);
        // Present but empty: node credentials, never the env role nor the IRSA annotation.
        let opt_out = request(
            Some("jwt"),
            &[(ECR_ROLE_ARN_ANNOTATION, ""), (ROLE_ARN_ANNOTATION, ROLE_B)],
        );
        assert_eq!(role(&opt_out, Some(ROLE_C)), None);
        let choice = choose_role(&opt_out.service_account_annotations, Some(ROLE_C)).unwrap();
        assert!(
            choice.reason.contains("present but empty") && choice.reason.contains(ROLE_ARN_ENV),
            "{choice:?}"
        );
        let empty_irsa = request(Some("jwt"), &[(ROLE_ARN_ANNOTATION, "")]);
        assert_eq!(role(&empty_irsa, Some(ROLE_C)).as_deref(), Some(ROLE_C));
        let no_token = request(None, &[(ECR_ROLE_ARN_ANNOTATION, ROLE_A)]);
        assert_eq!(role(&no_token, Some(ROLE_C)), None);
    }

    #[test]
    fn a_value_that_is_no_role_arn_is_refused_by_name() {
        for bad in [
            "role-a",
            "arn:aws:iam::111122223333:user/u",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a\nE0101 forged",
            "arn:aws:iam::111122223333:role/a\u{1b}[2J",
            "arn:aws:iam::111122223333:role/a b",
        ] {
            let req = request(Some("jwt"), &[(ECR_ROLE_ARN_ANNOTATION, bad)]);
            match web_identity(&req, None) {
                Err(Error::InvalidRoleArn { origin, .. }) => {
                    assert_eq!(origin, format!("annotation {ECR_ROLE_ARN_ANNOTATION}"));
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_response_redacts_unless_asked() {
        let answer = ProviderAnswer {
            api_version: ApiVersion::V1,
            host: "h".into(),
            username: "AWS".into(),
            password: Secret::new("pw"),
            cache_duration: Duration::from_secs(21_600),
        };
        assert!(
            answer.to_json(false).contains(REDACTED) && !answer.to_json(false).contains("\"pw\"")
        );
        assert!(answer.to_json(true).contains("\"password\":\"pw\""));
        assert!(
            answer
                .to_json(true)
                .contains("\"cacheDuration\":\"6h0m0s\"")
        );
    }

    #[test]
    fn the_lock_wait_always_leaves_time_for_the_token_call() {
        let ms = Duration::from_millis;
        // (attempt timeout, left of the run) → wait
        let table = [
            (ms(10_000), ms(30_000), ms(10_000)),
            (ms(10_000), ms(12_000), ms(6_000)),
            // --timeout=400ms: an attempt may take all of it, the lock may not.
            (ms(400), ms(390), ms(195)),
            (ms(500), ms(0), ms(0)),
        ];
        for (attempt, left, expected) in table {
            assert_eq!(lock_wait(attempt, left), expected, "{attempt:?} {left:?}");
        }
    }
}
