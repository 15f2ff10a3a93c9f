//! Docker's side of the node: the credential-helper protocol spoken when the binary runs as
//! `docker-credential-ecr-login` (linked or copied under that name), and the Docker config JSON
//! of pull secrets (`get IMAGE --format dockerconfigjson`). Tokens come from `get::answer`,
//! the kubelet path's core, so hosts, credentials, the token cache, deadline and tracing are
//! the same.
//!
//! It answers only for ECR hosts: any other server URL gets the protocol's "not found" without
//! a call to AWS, so an ECR token never goes to another registry. The protocol's own answers
//! ("not found", a missing server URL, usage) go to stdout, the only stream docker reads; a
//! failure of ours goes through the usual error line on stderr and, for docker, on stdout too.
//!
//! Like amazon-ecr-credential-helper, it caches tokens by default (issue 22), in the kubelet
//! path's cache, which touches only its own files (ecr-login's `cache.json` beside them stays
//! as it is). The directory, first that applies: `ECR_CREDENTIAL_PROVIDER_CACHE_DIR` (ours, as
//! is); none when `AWS_ECR_DISABLE_CACHE` is not empty; `AWS_ECR_CACHE_DIR` when not empty;
//! `~/.ecr`. A leading `~` or `~/` is the home directory as ecr-login finds it (`HOME`, else
//! the user database; on Windows `HOME`, `USERPROFILE`, `HOMEDRIVE` + `HOMEPATH`); `~user` is
//! not expanded and means no cache. A directory a variable names that cannot be used is a
//! warning; `~/.ecr`, which nobody asked for, only says so in the trace: docker shows a
//! helper's stderr on every pull, and ecr-login is silent there too.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use tracing::{debug, warn};

use crate::aws::{AwsError, Session, Settings};
use crate::cache::Cache;
use crate::cli::{
    self, DISABLE_CACHE_ENV, ECR_LOGIN_CACHE_DIR_ENV, HELPER_NAME, IGNORE_STORAGE_ENV, PROGRAM,
};
use crate::commands::get::{self, ProviderAnswer};
use crate::deadline::{Progress, Stdin};
use crate::error::Error;
use crate::image::{self, ECR_PUBLIC_HOSTS, RegistryHost, RegistryKind};
use crate::kubelet::request::{ApiVersion, Request};
use crate::{output, runtime, token, trace};

/// The text docker and containers/image look for to fall back to anonymous access.
pub(crate) const NOT_FOUND: &str = "credentials not found in native keychain";
pub(crate) const MISSING_SERVER_URL: &str = "no credentials server URL";
pub(crate) const MISSING_USERNAME: &str = "no credentials username";
/// amazon-ecr-credential-helper's answer to `store` and `erase`: credentials docker hands over
/// are never kept (ECR tokens are fetched, and cached, by the helper itself).
pub(crate) const NOT_IMPLEMENTED: &str = "not implemented";
const DEFAULT_CACHE_DIR: &str = "~/.ecr";

/// Whether `program` (`argv[0]`) is this helper's name, with or without a directory and `.exe`.
pub(crate) fn is_invoked_as(program: &OsStr) -> bool {
    let Some(name) = Path::new(program).file_name().and_then(OsStr::to_str) else {
        return false;
    };
    let stem = match name.len().checked_sub(4) {
        Some(at) if name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(".exe") => {
            &name[..at]
        }
        _ => name,
    };
    stem == HELPER_NAME
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Get,
    List,
    Store,
    Erase,
    Version,
    Help,
    /// Not exactly one argument.
    Usage,
    Unknown(String),
}

/// docker-credential-helpers' `Serve`: exactly one argument, the action.
fn action(args: &[OsString]) -> Action {
    let [arg] = args else {
        return Action::Usage;
    };
    match arg.to_string_lossy().as_ref() {
        "get" => Action::Get,
        "list" => Action::List,
        "store" => Action::Store,
        "erase" => Action::Erase,
        "version" | "--version" | "-v" => Action::Version,
        "--help" | "-h" => Action::Help,
        other => Action::Unknown(other.to_owned()),
    }
}

fn usage() -> String {
    format!("Usage: {HELPER_NAME} <store|get|erase|list|version>")
}

/// What one action answers: text for stdout and whether it succeeded.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// Exit 0 with this on stdout (nothing when empty).
    Done(String),
    /// Exit 1 with the protocol's message on stdout.
    Refused(String),
}

/// The helper's whole run: `args` are the arguments after `argv[0]`.
pub(crate) fn main(args: impl Iterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.collect();
    let reply = match action(&args) {
        Action::Usage => Ok(Reply::Refused(usage())),
        Action::Help => Ok(Reply::Done(usage())),
        Action::Version => Ok(Reply::Done(format!(
            "{HELPER_NAME} ({}) v{}",
            PROGRAM,
            env!("CARGO_PKG_VERSION")
        ))),
        Action::Unknown(action) => Ok(Reply::Refused(format!(
            "{HELPER_NAME}: unknown action: {action}"
        ))),
        action => serve(action),
    };
    let (text, code) = match reply {
        Ok(Reply::Done(text)) => (text, ExitCode::SUCCESS),
        Ok(Reply::Refused(text)) => (text, ExitCode::FAILURE),
        Err(error) => {
            output::error(&error);
            (output::error_text(&error), ExitCode::FAILURE)
        }
    };
    if text.is_empty() {
        return code;
    }
    match output::stdout(&text) {
        Ok(()) => code,
        Err(error) => {
            output::error(&Error::WriteStdout(error));
            ExitCode::FAILURE
        }
    }
}

/// The actions that read stdin or call AWS, under the run's deadline. Tracing, the deadline and
/// the token cache come from the environment only (`ECR_CREDENTIAL_PROVIDER_TRACE`, `…_TIMEOUT`,
/// `…_CACHE_DIR` and ecr-login's `AWS_ECR_*`): Docker passes no flags.
fn serve(action: Action) -> Result<Reply, Error> {
    let settings = cli::parse(std::iter::empty(), |key| std::env::var(key).ok())?;
    trace::init(settings.trace);
    for warning in &settings.warnings {
        warn!("{warning}");
    }
    let ignore_storage = std::env::var(IGNORE_STORAGE_ENV).is_ok_and(|value| value == "true");
    // Opened only when a token is asked for: a host that is not ECR costs no disk access.
    let ours = settings.cache_dir.as_deref();
    let open_cache = move || {
        open_cache(cache_dir(
            ours,
            |key| std::env::var_os(key),
            || {
                home_dir(
                    |key| std::env::var_os(key),
                    cfg!(windows),
                    std::env::home_dir,
                )
            },
        ))
    };
    runtime::block_on(settings.timeout, |aws, progress| async move {
        let stdin = || {
            progress.reading_stdin(
                format!("the input of {HELPER_NAME} on stdin"),
                Stdin::DockerClient,
            );
            runtime::read_stdin()
        };
        match action {
            Action::Get => get(&server_url(&stdin().await?), &aws, open_cache, &progress).await,
            Action::List => Ok(list(&aws, open_cache().as_ref(), &progress).await),
            Action::Store => Ok(store(&stdin().await?, ignore_storage)),
            Action::Erase => Ok(erase(&server_url(&stdin().await?), ignore_storage)),
            other => unreachable!("{other:?} is answered without a runtime"),
        }
    })
}

/// The server URL as docker-credential-helpers reads it: every line joined, then trimmed.
pub fn server_url(input: &[u8]) -> String {
    String::from_utf8_lossy(input)
        .lines()
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Where the helper keeps its tokens, and how loudly a place that cannot be used is said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CacheDir {
    /// Named by a variable: if it cannot be used, that is a warning.
    Named(PathBuf),
    /// ecr-login's `~/.ecr`, which nobody asked for: if it cannot be used, the trace says so.
    Default(PathBuf),
    /// No cache, and why; `warn` when a variable asked for one.
    Off { why: String, warn: bool },
}

/// The cache directory by the precedence the module's doc gives. `ours` is
/// `ECR_CREDENTIAL_PROVIDER_CACHE_DIR`; `home` is asked only to expand a `~`.
fn cache_dir(
    ours: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
    home: impl FnOnce() -> Option<PathBuf>,
) -> CacheDir {
    if let Some(dir) = ours {
        return CacheDir::Named(dir.to_owned());
    }
    // ecr-login's test is `os.Getenv(…) != ""`: "false" and "0" turn the cache off too.
    if env(DISABLE_CACHE_ENV).is_some_and(|value| !value.is_empty()) {
        return CacheDir::Off {
            why: format!("{DISABLE_CACHE_ENV} is set"),
            warn: false,
        };
    }
    let named = env(ECR_LOGIN_CACHE_DIR_ENV).filter(|dir| !dir.is_empty());
    let dir = named
        .clone()
        .unwrap_or_else(|| OsString::from(DEFAULT_CACHE_DIR));
    match (expand_home(&dir, home), named) {
        (Ok(path), Some(_)) => CacheDir::Named(path),
        (Ok(path), None) => CacheDir::Default(path),
        (Err(why), Some(_)) => CacheDir::Off {
            why: format!(
                "{ECR_LOGIN_CACHE_DIR_ENV}={:?}: {why}",
                cli::bounded(&dir.to_string_lossy())
            ),
            warn: true,
        },
        (Err(why), None) => CacheDir::Off {
            why: format!("{DEFAULT_CACHE_DIR}: {why}"),
            warn: false,
        },
    }
}

/// go-homedir's `Expand`, as ecr-login calls it: `~` and `~/…` (or `~\…`) start at the home
/// directory; `~user` is refused; anything else is taken as it is.
fn expand_home(dir: &OsStr, home: impl FnOnce() -> Option<PathBuf>) -> Result<PathBuf, String> {
    let path = Path::new(dir);
    let Ok(rest) = path.strip_prefix("~") else {
        return if dir.as_encoded_bytes().starts_with(b"~") {
            Err("only ~ and ~/ are expanded, not ~user".into())
        } else {
            Ok(path.to_owned())
        };
    };
    let home = home().ok_or("there is no home directory to expand ~ to")?;
    Ok(if rest.as_os_str().is_empty() {
        home
    } else {
        home.join(rest)
    })
}

/// The home directory as go-homedir finds it for ecr-login: `HOME`, else (`user_database`) the
/// user's entry; on Windows `HOME`, `USERPROFILE`, then `HOMEDRIVE` and `HOMEPATH` together.
fn home_dir(
    env: impl Fn(&str) -> Option<OsString>,
    windows: bool,
    user_database: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    let var = |key| env(key).filter(|value| !value.is_empty());
    if let Some(home) = var("HOME") {
        return Some(home.into());
    }
    if !windows {
        return user_database().filter(|home| !home.as_os_str().is_empty());
    }
    if let Some(profile) = var("USERPROFILE") {
        return Some(profile.into());
    }
    let (mut drive, path) = (var("HOMEDRIVE")?, var("HOMEPATH")?);
    drive.push(path);
    Some(drive.into())
}

/// The cache in `dir`, if it can be used; `None` goes on without it, saying why as `dir` says.
fn open_cache(dir: CacheDir) -> Option<Cache> {
    match dir {
        CacheDir::Named(path) => runtime::open_cache(Some(&path)),
        CacheDir::Default(path) => Cache::open(&path)
            .inspect_err(|error| {
                debug!(
                    "the token cache directory {} is not usable ({error}); going on without the cache",
                    path.display()
                );
            })
            .ok(),
        CacheDir::Off { why, warn: true } => {
            warn!("{why}; going on without the token cache");
            None
        }
        CacheDir::Off { why, warn: false } => {
            debug!("no token cache: {why}");
            None
        }
    }
}

/// Whether a server URL is one we answer for: private ECR or ECR Public, never anything else.
pub fn ecr_registry(server_url: &str) -> Option<RegistryHost> {
    image::parse(server_url)
        .ok()
        .filter(|registry| !matches!(registry.kind, RegistryKind::Unrecognized))
}

async fn get(
    server_url: &str,
    settings: &Settings,
    open_cache: impl FnOnce() -> Option<Cache>,
    progress: &Progress,
) -> Result<Reply, Error> {
    if server_url.is_empty() {
        return Ok(Reply::Refused(MISSING_SERVER_URL.into()));
    }
    let Some(registry) = ecr_registry(server_url) else {
        debug!(server_url, "not an ECR host: not found, without asking AWS");
        return Ok(Reply::Refused(NOT_FOUND.into()));
    };
    // Opened only now: a host that is not ECR costs no disk access either.
    let cache = open_cache();
    match get::answer(
        request(server_url),
        None,
        settings,
        cache.as_ref(),
        progress,
        SystemTime::now,
    )
    .await
    {
        Ok(answer) => Ok(Reply::Done(helper_json(server_url, &answer))),
        // Public images pull anonymously: with no AWS identity at hand, that still works.
        Err(error) if registry.kind == RegistryKind::Public => {
            warn!(
                "{error}; answering {NOT_FOUND:?}, so the client pulls from ECR Public anonymously"
            );
            Ok(Reply::Refused(NOT_FOUND.into()))
        }
        // Private ECR never serves anonymous pulls: the cause is worth more than a 401.
        Err(error) => Err(error),
    }
}

fn request(image: &str) -> Request {
    Request {
        api_version: ApiVersion::V1,
        image: image.to_owned(),
        service_account_token: None,
        service_account_annotations: BTreeMap::new(),
    }
}

#[derive(Serialize)]
struct HelperCredentials<'a> {
    #[serde(rename = "ServerURL")]
    server_url: &'a str,
    #[serde(rename = "Username")]
    username: &'a str,
    #[serde(rename = "Secret")]
    secret: &'a str,
}

fn helper_json(server_url: &str, answer: &ProviderAnswer) -> String {
    serde_json::to_string(&HelperCredentials {
        server_url,
        username: &answer.username,
        secret: answer.password.expose(),
    })
    .unwrap_or_else(|_| unreachable!("strings always serialize"))
}

/// amazon-ecr-credential-helper's `list`: it primes its cache with the caller's own registry
/// (the default region's, asked every time, as ecr-login does) and ECR Public (through the
/// cache), then lists every registry the cache holds a token for, of any identity, by its
/// https URL, with the user name. Without a cache (ecr-login then answers `{}`) it lists what
/// it just fetched. What fails is left out with a warning; the answer is still a JSON object,
/// as docker expects.
async fn list(settings: &Settings, cache: Option<&Cache>, progress: &Progress) -> Reply {
    let mut listed = BTreeMap::new();
    for entry in [
        own_registry(settings, cache, progress).await,
        public_registry(settings, cache, progress).await,
    ] {
        match entry {
            Ok((server, username)) => {
                listed.insert(server, username);
            }
            Err(error) => warn!("list: {error}"),
        }
    }
    for (host, token) in cache.map(Cache::registries).unwrap_or_default() {
        // A cache shared with the kubelet may hold other hosts (its fall-back for mirrors).
        if ecr_registry(&host).is_none() {
            continue;
        }
        if let Ok(credentials) = token::decode(&token) {
            listed.insert(format!("https://{host}"), credentials.username);
        }
    }
    Reply::Done(
        serde_json::to_string(&listed).unwrap_or_else(|_| unreachable!("strings serialize")),
    )
}

/// The caller's own registry: GetAuthorizationToken without registry ids, whose proxyEndpoint
/// names it. Stored in the cache as that host's token, as ecr-login stores it, so a `get` for
/// it needs no call of its own.
async fn own_registry(
    settings: &Settings,
    cache: Option<&Cache>,
    progress: &Progress,
) -> Result<(String, String), Error> {
    let registry = RegistryHost {
        host: "the caller's own registry".into(),
        kind: RegistryKind::Unrecognized,
    };
    let session = Session::open(&registry, None, settings, progress).await?;
    let (data, _) = session.authorization_token().await?;
    let service = session.service_name();
    let credentials =
        token::decode(&data.token).map_err(|source| Error::Token { service, source })?;
    let server = data.proxy_endpoint.ok_or_else(|| AwsError::EmptyReply {
        service,
        region: session.region.clone(),
        what: "a proxy endpoint",
    })?;
    // Only a private ECR host of the session's own region: the key must be the one a `get`
    // for that host computes.
    let own = ecr_registry(&server).filter(
        |registry| matches!(&registry.kind, RegistryKind::Private(ecr) if ecr.region == session.region),
    );
    if let (Some(cache), Some(registry), Some(expires_at)) = (cache, own, data.expires_at) {
        let key = get::cache_key(&session, &registry.host);
        if let Err(error) = cache.write(&key, &data.token, expires_at, SystemTime::now()) {
            debug!(%error, "list: the token cache was not written");
        }
    }
    Ok((server, credentials.username))
}

/// ECR Public, as a `get` for it asks: through the cache.
async fn public_registry(
    settings: &Settings,
    cache: Option<&Cache>,
    progress: &Progress,
) -> Result<(String, String), Error> {
    let host = ECR_PUBLIC_HOSTS[0];
    let answer = get::answer(
        request(host),
        None,
        settings,
        cache,
        progress,
        SystemTime::now,
    )
    .await?;
    Ok((format!("https://{host}"), answer.username))
}

/// `store`: docker-credential-helpers' checks of the input, then amazon-ecr-credential-helper's
/// answer. The input carries a secret: it is never echoed.
fn store(input: &[u8], ignore_storage: bool) -> Reply {
    let text = String::from_utf8_lossy(input).lines().collect::<String>();
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(&text) else {
        return Reply::Refused(
            "the credentials on stdin are not a JSON object such as {\"ServerURL\":…,\"Username\":…,\"Secret\":…}".into(),
        );
    };
    // Go's JSON decoding matches field names without regard to case.
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.as_str())
            .unwrap_or_default()
    };
    if field("ServerURL").is_empty() {
        return Reply::Refused(MISSING_SERVER_URL.into());
    }
    if field("Username").is_empty() {
        return Reply::Refused(MISSING_USERNAME.into());
    }
    not_stored("store", ignore_storage)
}

fn erase(server_url: &str, ignore_storage: bool) -> Reply {
    if server_url.is_empty() {
        return Reply::Refused(MISSING_SERVER_URL.into());
    }
    not_stored("erase", ignore_storage)
}

fn not_stored(action: &str, ignore_storage: bool) -> Reply {
    if ignore_storage {
        return Reply::Done(String::new());
    }
    warn!(
        "{action}: the helper fetches ECR tokens itself and keeps no credentials docker hands it, so docker login and logout are not needed; set {IGNORE_STORAGE_ENV}=true to have them succeed doing nothing"
    );
    Reply::Refused(NOT_IMPLEMENTED.into())
}

/// `get IMAGE --format dockerconfigjson`: a pull secret's `.dockerconfigjson` for the image's
/// registry. Only for ECR hosts: a secret keyed by another host would hand it the token.
pub(crate) async fn pull_secret(
    image: &str,
    settings: &Settings,
    cache: Option<&Cache>,
    progress: &Progress,
) -> Result<String, Error> {
    let registry = image::parse(image)?;
    if registry.kind == RegistryKind::Unrecognized {
        return Err(Error::NotEcr {
            image: image.to_owned(),
            host: registry.host,
        });
    }
    let answer = get::answer(
        request(image),
        None,
        settings,
        cache,
        progress,
        SystemTime::now,
    )
    .await?;
    Ok(docker_config_json(&answer))
}

#[derive(Serialize)]
struct DockerConfig<'a> {
    auths: BTreeMap<&'a str, DockerAuth<'a>>,
}

#[derive(Serialize)]
struct DockerAuth<'a> {
    username: &'a str,
    password: &'a str,
    auth: String,
}

fn docker_config_json(answer: &ProviderAnswer) -> String {
    let password = answer.password.expose();
    let auth = DockerAuth {
        username: &answer.username,
        password,
        auth: STANDARD.encode(format!("{}:{password}", answer.username)),
    };
    serde_json::to_string(&DockerConfig {
        auths: BTreeMap::from([(answer.host.as_str(), auth)]),
    })
    .unwrap_or_else(|_| unreachable!("strings always serialize"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::secret::Secret;

    #[test]
    fn recognizes_its_name_in_argv0() {
        for (program, expected) in [
            ("docker-credential-ecr-login", true),
            ("/usr/local/bin/docker-credential-ecr-login", true),
            ("./docker-credential-ecr-login", true),
            ("docker-credential-ecr-login.exe", true),
            ("C:/bin/docker-credential-ecr-login.EXE", true),
            ("ecr-credential-provider", false),
            ("/usr/bin/docker-credential-ecr-login-v2", false),
            ("docker-credential-ecr-login/", true),
            ("docker-credential-ecr", false),
            ("", false),
        ] {
            assert_eq!(is_invoked_as(OsStr::new(program)), expected, "{program}");
        }
    }

    #[test]
    fn one_argument_names_the_action() {
        let table: [(&[&str], Action); 11] = [
            (&["get"], Action::Get),
            (&["list"], Action::List),
            (&["store"], Action::Store),
            (&["erase"], Action::Erase),
            (&["version"], Action::Version),
            (&["--version"], Action::Version),
            (&["-v"], Action::Version),
            (&["-h"], Action::Help),
            (&[], Action::Usage),
            (&["get", "extra"], Action::Usage),
            (&["GET"], Action::Unknown("GET".into())),
        ];
        for (args, expected) in table {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            assert_eq!(action(&args), expected, "{args:?}");
        }
    }

    #[test]
    fn server_urls_are_read_as_docker_credential_helpers_reads_them() {
        for (input, expected) in [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com\n",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            ),
            (
                "https://public.ecr.aws/v2/\r\n",
                "https://public.ecr.aws/v2/",
            ),
            ("  host:5000 \n\n", "host:5000"),
            // Lines are joined, as bufio.Scanner's loop in docker-credential-helpers does.
            ("host\n/path\n", "host/path"),
            ("", ""),
            ("\n \n", ""),
        ] {
            assert_eq!(server_url(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn answers_for_ecr_hosts_only() {
        let private = |url: &str| {
            matches!(
                ecr_registry(url),
                Some(RegistryHost {
                    kind: RegistryKind::Private(_),
                    ..
                })
            )
        };
        let public = |url: &str| {
            matches!(
                ecr_registry(url),
                Some(RegistryHost {
                    kind: RegistryKind::Public,
                    ..
                })
            )
        };
        for url in [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/team/app",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000",
            "123456789012.DKR.ECR.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
            "123456789012.dkr-ecr.eu-west-1.on.aws",
        ] {
            assert!(private(url), "{url}");
        }
        for url in [
            "public.ecr.aws",
            "https://public.ecr.aws/v2/",
            "ecr-public.aws.com",
        ] {
            assert!(public(url), "{url}");
        }
        for url in [
            "https://index.docker.io/v1/",
            "docker.io",
            "ghcr.io",
            "localhost:5000",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            "evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com@evil.example",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:notaport",
            "not a url",
            "",
        ] {
            assert!(ecr_registry(url).is_none(), "{url}");
        }
    }

    #[test]
    fn store_and_erase_answer_as_a_helper_that_stores_nothing() {
        let refused = |text: &str| Reply::Refused(text.into());
        let complete = br#"{"ServerURL":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com","Username":"AWS","Secret":"s"}"#;
        assert_eq!(store(complete, false), refused(NOT_IMPLEMENTED));
        assert_eq!(store(complete, true), Reply::Done(String::new()));
        let lowercase = br#"{"serverurl":"h","username":"u"}"#;
        assert_eq!(store(lowercase, false), refused(NOT_IMPLEMENTED));
        assert_eq!(
            store(br#"{"Username":"AWS","Secret":"s"}"#, true),
            refused(MISSING_SERVER_URL)
        );
        assert_eq!(
            store(br#"{"ServerURL":"h","Secret":"s"}"#, true),
            refused(MISSING_USERNAME)
        );
        assert_eq!(
            store(br#"{"ServerURL":"h","Username":""}"#, true),
            refused(MISSING_USERNAME)
        );
        for bad in [&b""[..], b"not json", b"[1]", b"\"h\""] {
            match store(bad, true) {
                Reply::Refused(text) => assert!(text.contains("not a JSON object"), "{text}"),
                other @ Reply::Done(_) => panic!("{bad:?}: {other:?}"),
            }
        }
        let with_secret = br#"{"ServerURL":"h","Secret":"hunter2"}"#;
        assert!(!format!("{:?}", store(with_secret, false)).contains("hunter2"));
        assert_eq!(erase("", false), refused(MISSING_SERVER_URL));
        assert_eq!(erase("h", false), refused(NOT_IMPLEMENTED));
        assert_eq!(erase("h", true), Reply::Done(String::new()));
    }

    /// Environment variables, for tables.
    type Env = &'static [(&'static str, &'static str)];

    /// Issue 22: ecr-login's cache switches, read as its source reads them, after ours.
    #[test]
    fn the_cache_directory_by_precedence_as_ecr_login_reads_its_switches() {
        let home = || Some(PathBuf::from("/home/u"));
        let named = |path: &str| CacheDir::Named(PathBuf::from(path));
        let off = |why: &str, warn| CacheDir::Off {
            why: why.into(),
            warn,
        };
        let disabled = off("AWS_ECR_DISABLE_CACHE is set", false);
        let ours = Some(Path::new("/run/ecr"));
        let table: [(Option<&Path>, Env, CacheDir); 14] = [
            (None, &[], CacheDir::Default("/home/u/.ecr".into())),
            (ours, &[("AWS_ECR_DISABLE_CACHE", "1")], named("/run/ecr")),
            (ours, &[("AWS_ECR_CACHE_DIR", "/x")], named("/run/ecr")),
            (None, &[("AWS_ECR_DISABLE_CACHE", "1")], disabled.clone()),
            // Any value but the empty one: ecr-login tests `!= ""`.
            (
                None,
                &[("AWS_ECR_DISABLE_CACHE", "false")],
                disabled.clone(),
            ),
            (None, &[("AWS_ECR_DISABLE_CACHE", "0")], disabled.clone()),
            (
                None,
                &[
                    ("AWS_ECR_DISABLE_CACHE", "true"),
                    ("AWS_ECR_CACHE_DIR", "/x"),
                ],
                disabled,
            ),
            (
                None,
                &[("AWS_ECR_DISABLE_CACHE", "")],
                CacheDir::Default("/home/u/.ecr".into()),
            ),
            (
                None,
                &[("AWS_ECR_CACHE_DIR", "/var/ecr")],
                named("/var/ecr"),
            ),
            (
                None,
                &[("AWS_ECR_CACHE_DIR", "")],
                CacheDir::Default("/home/u/.ecr".into()),
            ),
            (None, &[("AWS_ECR_CACHE_DIR", "~/x")], named("/home/u/x")),
            (None, &[("AWS_ECR_CACHE_DIR", "~")], named("/home/u")),
            (None, &[("AWS_ECR_CACHE_DIR", "rel/dir")], named("rel/dir")),
            (
                None,
                &[("AWS_ECR_CACHE_DIR", "~root/x")],
                off(
                    "AWS_ECR_CACHE_DIR=\"~root/x\": only ~ and ~/ are expanded, not ~user",
                    true,
                ),
            ),
        ];
        for (ours, pairs, expected) in table {
            let env = |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| OsString::from(v))
            };
            assert_eq!(cache_dir(ours, env, home), expected, "{ours:?} {pairs:?}");
        }
        // No home: the default is quietly off, a named `~/x` is a warning.
        assert_eq!(
            cache_dir(None, |_| None, || None),
            off("~/.ecr: there is no home directory to expand ~ to", false)
        );
        let named_home = |key: &str| (key == "AWS_ECR_CACHE_DIR").then(|| OsString::from("~/x"));
        assert!(matches!(
            cache_dir(None, named_home, || None),
            CacheDir::Off { warn: true, .. }
        ));
        // The home directory is looked up only to expand a `~`.
        let absolute = |key: &str| (key == "AWS_ECR_CACHE_DIR").then(|| OsString::from("/x"));
        assert_eq!(
            cache_dir(None, absolute, || panic!("home looked up")),
            named("/x")
        );
    }

    #[test]
    fn a_leading_tilde_is_expanded_as_go_homedir_expands_it() {
        let home = || Some(PathBuf::from("/home/u"));
        for (dir, expected) in [
            ("~", Ok("/home/u")),
            ("~/", Ok("/home/u")),
            ("~/.ecr", Ok("/home/u/.ecr")),
            ("~//a/b", Ok("/home/u/a/b")),
            ("/abs/~/x", Ok("/abs/~/x")),
            ("a~", Ok("a~")),
            ("~user", Err(())),
            ("~user/x", Err(())),
            ("~~", Err(())),
        ] {
            let expanded = expand_home(OsStr::new(dir), home).map_err(|_| ());
            assert_eq!(expanded, expected.map(PathBuf::from), "{dir}");
        }
    }

    #[test]
    fn the_home_directory_as_go_homedir_finds_it() {
        let env = |pairs: Env| {
            move |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let database = || Some(PathBuf::from("/from/passwd"));
        let none = || None;
        let table: [(Env, bool, Option<&str>); 9] = [
            (&[("HOME", "/h")], false, Some("/h")),
            (&[], false, Some("/from/passwd")),
            (&[("HOME", "")], false, Some("/from/passwd")),
            (
                &[("USERPROFILE", "C:\\Users\\u")],
                false,
                Some("/from/passwd"),
            ),
            (
                &[("HOME", "/h"), ("USERPROFILE", "C:\\U")],
                true,
                Some("/h"),
            ),
            (&[("USERPROFILE", "C:\\U")], true, Some("C:\\U")),
            (
                &[("HOMEDRIVE", "D:"), ("HOMEPATH", "\\Users\\u")],
                true,
                Some("D:\\Users\\u"),
            ),
            (&[("HOMEDRIVE", "D:")], true, None),
            (&[], true, None),
        ];
        for (pairs, windows, expected) in table {
            assert_eq!(
                home_dir(env(pairs), windows, database),
                expected.map(PathBuf::from),
                "{pairs:?} windows={windows}"
            );
        }
        assert_eq!(home_dir(env(&[]), false, none), None);
        assert_eq!(home_dir(env(&[]), false, || Some(PathBuf::new())), None);
    }

    fn answer(host: &str, password: &str) -> ProviderAnswer {
        ProviderAnswer {
            api_version: ApiVersion::V1,
            host: host.into(),
            username: "AWS".into(),
            password: Secret::new(password),
            cache_duration: Duration::from_secs(21_600),
        }
    }

    #[test]
    fn formats_the_helper_answer_and_the_pull_secret() {
        let answer = answer("123456789012.dkr.ecr.us-east-1.amazonaws.com:5000", "pw\"x");
        assert_eq!(
            helper_json("https://h/v2/", &answer),
            r#"{"ServerURL":"https://h/v2/","Username":"AWS","Secret":"pw\"x"}"#
        );
        assert_eq!(
            docker_config_json(&answer),
            format!(
                r#"{{"auths":{{"123456789012.dkr.ecr.us-east-1.amazonaws.com:5000":{{"username":"AWS","password":"pw\"x","auth":"{}"}}}}}}"#,
                STANDARD.encode("AWS:pw\"x")
            )
        );
    }
}
