//! The registry side of a pull, made for real at the image's own host: the `/v2/` ping, the
//! login its challenge asks for (Basic, or a Bearer token fetched from the challenge's realm with
//! the ECR credentials, as containerd and skopeo do), the manifest and the first layer. Used by
//! `check` only; the kubelet path never talks to the registry. TLS trust and proxies are those
//! of the AWS calls (`net::trust`, `net::proxy`). Nothing of a response body reaches the caller but a bearer token.
//! The node's ECR token goes only to an ECR host, over https (or to the loopback stand-in a
//! `--registry-endpoint` names), and to a Bearer realm only on that same host or ECR Public's
//! own token service: never to a host a tenant's image or a registry's challenge names (issue 19).

use std::fmt::Write as _;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use base64::Engine as _;

use crate::aws::MANIFEST_MEDIA_TYPES;
use crate::image::{ECR_PUBLIC_HOSTS, RegistryHost, RegistryKind};
use crate::net::limits::CappedConnector;
use crate::net::proxy::{Proxies, Routed};
use crate::net::tls::CertificateProblem;
use crate::net::trust::Trust;
use crate::secret::Secret;
use crate::token::RegistryLogin;

/// A token or manifest larger than this is not a registry talking.
const MAX_BODY: usize = 1024 * 1024;

/// What the registry answered, with nothing of the body.
#[derive(Debug)]
pub(crate) struct RegistryReply {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) digest: Option<String>,
    pub(crate) challenge: Option<Challenge>,
    pub(crate) location: Option<String>,
    /// The layer digests of a manifest GET that returned an image manifest.
    pub(crate) layers: Vec<String>,
}

/// A `WWW-Authenticate` challenge (RFC 7235), as registries send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Other(String),
}

/// How the requests after the ping are authorised.
#[derive(Debug)]
pub(crate) enum Login {
    /// The registry asked for no login.
    Anonymous,
    Basic,
    /// A token from `realm`.
    Bearer {
        realm: String,
        token: Secret,
    },
}

impl Login {
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Anonymous => "no login asked".into(),
            Self::Basic => "Basic login".into(),
            Self::Bearer { realm, .. } => format!("Bearer token from {realm}"),
        }
    }
}

/// Why a request got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unreached {
    /// The host's name has no address.
    Resolve { host: String, cause: String },
    /// No connection, or no answer in time.
    Connect {
        host: String,
        cause: String,
        timeout: bool,
        /// What was wrong with the certificate, when the TLS handshake refused it.
        certificate: Option<CertificateProblem>,
    },
    /// Not even a request could be made.
    Invalid { cause: String },
}

impl std::fmt::Display for Unreached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resolve { host, cause } => write!(f, "{host} does not resolve: {cause}"),
            Self::Connect { cause, .. } | Self::Invalid { cause } => f.write_str(cause),
        }
    }
}

/// Why the Bearer login failed.
#[derive(Debug)]
pub(crate) enum LoginFailure {
    Unreached(Unreached),
    /// The token service answered with this status.
    Refused {
        realm: String,
        status: u16,
    },
    /// It answered 200 but with no token in it.
    NoToken {
        realm: String,
    },
    /// The realm is not one the ECR token may go to: nothing was sent there.
    ForeignRealm {
        realm: String,
    },
}

/// Why the ECR token is not sent to `registry` at all, or `None` when it is an ECR host. The
/// image's own host decides, as `image` classifies it, never where a test route sends it.
pub(crate) fn not_ecr(registry: &RegistryHost) -> Option<String> {
    matches!(registry.kind, RegistryKind::Unrecognized).then(|| {
        format!(
            "{} is neither a private ECR nor an ECR Public host, and the node's ECR token goes to ECR only",
            registry.host
        )
    })
}

/// What is wrong with a `--registry-endpoint`, if anything: the token goes there, so https://,
/// or plain http:// to a loopback address only (a stand-in on this machine).
pub(crate) fn endpoint_problem(url: &str) -> Option<&'static str> {
    let Some((authority, _)) = split_url(url) else {
        return Some("it must be https://HOST[:PORT], or http:// to a loopback address");
    };
    if url.starts_with("https://") {
        return None;
    }
    let (host, _) = host_port(&authority, true);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then_some(
        "plain http:// sends the ECR token in clear, so only to a loopback address (127.0.0.0/8, ::1, localhost): use https://",
    )
}

/// Whether the ECR token may go to the Bearer `realm` of the registry at `endpoint`: the
/// registry's own scheme, host and port (a realm elsewhere is not ECR's way, and may be
/// anyone's), or for an ECR Public image, https on ECR Public's own hosts (its token service
/// is `https://public.ecr.aws/token/`).
fn trusts_realm(endpoint: &str, public: bool, realm: &str) -> bool {
    let Some(realm) = origin(realm) else {
        return false;
    };
    let (https, host, port) = &realm;
    origin(endpoint).as_ref() == Some(&realm)
        || (public && *https && *port == 443 && ECR_PUBLIC_HOSTS.contains(&host.as_str()))
}

/// `(https, host in lower case, port)` of an http(s) URL.
fn origin(url: &str) -> Option<(bool, String, u16)> {
    let (authority, _) = split_url(url)?;
    let plain = url.starts_with("http://");
    let (host, port) = host_port(&authority, plain);
    Some((!plain, host.to_ascii_lowercase(), port))
}

pub(crate) struct RegistryClient {
    /// `https://host[:port]`, or the `--registry-endpoint`.
    endpoint: String,
    /// The image is ECR Public's: its token service may answer for it.
    public: bool,
    basic: Secret,
    connector: CappedConnector<Routed>,
    proxies: Proxies,
    routes: Vec<(String, Route)>,
    /// The connector of each `Route::Tls` host.
    pinned: Vec<(String, CappedConnector<SharedHttpConnector>)>,
}

/// Where a host's connections go instead of DNS's answer (debug builds, for tests only).
#[derive(Debug, Clone)]
#[cfg_attr(
    not(debug_assertions),
    allow(dead_code, reason = "release builds read no test routes")
)]
enum Route {
    /// Plain HTTP to this loopback `addr:port`, the original host kept in `Host`.
    To(String),
    /// HTTPS to `port` of the host, the host's name resolving to this loopback address: TLS
    /// sees the real name (SNI, certificate), only the port differs.
    Tls(std::net::IpAddr, u16),
    Unresolvable,
}

impl RegistryClient {
    /// A client for `registry`, at `https://HOST` or at `endpoint` (a `--registry-endpoint`).
    /// Refused, with the reason, when the token may not go there (see `not_ecr`,
    /// `endpoint_problem`).
    pub(crate) fn new(
        registry: &RegistryHost,
        endpoint: Option<&str>,
        login: &RegistryLogin,
        trust: &Trust,
        proxies: &Proxies,
        timeout: Duration,
    ) -> Result<Self, String> {
        if let Some(why) = not_ecr(registry) {
            return Err(why);
        }
        let endpoint = endpoint.map_or_else(|| format!("https://{}", registry.host), str::to_owned);
        if let Some(why) = endpoint_problem(&endpoint) {
            return Err(format!("{endpoint}: {why}"));
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            login.username,
            login.password.expose()
        ));
        let routes = test_routes();
        let pinned = pinned_connectors(&routes, trust, timeout);
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            public: matches!(registry.kind, RegistryKind::Public),
            basic: Secret::new(format!("Basic {basic}")),
            connector: CappedConnector(proxies.connector(trust, timeout)),
            proxies: proxies.clone(),
            routes,
            pinned,
        })
    }

    pub(crate) fn ping_url(&self) -> String {
        format!("{}/v2/", self.endpoint)
    }

    pub(crate) fn manifest_url(&self, repository: &str, reference: &str) -> String {
        format!("{}/v2/{repository}/manifests/{reference}", self.endpoint)
    }

    pub(crate) fn blob_url(&self, repository: &str, digest: &str) -> String {
        format!("{}/v2/{repository}/blobs/{digest}", self.endpoint)
    }

    /// GET `/v2/` without credentials: the registry says how it wants to be logged in to.
    pub(crate) async fn ping(&self) -> Result<RegistryReply, Unreached> {
        self.send("GET", &self.ping_url(), "*/*", None)
            .await
            .map(|(reply, _)| reply)
    }

    /// Logs in the way `challenge` asks; a Bearer token is fetched for pulling `repository`.
    pub(crate) async fn login(
        &self,
        challenge: Option<&Challenge>,
        repository: &str,
    ) -> Result<Login, LoginFailure> {
        let Some(Challenge::Bearer {
            realm,
            service,
            scope,
        }) = challenge
        else {
            return Ok(match challenge {
                None => Login::Anonymous,
                Some(_) => Login::Basic,
            });
        };
        if !trusts_realm(&self.endpoint, self.public, realm) {
            return Err(LoginFailure::ForeignRealm {
                realm: realm.clone(),
            });
        }
        let mut url = format!("{realm}?");
        if let Some(service) = service {
            let _ = write!(url, "service={}&", query_escape(service));
        }
        if let Some(scope) = scope {
            let _ = write!(url, "scope={}&", query_escape(scope));
        }
        let _ = write!(
            url,
            "scope={}",
            query_escape(&format!("repository:{repository}:pull"))
        );
        let (reply, body) = self
            .send("GET", &url, "application/json", Some(&self.basic))
            .await
            .map_err(LoginFailure::Unreached)?;
        if reply.status != 200 {
            return Err(LoginFailure::Refused {
                realm: realm.clone(),
                status: reply.status,
            });
        }
        let token = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| {
                ["token", "access_token"].iter().find_map(|key| {
                    json[key]
                        .as_str()
                        .filter(|t| !t.is_empty())
                        .map(Secret::new)
                })
            })
            .ok_or_else(|| LoginFailure::NoToken {
                realm: realm.clone(),
            })?;
        Ok(Login::Bearer {
            realm: realm.clone(),
            token,
        })
    }

    /// GET the manifest, accepting what a runtime accepts.
    pub(crate) async fn manifest(
        &self,
        repository: &str,
        reference: &str,
        login: &Login,
    ) -> Result<RegistryReply, Unreached> {
        let url = self.manifest_url(repository, reference);
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        self.authorised("GET", &url, &accept, login).await
    }

    fn layers(body: &[u8]) -> Vec<String> {
        let manifest: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        manifest["layers"]
            .as_array()
            .map(|layers| {
                layers
                    .iter()
                    .filter_map(|layer| layer["digest"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// HEAD a blob: ECR answers with a redirect to the layer's storage, a registry with 200.
    pub(crate) async fn blob(
        &self,
        repository: &str,
        digest: &str,
        login: &Login,
    ) -> Result<RegistryReply, Unreached> {
        let url = self.blob_url(repository, digest);
        self.authorised("HEAD", &url, "*/*", login).await
    }

    async fn authorised(
        &self,
        method: &str,
        url: &str,
        accept: &str,
        login: &Login,
    ) -> Result<RegistryReply, Unreached> {
        let bearer;
        let authorization = match login {
            Login::Anonymous => None,
            Login::Basic => Some(&self.basic),
            Login::Bearer { token, .. } => {
                bearer = Secret::new(format!("Bearer {}", token.expose()));
                Some(&bearer)
            }
        };
        let (mut reply, body) = self.send(method, url, accept, authorization).await?;
        reply.layers = Self::layers(&body);
        Ok(reply)
    }

    /// Resolves and connects to `host:443` (or `host:port`) the way the request would, without
    /// sending anything: enough to tell whether a layer's storage is reachable at all.
    pub(crate) async fn reach(&self, url: &str) -> Result<(), Unreached> {
        let (authority, _) = split_url(url).ok_or_else(|| Unreached::Invalid {
            cause: format!("invalid URL {url}"),
        })?;
        let (host, port) = host_port(&authority, url.starts_with("http://"));
        let address = match self.route(&host) {
            Some(Route::Unresolvable) => return Err(unresolvable(&host)),
            Some(Route::To(address)) => address,
            Some(Route::Tls(ip, port)) => std::net::SocketAddr::new(ip, port).to_string(),
            None => resolve(&host, port).await?,
        };
        tokio::net::TcpStream::connect(&address)
            .await
            .map(drop)
            .map_err(|error| Unreached::Connect {
                host: host.clone(),
                cause: format!("could not connect to {host}: {error}"),
                timeout: false,
                certificate: None,
            })
    }

    /// Whether a request to `url` goes through a proxy: then the proxy decides the route (and
    /// resolves names), and a direct lookup or connection from here proves nothing.
    pub(crate) fn proxied(&self, url: &str) -> bool {
        url.parse::<http::Uri>()
            .is_ok_and(|uri| self.proxies.route(&uri).is_some())
    }

    fn route(&self, host: &str) -> Option<Route> {
        self.routes
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(host))
            .map(|(_, route)| route.clone())
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        accept: &str,
        authorization: Option<&Secret>,
    ) -> Result<(RegistryReply, Vec<u8>), Unreached> {
        let invalid = |cause: String| Unreached::Invalid { cause };
        let (authority, path) =
            split_url(url).ok_or_else(|| invalid(format!("invalid URL {url}")))?;
        let (host, port) = host_port(&authority, url.starts_with("http://"));
        let mut connector: &dyn HttpConnector = &self.connector;
        let (target, host_header) = match self.route(&host) {
            Some(Route::Unresolvable) => return Err(unresolvable(&host)),
            Some(Route::To(address)) => (format!("http://{address}{path}"), Some(authority)),
            Some(Route::Tls(_, port)) => {
                if let Some((_, pinned)) = self.pinned.iter().find(|(name, _)| *name == host) {
                    connector = pinned;
                }
                (format!("https://{host}:{port}{path}"), Some(authority))
            }
            // Behind a proxy the proxy resolves the name; the node may not be able to.
            None if self.proxied(url) => (url.to_owned(), None),
            None => {
                resolve(&host, port).await?;
                (url.to_owned(), None)
            }
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri(&target)
            .header("accept", accept)
            .header(
                "user-agent",
                concat!("ecr-credential-provider/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(host_header) = host_header {
            request = request.header("host", host_header);
        }
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization.expose());
        }
        let request = request
            .body(SdkBody::empty())
            .map_err(|error| invalid(format!("invalid registry URL {url}: {error}")))?;
        let request = HttpRequest::try_from(request).map_err(|error| invalid(error.to_string()))?;
        let response = connector
            .call(request)
            .await
            .map_err(|error| Unreached::Connect {
                host: host.clone(),
                cause: crate::sanitize::error_chain(&error),
                timeout: error.is_timeout(),
                certificate: CertificateProblem::of(&error),
            })?;
        let header = |name: &str| response.headers().get(name).map(crate::sanitize::value);
        let reply = RegistryReply {
            status: response.status().as_u16(),
            content_type: header("content-type"),
            digest: header("docker-content-digest"),
            challenge: header("www-authenticate").map(|value| parse_challenge(&value)),
            location: header("location"),
            layers: Vec::new(),
        };
        let body = if reply.status == 200 && method == "GET" {
            read_capped(response.into_body()).await
        } else {
            Vec::new()
        };
        Ok((reply, body))
    }
}

async fn read_capped(body: SdkBody) -> Vec<u8> {
    let mut stream = ByteStream::new(body);
    let mut bytes = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Vec::new();
        }
        bytes.extend_from_slice(&chunk);
    }
    bytes
}

fn unresolvable(host: &str) -> Unreached {
    Unreached::Resolve {
        host: host.to_owned(),
        cause: "no address (NXDOMAIN)".into(),
    }
}

/// DNS, as the connection would do it, so that a name that does not resolve is told apart
/// from an address that does not answer. Returns `addr:port` of the first address.
async fn resolve(host: &str, port: u16) -> Result<String, Unreached> {
    let host_only = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::net::lookup_host((host_only, port)).await {
        Ok(mut addresses) => addresses
            .next()
            .map(|address| address.to_string())
            .ok_or_else(|| unresolvable(host)),
        Err(error) => Err(Unreached::Resolve {
            host: host.to_owned(),
            cause: error.to_string(),
        }),
    }
}

/// `scheme://authority/path?query` → (authority, `/path?query`).
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    (!authority.is_empty()).then(|| (authority.to_owned(), path.to_owned()))
}

/// `host[:port]` → (host, port), the port defaulting to the scheme's.
fn host_port(authority: &str, plain: bool) -> (String, u16) {
    let default = if plain { 80 } else { 443 };
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            match port.parse() {
                Ok(port) if !host.contains(':') || host.starts_with('[') => (host.to_owned(), port),
                _ => (authority.to_owned(), default),
            }
        }
        _ => (authority.to_owned(), default),
    }
}

fn query_escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// `Bearer realm="…",service="…",scope="…"` → the challenge; quoted values may hold commas.
pub(crate) fn parse_challenge(value: &str) -> Challenge {
    let value = value.trim();
    let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Challenge::Basic;
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Challenge::Other(scheme.to_owned());
    }
    let mut pairs = Vec::new();
    let mut rest = params.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        pairs.push((key, value.to_owned()));
        rest = next.trim_start().trim_start_matches(',');
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    match get("realm") {
        Some(realm) => Challenge::Bearer {
            realm,
            service: get("service"),
            scope: get("scope"),
        },
        None => Challenge::Other("Bearer without a realm".into()),
    }
}

#[cfg(debug_assertions)]
fn pinned_connectors(
    routes: &[(String, Route)],
    trust: &Trust,
    timeout: Duration,
) -> Vec<(String, CappedConnector<SharedHttpConnector>)> {
    routes
        .iter()
        .filter_map(|(host, route)| match route {
            Route::Tls(ip, _) => {
                let timeouts = crate::net::tls::Timeouts {
                    connect: Some(timeout),
                    read: Some(timeout),
                };
                let connector = crate::net::tls::pinned(trust.clone(), *ip, timeouts);
                Some((host.clone(), CappedConnector(connector)))
            }
            _ => None,
        })
        .collect()
}

#[cfg(not(debug_assertions))]
fn pinned_connectors(
    _: &[(String, Route)],
    _: &Trust,
    _: Duration,
) -> Vec<(String, CappedConnector<SharedHttpConnector>)> {
    Vec::new()
}

/// `ECR_CREDENTIAL_PROVIDER_TEST_HOSTS=host=127.0.0.1:PORT,b=tls:127.0.0.1:PORT,c=unresolvable`:
/// lets tests reach ECR host names on loopback, over plain HTTP or over TLS with the host's
/// own name. Compiled into debug builds only; release builds ignore it.
#[cfg(debug_assertions)]
fn test_routes() -> Vec<(String, Route)> {
    let Ok(value) = std::env::var("ECR_CREDENTIAL_PROVIDER_TEST_HOSTS") else {
        return Vec::new();
    };
    value
        .split(',')
        .filter_map(|entry| {
            let (host, target) = entry.split_once('=')?;
            let route = if target == "unresolvable" {
                Route::Unresolvable
            } else if let Some(address) = target.strip_prefix("tls:") {
                let address: std::net::SocketAddr = address.parse().ok()?;
                Route::Tls(address.ip(), address.port())
            } else {
                Route::To(target.to_owned())
            };
            Some((host.trim().to_owned(), route))
        })
        .collect()
}

#[cfg(not(debug_assertions))]
fn test_routes() -> Vec<(String, Route)> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_as_registries_send_them() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws",scope="aws""#
            ),
            Challenge::Bearer {
                realm: "https://public.ecr.aws/token/".into(),
                service: Some("public.ecr.aws".into()),
                scope: Some("aws".into()),
            }
        );
        assert_eq!(
            parse_challenge(
                r#"bearer realm="https://auth.docker.io/token", scope="repository:a/b:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: None,
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        assert_eq!(
            parse_challenge(
                r#"Basic realm="https://111122223333.dkr.ecr.us-west-2.amazonaws.com/",service="ecr.amazonaws.com""#
            ),
            Challenge::Basic
        );
        assert!(matches!(parse_challenge("Bearer"), Challenge::Other(_)));
        assert!(matches!(parse_challenge("Negotiate"), Challenge::Other(_)));
    }

    #[test]
    fn the_token_goes_to_a_bearer_realm_on_the_registrys_own_host_only() {
        let private = "https://111122223333.dkr.ecr.us-west-2.amazonaws.com";
        for (endpoint, public, realm, trusted) in [
            (
                "https://public.ecr.aws",
                true,
                "https://public.ecr.aws/token/",
                true,
            ),
            (
                "https://public.ecr.aws",
                true,
                "https://PUBLIC.ECR.AWS:443/token",
                true,
            ),
            (
                "https://ecr-public.aws.com",
                true,
                "https://public.ecr.aws/token/",
                true,
            ),
            (
                "http://127.0.0.1:5000",
                true,
                "https://public.ecr.aws/token/",
                true,
            ),
            (
                "https://public.ecr.aws",
                true,
                "http://public.ecr.aws/token/",
                false,
            ),
            (
                "https://public.ecr.aws",
                true,
                "https://public.ecr.aws:8443/token/",
                false,
            ),
            (
                "https://public.ecr.aws",
                true,
                "https://auth.docker.io/token",
                false,
            ),
            (
                "https://public.ecr.aws",
                true,
                "https://public.ecr.aws@evil.example/t",
                false,
            ),
            (
                "https://public.ecr.aws",
                true,
                "https://evil.example#@public.ecr.aws/",
                false,
            ),
            (private, false, &format!("{private}/token"), true),
            (private, false, "https://public.ecr.aws/token/", false),
            (
                private,
                false,
                "http://111122223333.dkr.ecr.us-west-2.amazonaws.com/token",
                false,
            ),
            (private, false, "http://127.0.0.1:9/token", false),
            (private, false, "ftp://x/token", false),
            (
                "http://127.0.0.1:5000",
                false,
                "http://127.0.0.1:5000/token",
                true,
            ),
            (
                "http://127.0.0.1:5000",
                false,
                "http://127.0.0.1:5001/token",
                false,
            ),
        ] {
            assert_eq!(
                trusts_realm(endpoint, public, realm),
                trusted,
                "{endpoint} {realm}"
            );
        }
    }

    #[test]
    fn a_registry_endpoint_is_https_or_loopback() {
        for (url, fine) in [
            ("https://registry.example:5000", true),
            ("http://127.0.0.1:5000", true),
            ("http://127.1.2.3", true),
            ("http://[::1]:5000", true),
            ("http://localhost:5000/", true),
            ("http://10.0.0.1:5000", false),
            ("http://registry.example", false),
            ("http://[::2]:5000", false),
            ("ftp://127.0.0.1", false),
            ("127.0.0.1:5000", false),
        ] {
            assert_eq!(endpoint_problem(url).is_none(), fine, "{url}");
        }
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(
            split_url("https://h.example:5000/v2/"),
            Some(("h.example:5000".into(), "/v2/".into()))
        );
        assert_eq!(
            split_url("https://h.example"),
            Some(("h.example".into(), "/".into()))
        );
        assert_eq!(split_url("ftp://x/"), None);
        assert_eq!(
            host_port("h.example:5000", false),
            ("h.example".into(), 5000)
        );
        assert_eq!(host_port("h.example", false), ("h.example".into(), 443));
        assert_eq!(host_port("h.example", true), ("h.example".into(), 80));
        assert_eq!(host_port("[::1]:8443", false), ("[::1]".into(), 8443));
        assert_eq!(
            query_escape("repository:team/app:pull"),
            "repository%3Ateam%2Fapp%3Apull"
        );
    }
}
