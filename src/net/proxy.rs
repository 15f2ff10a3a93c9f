//! Which requests go through an HTTP proxy, and the connector that sends them there.
//!
//! The rules are Go's (golang.org/x/net/http/httpproxy, what upstream and the Go SDK use):
//! `HTTPS_PROXY` for https, `HTTP_PROXY` for http (upper case first, then lower; `ALL_PROXY` is
//! not read, as Go does not read it), and `NO_PROXY` entries of every form
//! Go accepts: `*`, a host (which also matches its subdomains), `.domain` or `*.domain`
//! (subdomains only), `host:port`, an IP, `[IPv6]:port`, a CIDR. Unlike Go, a loopback host is
//! proxied unless `NO_PROXY` names it, as curl does.
//!
//! Credential endpoints are never proxied, whatever the variables say: a proxy cannot reach
//! this node's link-local addresses, so instance metadata (169.254.169.254, fd00:ec2::254,
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`) and container credentials (169.254.170.2,
//! 169.254.170.23, fd00:ec2::23, `AWS_CONTAINER_CREDENTIALS_FULL_URI`) are reached directly.
//!
//! A proxy URL that cannot be used is an error naming the variable; a proxy's own refusal is
//! named as the proxy's. Neither ever shows the proxy's user:password.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::net::tls::{CertificateProblem, HttpsConnector, TunnelFailed};
use crate::net::trust::Trust;

/// Variables that name a proxy, in the order they are read, per scheme.
const HTTPS_VARS: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
const HTTP_VARS: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];
/// Where the SDK finds instance metadata and container credentials when told.
const CREDENTIAL_ENDPOINT_VARS: [&str; 2] = [
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];
/// The credential endpoints' fixed addresses that are not link-local: IMDS and EKS Pod
/// Identity over IPv6.
const CREDENTIAL_ADDRESSES: [&str; 2] = ["fd00:ec2::254", "fd00:ec2::23"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}={shown:?} is not a usable proxy URL: {problem}")]
pub(crate) struct ProxyUrlError {
    pub(crate) variable: &'static str,
    /// The value with any user:password taken out.
    pub(crate) shown: String,
    pub(crate) problem: String,
}

/// A proxy from the environment.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProxyUrl {
    /// The URL as given, user:password included: only for the connector.
    url: String,
    /// `scheme://host:port`, safe to show.
    pub(crate) shown: String,
    pub(crate) variable: &'static str,
    /// `scheme://host:port`, as a URI.
    uri: http::Uri,
    host: String,
    port: u16,
    tls: bool,
    basic_auth: Option<String>,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.shown, self.variable)
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the proxy {} from {}", self.shown, self.variable)
    }
}

/// Remembers (see `sanitize`) the credentials of the proxy URL `value` in every form they take
/// in what is sent or could be echoed back: the user:password as written, the password as
/// written and decoded, and the Basic credentials (base64 of `user:password`, and the whole
/// `Proxy-Authorization` value), which a proxy may repeat in its status line.
pub(crate) fn remember_credentials(value: &str) {
    let Some((_, userinfo, _)) = crate::sanitize::split_userinfo(value.trim()) else {
        return;
    };
    crate::sanitize::remember_secret(userinfo);
    if let Some((_, password)) = userinfo.split_once(':') {
        crate::sanitize::remember_secret(password);
        crate::sanitize::remember_secret(&percent_decode(password));
    }
    let basic = basic_auth(userinfo);
    crate::sanitize::remember_secret(basic.trim_start_matches("Basic "));
    crate::sanitize::remember_secret(&basic);
}

/// Remembers the credentials of every proxy URL the environment holds (see
/// `remember_credentials`); `ALL_PROXY` too, which is never read but could be echoed.
/// `app::main` calls it first, with `sanitize::remember_environment_secrets`.
pub(crate) fn remember_environment_credentials(env: impl Fn(&str) -> Option<String>) {
    for key in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        if let Some(url) = env(key) {
            remember_credentials(&url);
        }
    }
}

/// The `Proxy-Authorization` value for a URL's `user:password`, decoded as Go and hyper do.
fn basic_auth(userinfo: &str) -> String {
    use base64::Engine as _;
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let plain = format!("{}:{}", percent_decode(user), percent_decode(password));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(plain)
    )
}

impl ProxyUrl {
    /// Go's parseProxy: a value without a scheme means `http://`; only http and https
    /// proxies can carry the SDK's requests.
    fn parse(variable: &'static str, value: &str) -> Result<Self, ProxyUrlError> {
        let value = value.trim();
        remember_credentials(value);
        let (scheme, rest) = match value.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_owned(), value),
        };
        // A path after the address is ignored, as Go ignores it.
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        // Masked however the rest parses: a `/`, `?` or `#` in the password ends the authority
        // before its `@` (issue 19).
        let shown_value = crate::sanitize::without_userinfo(value);
        let fail = |problem: &str| ProxyUrlError {
            variable,
            shown: shown_value.clone(),
            problem: problem.to_owned(),
        };
        if userinfo.is_none() && path.contains('@') {
            return Err(fail(
                "a '/', '?' or '#' in the user:password ends the address before the '@': percent-encode them (%2F, %3F, %23)",
            ));
        }
        let tls = match scheme.as_str() {
            "http" => false,
            "https" => true,
            "socks5" | "socks5h" | "socks4" | "socks4a" => {
                return Err(fail(
                    "SOCKS proxies are not supported; use an http:// proxy",
                ));
            }
            _ => return Err(fail("the scheme must be http:// or https://")),
        };
        let (host, port) = split_host_port(host_port);
        if host.is_empty() {
            return Err(fail("there is no host"));
        }
        if host.contains(|c: char| c.is_whitespace() || c.is_control() || "\\\"<>^`{|}".contains(c))
        {
            return Err(fail("the host is not a host name"));
        }
        if host_port.starts_with('[') && host.parse::<IpAddr>().is_err() {
            return Err(fail("the bracketed host is not an IPv6 address"));
        }
        let port = match port {
            None => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| fail("the port must be a number from 1 to 65535"))?,
        };
        let host_shown = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let url = format!(
            "{scheme}://{}{host_shown}:{port}",
            userinfo.map(|u| format!("{u}@")).unwrap_or_default()
        );
        // Reject now what the connector would otherwise drop without a word.
        ProxyConfig::all(url.as_str()).map_err(|_| fail("it does not parse as a URL"))?;
        let basic_auth = userinfo.map(basic_auth);
        let shown = format!("{scheme}://{host_shown}:{port}");
        let uri = shown
            .parse()
            .map_err(|_| fail("it does not parse as a URL"))?;
        Ok(Self {
            url,
            shown,
            uri,
            variable,
            host: host.to_ascii_lowercase(),
            port,
            tls,
            basic_auth,
        })
    }

    /// The first hop of a TLS route through this proxy.
    fn hop(&self) -> crate::net::tls::ProxyHop {
        crate::net::tls::ProxyHop {
            uri: self.uri.clone(),
            basic_auth: self.basic_auth.clone(),
        }
    }

    fn config(&self) -> ProxyConfig {
        ProxyConfig::all(self.url.as_str()).unwrap_or_else(|_| ProxyConfig::disabled())
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's net.SplitHostPort, leniently: `[v6]:port`, `host:port`, or a bare host (an IPv6
/// address without brackets has no port).
fn split_host_port(text: &str) -> (&str, Option<&str>) {
    if let Some(rest) = text.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => (host, Some(port.strip_prefix(':').unwrap_or(port))),
            None => (text, None),
        };
    }
    match text.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, Some(port)),
        _ => (text, None),
    }
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bypass {
    All,
    Ip {
        ip: IpAddr,
        port: Option<u16>,
    },
    Network {
        network: IpAddr,
        prefix: u8,
    },
    /// `suffix` starts with a dot; `exact` also matches the name without it.
    Domain {
        suffix: String,
        exact: bool,
        port: Option<u16>,
    },
}

impl Bypass {
    /// Go's httpproxy config.init, entry by entry; what cannot be read is skipped, as there.
    fn parse_list(text: &str) -> Vec<Self> {
        let mut rules = Vec::new();
        for entry in text.split(',') {
            let entry = entry.trim().to_ascii_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                return vec![Self::All];
            }
            if let Some(rule) = parse_cidr(&entry) {
                rules.push(rule);
                continue;
            }
            let (host, port) = split_host_port(&entry);
            let port = match port {
                None => None,
                Some(port) => match port.parse::<u16>() {
                    Ok(port) => Some(port),
                    Err(_) => continue,
                },
            };
            if host.is_empty() {
                continue;
            }
            if let Ok(ip) = host.parse::<IpAddr>() {
                rules.push(Self::Ip { ip, port });
                continue;
            }
            let host = host.strip_prefix('*').unwrap_or(host);
            if host.is_empty() {
                continue;
            }
            let (suffix, exact) = match host.strip_prefix('.') {
                Some(_) => (host.to_owned(), false),
                None => (format!(".{host}"), true),
            };
            rules.push(Self::Domain {
                suffix,
                exact,
                port,
            });
        }
        rules
    }

    fn matches(&self, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
        let port_matches = |want: &Option<u16>| want.is_none_or(|want| want == port);
        match self {
            Self::All => true,
            Self::Ip { ip: want, port: p } => ip == Some(*want) && port_matches(p),
            Self::Network { network, prefix } => {
                ip.is_some_and(|ip| in_network(ip, *network, *prefix))
            }
            Self::Domain {
                suffix,
                exact,
                port: p,
            } => {
                (host.ends_with(suffix.as_str()) || (*exact && host == &suffix[1..]))
                    && port_matches(p)
            }
        }
    }
}

fn parse_cidr(entry: &str) -> Option<Bypass> {
    let (address, prefix) = entry.split_once('/')?;
    let network: IpAddr = address.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let bits = if network.is_ipv4() { 32 } else { 128 };
    (prefix <= bits).then_some(Bypass::Network { network, prefix })
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let mask = |bits: u32, width: u32| -> u128 {
        if bits == 0 {
            0
        } else {
            (u128::MAX << (width - bits)) & (u128::MAX >> (128 - width))
        }
    };
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let m = mask(u32::from(prefix), 32);
            u128::from(u32::from(ip)) & m == u128::from(u32::from(network)) & m
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let m = mask(u32::from(prefix), 128);
            u128::from(ip) & m == u128::from(network) & m
        }
        _ => false,
    }
}

/// The proxies from the environment and the hosts that bypass them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxies {
    https: Option<ProxyUrl>,
    http: Option<ProxyUrl>,
    bypass: Vec<Bypass>,
    /// `(host, port)` of the credential endpoints the environment names.
    credential_endpoints: Vec<(String, u16)>,
}

impl Proxies {
    /// Reads the proxy variables through `env` (an empty value counts as unset, as in Go).
    pub(crate) fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ProxyUrlError> {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|name| {
                env(name)
                    .filter(|value| !value.trim().is_empty())
                    .map(|value| (*name, value))
            })
        };
        let proxy = |names: &[&'static str]| {
            first(names)
                .map(|(name, value)| ProxyUrl::parse(name, &value))
                .transpose()
        };
        let credential_endpoints = CREDENTIAL_ENDPOINT_VARS
            .iter()
            .filter_map(|name| env(name))
            .filter_map(|value| {
                let uri: http::Uri = value.trim().parse().ok()?;
                let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                    Some("https") => 443,
                    _ => 80,
                });
                Some((host_of(&uri)?, port))
            })
            .collect();
        Ok(Self {
            https: proxy(&HTTPS_VARS)?,
            http: proxy(&HTTP_VARS)?,
            bypass: first(&NO_PROXY_VARS)
                .map(|(_, value)| Bypass::parse_list(&value))
                .unwrap_or_default(),
            credential_endpoints,
        })
    }

    /// The proxy for a request to `uri`, or `None` to connect directly.
    pub(crate) fn route(&self, uri: &http::Uri) -> Option<&ProxyUrl> {
        let (proxy, default_port) = match uri.scheme_str() {
            Some("https") => (self.https.as_ref()?, 443),
            Some("http") => (self.http.as_ref()?, 80),
            _ => return None,
        };
        let host = host_of(uri)?;
        let port = uri.port_u16().unwrap_or(default_port);
        let ip = host.parse::<IpAddr>().ok();
        if self.is_credential_endpoint(&host, ip, port)
            || self.bypass.iter().any(|rule| rule.matches(&host, ip, port))
        {
            return None;
        }
        Some(proxy)
    }

    fn is_credential_endpoint(&self, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
        let link_local = match ip {
            Some(IpAddr::V4(ip)) => ip.is_link_local(),
            Some(IpAddr::V6(ip)) => {
                ip.is_unicast_link_local()
                    || CREDENTIAL_ADDRESSES
                        .iter()
                        .any(|known| known.parse() == Ok(ip))
            }
            None => false,
        };
        link_local
            || self
                .credential_endpoints
                .iter()
                .any(|(h, p)| h == host && *p == port)
    }

    /// The SDK's HTTP client: every request routed by these rules, with `trust`.
    pub(crate) fn sdk_client(&self, trust: &Trust) -> RoutingClient {
        RoutingClient {
            trust: trust.clone(),
            proxies: Arc::new(self.clone()),
            connectors: Arc::default(),
        }
    }

    /// A connector for requests outside the SDK, each wait bounded by `timeout`.
    pub(crate) fn connector(&self, trust: &Trust, timeout: Duration) -> Routed {
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .build();
        Routed::new(
            trust.clone(),
            Arc::new(self.clone()),
            Some(settings),
            Some(SharedAsyncSleep::new(
                aws_smithy_async::rt::sleep::TokioSleep::new(),
            )),
        )
    }
}

/// The host of `uri`, lower case, without IPv6 brackets.
fn host_of(uri: &http::Uri) -> Option<String> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(host.to_ascii_lowercase())
}

/// (connect, read) timeouts: what tells the SDK's connector settings apart today.
type TimeoutKey = (Option<Duration>, Option<Duration>);

/// The SDK's HTTP client: one `Routed` connector per set of connector settings, as the SDK's
/// own client builds them.
#[derive(Debug, Clone)]
pub(crate) struct RoutingClient {
    trust: Trust,
    proxies: Arc<Proxies>,
    connectors: Arc<Mutex<Vec<(TimeoutKey, Routed)>>>,
}

impl RoutingClient {
    pub(crate) fn shared(&self) -> SharedHttpClient {
        SharedHttpClient::new(self.clone())
    }

    /// Starts the connection that a request to `uri` under `timeouts` will take (see
    /// `HttpsConnector::preconnect`).
    pub(crate) fn preconnect(&self, uri: &http::Uri, timeouts: &TimeoutConfig) {
        // The settings the SDK's orchestrator makes of its timeouts for every attempt.
        let mut settings = HttpConnectorSettings::builder();
        settings.set_connect_timeout(timeouts.connect_timeout());
        settings.set_read_timeout(timeouts.read_timeout());
        let sleep = SharedAsyncSleep::new(aws_smithy_async::rt::sleep::TokioSleep::new());
        self.routed(&settings.build(), Some(sleep)).preconnect(uri);
    }

    /// The connector for `settings`, made when first asked for.
    fn routed(&self, settings: &HttpConnectorSettings, sleep: Option<SharedAsyncSleep>) -> Routed {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, routed)) = connectors.iter().find(|(k, _)| *k == key) {
            return routed.clone();
        }
        let routed = Routed::new(
            self.trust.clone(),
            Arc::clone(&self.proxies),
            Some(settings.clone()),
            sleep,
        );
        connectors.push((key, routed.clone()));
        routed
    }
}

impl HttpClient for RoutingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.routed(settings, components.sleep_impl()))
    }
}

/// Sends each request directly or through its proxy, building each connector when first needed:
/// https:// requests over `tls::HttpsConnector`, http:// ones over the SDK's connector, which
/// needs no roots for them (issue 11).
#[derive(Debug, Clone)]
pub(crate) struct Routed {
    trust: Trust,
    proxies: Arc<Proxies>,
    settings: Option<HttpConnectorSettings>,
    sleep: Option<SharedAsyncSleep>,
    direct_https: Arc<OnceLock<HttpsConnector>>,
    proxied_https: Arc<OnceLock<HttpsConnector>>,
    direct_http: Arc<OnceLock<Result<Connector, String>>>,
    proxied_http: Arc<OnceLock<Result<Connector, String>>>,
}

impl Routed {
    fn new(
        trust: Trust,
        proxies: Arc<Proxies>,
        settings: Option<HttpConnectorSettings>,
        sleep: Option<SharedAsyncSleep>,
    ) -> Self {
        Self {
            trust,
            proxies,
            settings,
            sleep,
            direct_https: Arc::default(),
            proxied_https: Arc::default(),
            direct_http: Arc::default(),
            proxied_http: Arc::default(),
        }
    }

    fn https(&self, proxy: Option<&ProxyUrl>) -> &HttpsConnector {
        let slot = match proxy {
            None => &self.direct_https,
            Some(_) => &self.proxied_https,
        };
        slot.get_or_init(|| {
            let settings = self.settings.as_ref();
            let timeouts = crate::net::tls::Timeouts {
                connect: settings.and_then(HttpConnectorSettings::connect_timeout),
                read: settings.and_then(HttpConnectorSettings::read_timeout),
            };
            crate::net::tls::connector(self.trust.clone(), proxy.map(ProxyUrl::hop), timeouts)
        })
    }

    fn http(&self, proxy: Option<&ProxyUrl>) -> &Result<Connector, String> {
        let slot = match proxy {
            None => &self.direct_http,
            Some(_) => &self.proxied_http,
        };
        slot.get_or_init(|| {
            let mut builder = ConnectorBuilder::default();
            builder.set_connector_settings(self.settings.clone());
            builder.set_sleep_impl(self.sleep.clone());
            let config = proxy.map_or_else(ProxyConfig::disabled, ProxyUrl::config);
            // Through an https:// proxy, an http:// request still speaks TLS, to the proxy.
            let tls_to_proxy = proxy.is_some_and(|proxy| proxy.tls);
            self.trust.sdk_connector(builder, config, tls_to_proxy)
        })
    }

    /// Starts the connection a request to `uri` will take (see `HttpsConnector::preconnect`).
    fn preconnect(&self, uri: &http::Uri) {
        if uri.scheme_str() == Some("https") {
            self.https(self.proxies.route(uri)).preconnect(uri.clone());
        }
    }
}

impl HttpConnector for Routed {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let uri: Option<http::Uri> = request.uri().parse().ok();
        let https = uri.as_ref().and_then(http::Uri::scheme_str) == Some("https");
        let proxy = uri
            .as_ref()
            .and_then(|uri| self.proxies.route(uri))
            .cloned();
        let future = if https {
            self.https(proxy.as_ref()).call(request)
        } else {
            match self.http(proxy.as_ref()) {
                Ok(connector) => connector.call(request),
                Err(error) => HttpConnectorFuture::ready(Err(ConnectorError::other(
                    error.clone().into(),
                    None,
                ))),
            }
        };
        let Some(proxy) = proxy else {
            return future;
        };
        let target = uri.as_ref().map(authority_of).unwrap_or_default();
        let sent_credentials = proxy.basic_auth.is_some();
        HttpConnectorFuture::new(async move {
            match future.await {
                Ok(response) if is_proxys_refusal(&response, sent_credentials) => {
                    let status = response.status().as_u16();
                    let reason = http::StatusCode::from_u16(status)
                        .ok()
                        .and_then(|code| code.canonical_reason())
                        .unwrap_or_default();
                    let failure = ProxyFailure {
                        proxy,
                        target,
                        kind: FailureKind::Refused {
                            status: Some(status),
                            answer: Some(format!("{status} {reason}").trim_end().to_owned()),
                        },
                    };
                    Err(ConnectorError::other(Box::new(failure), None))
                }
                Ok(response) => Ok(response),
                Err(error) => Err(ProxyFailure::classify(proxy, target, error).await),
            }
        })
    }
}

/// Whether a plain-HTTP answer came from the proxy rather than through it: a 407, anything
/// carrying a proxy challenge, or (tinyproxy's way with wrong credentials) a 401 with a Basic
/// challenge when we sent the proxy Basic credentials; AWS's APIs never ask for Basic auth.
fn is_proxys_refusal(response: &HttpResponse, sent_credentials: bool) -> bool {
    let status = response.status().as_u16();
    let headers = response.headers();
    let basic_challenge = headers
        .get("www-authenticate")
        .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("basic"));
    status == 407
        || headers.contains_key("proxy-authenticate")
        || (status == 401 && sent_credentials && basic_challenge)
}

fn authority_of(uri: &http::Uri) -> String {
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    format!("{}:{port}", uri.host().unwrap_or_default())
}

/// A request that went to a proxy and failed there: the proxy's fault, named as the proxy's.
#[derive(Debug)]
pub(crate) struct ProxyFailure {
    pub(crate) proxy: ProxyUrl,
    /// `host:port` the request was for.
    pub(crate) target: String,
    kind: FailureKind,
}

#[derive(Debug)]
enum FailureKind {
    /// The proxy answered CONNECT (or a plain request) itself: its status and status line,
    /// when known.
    Refused {
        status: Option<u16>,
        answer: Option<String>,
    },
    /// The proxy could not be reached, or the tunnel broke.
    Unreachable(String),
    /// An https:// proxy's certificate failed the checks: what was wrong, and rustls' words.
    Certificate {
        problem: CertificateProblem,
        cause: String,
    },
}

impl fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FailureKind::Refused { answer, .. } => write!(
                f,
                "{} refused the connection to {}: it answered {}",
                self.proxy,
                self.target,
                answer.as_deref().unwrap_or("CONNECT with an error")
            ),
            FailureKind::Unreachable(cause) => write!(
                f,
                "could not reach {} to connect to {}: {cause}",
                self.proxy, self.target
            ),
            FailureKind::Certificate { problem, cause } => {
                let flaw = match problem {
                    CertificateProblem::Untrusted => "is not trusted",
                    CertificateProblem::WrongName => "is not issued for the proxy's name",
                    CertificateProblem::Expired => "has expired",
                    CertificateProblem::NotYetValid => "is not valid yet",
                    CertificateProblem::Other => "was refused",
                };
                write!(
                    f,
                    "could not reach {} to connect to {}: its TLS certificate {flaw} ({cause})",
                    self.proxy, self.target
                )
            }
        }
    }
}

impl std::error::Error for ProxyFailure {}

impl ProxyFailure {
    /// What to do about it.
    pub(crate) fn hint(&self) -> String {
        let variable = self.proxy.variable;
        match &self.kind {
            FailureKind::Refused {
                status: Some(401 | 407),
                ..
            } => format!(
                "the proxy wants (other) credentials: put them in {variable} as http://USER:PASSWORD@HOST:PORT (percent-encode special characters)"
            ),
            FailureKind::Refused { .. } => format!(
                "the proxy will not connect to {}: allow the AWS endpoints (*.amazonaws.com) on the proxy, or list the endpoint in NO_PROXY to go directly",
                self.target
            ),
            FailureKind::Unreachable(_) => format!(
                "check {variable}: is the proxy's address right and is it running? List the endpoint in NO_PROXY to go directly"
            ),
            FailureKind::Certificate {
                problem: CertificateProblem::WrongName,
                ..
            } => format!(
                "use a name the proxy's certificate is issued for in {variable} (an IP address needs an IP entry in the certificate)"
            ),
            FailureKind::Certificate {
                problem: CertificateProblem::Expired | CertificateProblem::NotYetValid,
                ..
            } => "check the node's clock (timedatectl), then the proxy's certificate dates".into(),
            FailureKind::Certificate { .. } => "point AWS_CA_BUNDLE at the CA certificate that signed the proxy's, or add it to the system's store".into(),
        }
    }

    /// Names a connector error on a proxied request as the proxy's, asking the proxy once more
    /// for its status when the tunnel was refused (the connector does not keep it).
    async fn classify(proxy: ProxyUrl, target: String, error: ConnectorError) -> ConnectorError {
        if error.is_timeout() {
            return error;
        }
        let text = crate::sanitize::error_chain(&error);
        let kind = if text.contains("proxy authorization required") {
            FailureKind::Refused {
                status: Some(407),
                answer: Some("CONNECT with 407 Proxy Authentication Required".into()),
            }
        } else if text.contains("tunnel error: unsuccessful") {
            let answer = connect_status(&proxy, &target).await;
            FailureKind::Refused {
                status: answer.as_ref().map(|(status, _)| *status),
                answer: answer.map(|(_, line)| line),
            }
        } else if let Some(problem) = CertificateProblem::of(&error) {
            let Some(tunnel) = crate::sanitize::find_source::<TunnelFailed>(&error) else {
                // The tunnel was made: the certificate on its far end is the endpoint's, or a
                // TLS-inspecting proxy's, whose CA AWS_CA_BUNDLE must name; not the proxy's
                // address.
                return error;
            };
            // The TLS to an https:// proxy, on the way to its tunnel: rustls' words for it.
            let cause = crate::sanitize::find_source::<rustls::Error>(tunnel)
                .map(|refusal| crate::sanitize::message(&refusal.to_string()))
                .unwrap_or_default();
            FailureKind::Certificate { problem, cause }
        } else if text.contains("tunnel") || error.is_io() {
            let cause = [
                (
                    "failed to create underlying connection",
                    "could not connect",
                ),
                ("unexpected end of file", "it closed the connection"),
                ("io error establishing tunnel", "the connection broke"),
            ]
            .iter()
            .find(|(known, _)| text.contains(known))
            .map_or_else(
                || text.trim_start_matches("io error: ").to_owned(),
                |(_, said)| (*said).to_owned(),
            );
            FailureKind::Unreachable(cause)
        } else {
            return error;
        };
        // The proxy's answer, or its certificate: a retry would get the same.
        let refused = matches!(
            kind,
            FailureKind::Refused { .. } | FailureKind::Certificate { .. }
        );
        let failure = Box::new(Self {
            proxy,
            target,
            kind,
        });
        if refused {
            ConnectorError::other(failure, None)
        } else {
            ConnectorError::io(failure)
        }
    }
}

/// The status a plain-HTTP proxy answers CONNECT with, and its line for the error message.
/// Bounded to two seconds; `None` when it cannot be had.
async fn connect_status(proxy: &ProxyUrl, target: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    if proxy.tls {
        return None;
    }
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((proxy.host.as_str(), proxy.port))
            .await
            .ok()?;
        let auth = proxy
            .basic_auth
            .as_ref()
            .map(|auth| format!("Proxy-Authorization: {auth}\r\n"))
            .unwrap_or_default();
        let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = vec![0; 512];
        let read = stream.read(&mut head).await.ok()?;
        let head = String::from_utf8_lossy(&head[..read]).into_owned();
        let line = head.lines().next()?;
        let mut parts = line.splitn(3, ' ');
        let _version = parts.next().filter(|v| v.starts_with("HTTP/"))?;
        let code = parts
            .next()
            .filter(|c| c.len() == 3)
            .and_then(|c| c.parse::<u16>().ok())?;
        // Scrubbed before it is cut: a proxy may echo the Proxy-Authorization sent to it, and
        // a cut secret would no longer be found.
        let reason: String = crate::sanitize::scrub(parts.next().unwrap_or_default())
            .chars()
            .filter(|c| !c.is_control())
            .take(60)
            .collect();
        let line = format!("CONNECT with {code} {}", reason.trim());
        Some((code, line.trim_end().to_owned()))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(vars: &[(&str, &str)]) -> Proxies {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Proxies::from_env(|key| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
            .unwrap()
    }

    #[test]
    fn the_environments_proxy_passwords_are_remembered() {
        use crate::sanitize::{REDACTED, message};
        remember_environment_credentials(|key| match key {
            "HTTPS_PROXY" => Some("http://user:proxy-pass-0123@proxy:3128".into()),
            "http_proxy" => Some("user:pa/ss#0123@proxy:3128".into()),
            _ => None,
        });
        assert_eq!(
            message("tunnel to http://user:proxy-pass-0123@proxy"),
            format!("tunnel to http://{REDACTED}@proxy")
        );
        assert_eq!(message("said pa/ss#0123"), format!("said {REDACTED}"));
    }

    #[track_caller]
    fn check_route(no_proxy: &str, uri: &str, proxied: bool) {
        let rules = proxies(&[
            ("HTTPS_PROXY", "http://proxy.internal:3128"),
            ("HTTP_PROXY", "http://proxy.internal:3128"),
            ("NO_PROXY", no_proxy),
        ]);
        let uri: http::Uri = uri.parse().unwrap();
        assert_eq!(
            rules.route(&uri).is_some(),
            proxied,
            "NO_PROXY={no_proxy:?} {uri}"
        );
    }

    #[test]
    fn no_proxy_forms_as_go_reads_them() {
        let api = "https://api.ecr.us-west-2.amazonaws.com";
        let table = [
            ("", api, true),
            ("*", api, false),
            ("*", "http://10.1.2.3:8080", false),
            ("api.ecr.us-west-2.amazonaws.com", api, false),
            ("API.ECR.us-west-2.amazonaws.com", api, false),
            ("amazonaws.com", api, false),
            ("amazonaws.com", "https://amazonaws.com", false),
            (".amazonaws.com", api, false),
            (".amazonaws.com", "https://amazonaws.com", true),
            ("*.amazonaws.com", api, false),
            ("*.amazonaws.com", "https://amazonaws.com", true),
            ("zonaws.com", api, true),
            ("api.ecr.us-west-2.amazonaws.com:443", api, false),
            ("api.ecr.us-west-2.amazonaws.com:8443", api, true),
            ("amazonaws.com:443", api, false),
            ("example.com, amazonaws.com", api, false),
            ("10.1.2.3", "http://10.1.2.3:8080", false),
            ("10.1.2.3:8080", "http://10.1.2.3:8080", false),
            ("10.1.2.3:9090", "http://10.1.2.3:8080", true),
            ("10.0.0.0/8", "http://10.1.2.3:8080", false),
            ("11.0.0.0/8", "http://10.1.2.3:8080", true),
            ("10.1.2.4", "http://10.1.2.3:8080", true),
            ("::1", "http://[::1]:8080", false),
            ("[::1]:8080", "http://[::1]:8080", false),
            ("[::1]:9", "http://[::1]:8080", true),
            ("fd00::/8", "http://[fd12::1]:80", false),
            ("0.0.0.0/0", "http://10.1.2.3", false),
            ("127.0.0.1", "http://127.0.0.1:1", false),
            // Unlike Go, loopback is proxied unless listed (as curl and the SDK do).
            ("", "http://127.0.0.1:1", true),
            // Unreadable entries are skipped, as Go skips them.
            (":80, host:notaport, example.com", api, true),
        ];
        for (no_proxy, uri, proxied) in table {
            check_route(no_proxy, uri, proxied);
        }
    }

    #[test]
    fn credential_endpoints_are_never_proxied() {
        let proxies = proxies(&[
            ("HTTPS_PROXY", "http://proxy.internal:3128"),
            ("HTTP_PROXY", "http://proxy.internal:3128"),
            (
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "http://metadata.internal:1338/",
            ),
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "https://creds.internal/v1/credentials",
            ),
        ]);
        for (uri, proxied) in [
            ("http://169.254.169.254/latest/api/token", false),
            ("http://[fd00:ec2::254]/latest/api/token", false),
            ("http://169.254.170.2/v2/credentials/x", false),
            ("http://169.254.170.23/v1/credentials", false),
            ("http://[fd00:ec2::23]/v1/credentials", false),
            ("http://[fe80::1]/", false),
            ("http://metadata.internal:1338/latest/api/token", false),
            ("http://metadata.internal:80/", true),
            ("https://creds.internal/v1/credentials", false),
            ("https://api.ecr.us-east-1.amazonaws.com/", true),
        ] {
            assert_eq!(
                proxies.route(&uri.parse().unwrap()).is_some(),
                proxied,
                "{uri}"
            );
        }
    }

    #[test]
    fn each_scheme_has_its_variable_upper_case_first() {
        let route = |vars: &[(&str, &str)], uri: &str| {
            proxies(vars)
                .route(&uri.parse().unwrap())
                .map(|p| (p.variable, p.shown.clone()))
        };
        let https = "https://api.ecr.us-east-1.amazonaws.com";
        assert_eq!(
            route(&[("HTTPS_PROXY", "a:1"), ("https_proxy", "b:2")], https),
            Some(("HTTPS_PROXY", "http://a:1".into()))
        );
        assert_eq!(
            route(&[("https_proxy", "https://b")], https),
            Some(("https_proxy", "https://b:443".into()))
        );
        assert_eq!(route(&[("HTTP_PROXY", "a:1")], https), None);
        assert_eq!(
            route(&[("HTTP_PROXY", "a:1")], "http://x"),
            Some(("HTTP_PROXY", "http://a:1".into()))
        );
        assert_eq!(
            // Go reads no ALL_PROXY: a SOCKS proxy set there for other tools is no error here.
            route(&[("ALL_PROXY", "socks5://c:3")], https),
            None
        );
        assert_eq!(route(&[("HTTPS_PROXY", "")], https), None);
        // A path is ignored, as Go ignores it.
        assert_eq!(
            route(&[("HTTPS_PROXY", "http://p:3128/some/path")], https),
            Some(("HTTPS_PROXY", "http://p:3128".into()))
        );
    }

    #[test]
    fn malformed_proxy_urls_name_the_variable_and_hide_the_password() {
        for (value, problem) in [
            ("socks5://proxy:1080", "SOCKS"),
            ("ftp://proxy", "scheme"),
            ("http://", "no host"),
            ("http://user:s3cret@", "no host"),
            ("http://proxy:99999", "port"),
            ("http://user:s3cret@proxy:x", "port"),
            ("http://pro xy:3128", "not a host name"),
            ("http://[not-v6]:1", "IPv6"),
            // Issue 19: a password with `/`, `?` or `#` ends Go's authority before the `@`.
            ("http://user:s3c/ret@proxy:3128", "percent-encode"),
            ("http://user:s3c?ret@proxy:3128", "percent-encode"),
            ("http://user:s3c#ret@proxy:3128", "percent-encode"),
            ("http://user:1234/s3cret@proxy:3128", "percent-encode"),
            ("user:s3c/ret@proxy:3128", "percent-encode"),
            ("http://user:s3c@ret@proxy:x", "port"),
        ] {
            let error = Proxies::from_env(|key| (key == "HTTPS_PROXY").then(|| value.to_owned()))
                .unwrap_err();
            let text = error.to_string();
            assert!(
                text.starts_with("HTTPS_PROXY=") && text.contains(problem),
                "{value}: {text}"
            );
            assert!(!text.contains("s3c") && !text.contains("ret@"), "{text}");
        }
    }

    #[test]
    fn credentials_stay_out_of_what_is_shown() {
        use base64::Engine as _;
        let proxy = ProxyUrl::parse("HTTPS_PROXY", "http://us%40er:p%3Ass@proxy:3128").unwrap();
        assert_eq!(proxy.shown, "http://proxy:3128");
        assert_eq!(format!("{proxy:?} {proxy}").matches("p%3Ass").count(), 0);
        let auth = proxy.basic_auth.unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"us@er:p:ss");
        // An `@` in the password: the last one ends the user:password, as in Go.
        let proxy = ProxyUrl::parse("HTTPS_PROXY", "http://user:p@ss-word@proxy:3128").unwrap();
        assert_eq!(proxy.shown, "http://proxy:3128");
        assert_eq!(
            crate::sanitize::scrub("echo p@ss-word"),
            "echo ** redacted **"
        );
    }
}
