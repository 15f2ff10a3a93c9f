//! Command line and environment → what to run and how. Accepts every command line existing
//! configs pass to upstream (`--version`/`-v`, `get-credentials` from kOps) with the same
//! meaning; anything unknown is an error, never silently ignored.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::cache::CACHE_DIR_ENV;
use crate::deadline::{DEFAULT_TIMEOUT, TIMEOUT_ENV};
use crate::duration;
use crate::error::Error;

pub const TRACE_ENV: &str = "ECR_CREDENTIAL_PROVIDER_TRACE";
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

pub const HELP: &str = "\
ecr-credential-provider: kubelet image credential provider for Amazon ECR and ECR Public

Usage:
  ecr-credential-provider [FLAGS]                    read a CredentialProviderRequest on stdin (the kubelet's way)
  ecr-credential-provider get-credentials [FLAGS]    the same (kOps passes this argument)
  ecr-credential-provider get IMAGE [--show-password] build the request for IMAGE and print the response
  ecr-credential-provider check IMAGE [--json] [--registry-endpoint URL]
                                                     can this identity pull IMAGE? each step, why it fails, the fix

Flags:
  -h, --help             print this help
  -v, --version          print the version
      --trace[=FORMAT]   trace to stderr, secrets redacted; FORMAT is text (default) or json
      --v=N              klog verbosity: 1-3 trace at info level, 4 and more at debug level
      --timeout=DURATION give up after DURATION (Go syntax: 30s, 1m; default 30s)
      --cache-dir=DIR    share tokens between execs through files in DIR (one token call per
                         registry and identity for the whole node; off by default)

Environment:
  ECR_CREDENTIAL_PROVIDER_TRACE    1, text or json: as --trace; 0 or empty: off
  ECR_CREDENTIAL_PROVIDER_TIMEOUT  as --timeout
  ECR_CREDENTIAL_PROVIDER_CACHE_DIR as --cache-dir
  AWS_ECR_ROLE_ARN                 role to assume with a service-account token (KEP-4412)
  AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_ECR, ... the AWS SDK's own settings
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The kubelet's exec protocol: request on stdin, response on stdout.
    Provide,
    /// Build the request for `image` and print the response, password redacted unless asked.
    Get {
        image: String,
        show_password: bool,
    },
    /// Try each step a pull of `image` takes and report which fails, why, and the fix.
    Check {
        image: String,
        json: bool,
        registry_endpoint: Option<String>,
    },
    Version,
    Help,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceLevel {
    Info,
    Debug,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    pub command: Command,
    /// `None`: only warnings reach stderr.
    pub trace: Option<(TraceFormat, TraceLevel)>,
    pub timeout: Duration,
    /// Positional arguments the kubelet path does not use. Upstream's command accepts and
    /// ignores any, so configs may carry some; we warn instead of failing.
    pub ignored_args: Vec<String>,
    /// The shared token cache's directory, when it is on.
    pub cache_dir: Option<PathBuf>,
}

/// Parses `args` (without the program name); `env` reads our own environment variables.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Cli, Error> {
    let usage = |message: String| Error::Usage(message);
    let mut args = args
        .into_iter()
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| usage(format!("argument {} is not UTF-8", arg.display())))
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();

    let mut positional = Vec::new();
    let mut trace_flag: Option<TraceFormat> = None;
    let mut verbosity: u8 = 0;
    let mut timeout_flag: Option<String> = None;
    let mut show_password = false;
    let mut json = false;
    let mut registry_endpoint: Option<String> = None;
    let mut cache_dir: Option<String> = None;
    let mut wants = (false, false); // (help, version)

    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |flag: &str| -> Result<String, Error> {
            match inline.clone() {
                Some(value) => Ok(value),
                None => args
                    .next()
                    .ok_or_else(|| usage(format!("flag {flag} needs a value"))),
            }
        };
        match name.as_str() {
            "-h" | "--help" => wants.0 = true,
            "-v" | "--version" => wants.1 = true,
            // klog's single-dash form; a bare `-v` stays upstream's version shorthand.
            flag if flag.starts_with("-v=") => {
                let text = &flag[3..];
                verbosity = parse_verbosity(text)?;
            }
            "--trace" => {
                trace_flag = Some(match inline.as_deref() {
                    None | Some("text") => TraceFormat::Text,
                    Some("json") => TraceFormat::Json,
                    Some(other) => {
                        return Err(usage(format!(
                            "--trace={other}: the format must be text or json"
                        )));
                    }
                });
            }
            "--v" => verbosity = parse_verbosity(&value("--v")?)?,
            "--timeout" => timeout_flag = Some(value("--timeout")?),
            "--show-password" => show_password = true,
            "--json" => json = true,
            "--registry-endpoint" => registry_endpoint = Some(value("--registry-endpoint")?),
            "--cache-dir" => cache_dir = Some(value("--cache-dir")?),
            "--" => positional.extend(args.by_ref()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unknown flag {flag}")));
            }
            _ => positional.push(arg),
        }
    }

    let timeout = match timeout_flag.or_else(|| env(TIMEOUT_ENV).filter(|v| !v.is_empty())) {
        None => DEFAULT_TIMEOUT,
        Some(text) => duration::parse(&text)
            .filter(|d| !d.is_zero() && *d <= MAX_TIMEOUT)
            .ok_or_else(|| {
                usage(format!(
                    "timeout {text:?} must be a duration between 1ms and 1h, such as 30s or 1m"
                ))
            })?,
    };
    let trace = trace_setting(trace_flag, verbosity, env(TRACE_ENV).as_deref())?;

    let (command, ignored_args) = command(
        positional,
        wants,
        Extras {
            show_password,
            json,
            registry_endpoint,
        },
    )?;
    let cache_dir = cache_dir
        .or_else(|| env(CACHE_DIR_ENV))
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    Ok(Cli {
        command,
        trace,
        timeout,
        ignored_args,
        cache_dir,
    })
}

/// Flags that belong to one command only.
struct Extras {
    show_password: bool,
    json: bool,
    registry_endpoint: Option<String>,
}

fn parse_verbosity(text: &str) -> Result<u8, Error> {
    text.parse()
        .ok()
        .filter(|level| *level <= 10)
        .ok_or_else(|| {
            Error::Usage(format!(
                "--v={text}: the verbosity must be a number from 0 to 10"
            ))
        })
}

fn command(
    positional: Vec<String>,
    (help, version): (bool, bool),
    extras: Extras,
) -> Result<(Command, Vec<String>), Error> {
    let Extras {
        show_password,
        json,
        registry_endpoint,
    } = extras;
    let usage = |message: String| Error::Usage(message);
    let mut positional = positional.into_iter();
    let mut ignored = Vec::new();
    let command = match ((help, version), positional.next().as_deref()) {
        ((true, _), _) | (_, Some("help")) => Command::Help,
        ((_, true), _) | (_, Some("version")) => Command::Version,
        (_, None | Some("get-credentials")) => {
            ignored.extend(positional.by_ref());
            Command::Provide
        }
        (_, Some("get")) => {
            let image = positional.next().ok_or_else(|| {
                usage(
                    "get needs an image, such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/app"
                        .into(),
                )
            })?;
            Command::Get {
                image,
                show_password,
            }
        }
        (_, Some("check")) => {
            let image = positional.next().ok_or_else(|| {
                usage("check needs an image, such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1".into())
            })?;
            Command::Check {
                image,
                json,
                registry_endpoint: registry_endpoint.clone(),
            }
        }
        (_, Some(other)) => {
            ignored.push(other.to_owned());
            ignored.extend(positional.by_ref());
            Command::Provide
        }
    };
    if let Some(extra) = positional.next() {
        return Err(usage(format!("unexpected argument {extra:?}")));
    }
    if show_password && !matches!(command, Command::Get { .. }) {
        return Err(usage("--show-password only goes with get".into()));
    }
    let is_check = matches!(command, Command::Check { .. });
    if (json || registry_endpoint.is_some()) && !is_check {
        return Err(usage(
            "--json and --registry-endpoint only go with check".into(),
        ));
    }
    Ok((command, ignored))
}

/// The flag wins over the environment; `--v` raises the level of either.
fn trace_setting(
    flag: Option<TraceFormat>,
    verbosity: u8,
    env: Option<&str>,
) -> Result<Option<(TraceFormat, TraceLevel)>, Error> {
    let from_env = match env.map(str::trim) {
        None | Some("" | "0" | "false") => None,
        Some("1" | "true" | "text") => Some(TraceFormat::Text),
        Some("json") => Some(TraceFormat::Json),
        Some(other) => {
            return Err(Error::Usage(format!(
                "{TRACE_ENV}={other:?}: use 1, text, json, or 0 to turn tracing off"
            )));
        }
    };
    Ok(match (flag.or(from_env), verbosity) {
        (Some(format), _) => Some((format, TraceLevel::Debug)),
        (None, 0) => None,
        (None, 1..=3) => Some((TraceFormat::Text, TraceLevel::Info)),
        (None, _) => Some((TraceFormat::Text, TraceLevel::Debug)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, Error> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        parse(args.iter().map(OsString::from), move |key| {
            env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    #[track_caller]
    fn check(args: &[&str], command: &Command) {
        assert_eq!(&parse_args(args, &[]).unwrap().command, command, "{args:?}");
    }

    #[track_caller]
    fn check_usage_error(args: &[&str], env: &[(&str, &str)], needle: &str) {
        match parse_args(args, env) {
            Err(Error::Usage(message)) => assert!(message.contains(needle), "{args:?}: {message}"),
            other => panic!("{args:?}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn upstream_command_lines_keep_their_meaning() {
        check(&[], &Command::Provide);
        check(&["get-credentials"], &Command::Provide);
        check(&["--version"], &Command::Version);
        check(&["-v"], &Command::Version);
        check(&["-h"], &Command::Help);
        let check_args = [
            "check",
            "public.ecr.aws/x",
            "--json",
            "--registry-endpoint",
            "http://127.0.0.1:5000",
        ];
        check(
            &check_args,
            &Command::Check {
                image: "public.ecr.aws/x".into(),
                json: true,
                registry_endpoint: Some("http://127.0.0.1:5000".into()),
            },
        );
        check(&["--help"], &Command::Help);
        check(&["get-credentials", "--v=4"], &Command::Provide);
        check(
            &["get", "public.ecr.aws/x", "--show-password"],
            &Command::Get {
                image: "public.ecr.aws/x".into(),
                show_password: true,
            },
        );
    }

    #[test]
    fn positional_arguments_upstream_ignores_are_ignored_with_a_warning() {
        let cli = parse_args(&["get-credentials", "extra"], &[]).unwrap();
        assert_eq!(
            (cli.command, cli.ignored_args),
            (Command::Provide, vec!["extra".to_owned()])
        );
        let cli = parse_args(&["frob"], &[]).unwrap();
        assert_eq!(
            (cli.command, cli.ignored_args),
            (Command::Provide, vec!["frob".to_owned()])
        );
        assert!(
            parse_args(&["get-credentials"], &[])
                .unwrap()
                .ignored_args
                .is_empty()
        );
        assert_eq!(
            parse_args(&["-v=3"], &[]).unwrap().trace,
            Some((TraceFormat::Text, TraceLevel::Info))
        );
    }

    #[test]
    fn unknown_input_is_a_usage_error() {
        check_usage_error(&["--frobnicate"], &[], "unknown flag --frobnicate");
        check_usage_error(&["-x"], &[], "unknown flag -x");
        check_usage_error(&["-v=loud"], &[], "verbosity");
        check_usage_error(&["get"], &[], "get needs an image");
        check_usage_error(&["get", "a", "b"], &[], "unexpected argument");
        check_usage_error(&["--v=x"], &[], "verbosity");
        check_usage_error(&["--v"], &[], "needs a value");
        check_usage_error(&["--trace=xml"], &[], "text or json");
        check_usage_error(&["--timeout=0s"], &[], "timeout");
        check_usage_error(&["--timeout=2h"], &[], "timeout");
        check_usage_error(&["--timeout=soon"], &[], "timeout");
        check_usage_error(&[], &[(TIMEOUT_ENV, "-1s")], "timeout");
        check_usage_error(&[], &[(TRACE_ENV, "yes please")], TRACE_ENV);
        check_usage_error(&["--show-password"], &[], "only goes with get");
        check_usage_error(&["get", "x", "--json"], &[], "only go with check");
        check_usage_error(&["check"], &[], "check needs an image");
    }

    #[test]
    fn cache_dir_from_flag_then_env_off_by_default() {
        let dir = |args: &[&str], env: &[(&str, &str)]| parse_args(args, env).unwrap().cache_dir;
        assert_eq!(dir(&[], &[]), None);
        assert_eq!(dir(&[], &[(CACHE_DIR_ENV, "")]), None);
        assert_eq!(
            dir(&[], &[(CACHE_DIR_ENV, "/run/ecr")]),
            Some(PathBuf::from("/run/ecr"))
        );
        assert_eq!(
            dir(&["--cache-dir=/a"], &[(CACHE_DIR_ENV, "/b")]),
            Some(PathBuf::from("/a"))
        );
        check_usage_error(&["--cache-dir"], &[], "needs a value");
    }

    #[test]
    fn timeout_from_flag_then_env_then_default() {
        assert_eq!(parse_args(&[], &[]).unwrap().timeout, DEFAULT_TIMEOUT);
        assert_eq!(
            parse_args(&[], &[(TIMEOUT_ENV, "5s")]).unwrap().timeout,
            Duration::from_secs(5)
        );
        let cli = parse_args(&["--timeout", "1m"], &[(TIMEOUT_ENV, "5s")]).unwrap();
        assert_eq!(cli.timeout, Duration::from_secs(60));
    }

    #[test]
    fn trace_from_flag_env_and_verbosity() {
        let trace = |args: &[&str], env: &[(&str, &str)]| parse_args(args, env).unwrap().trace;
        assert_eq!(trace(&[], &[]), None);
        assert_eq!(trace(&[], &[(TRACE_ENV, "0")]), None);
        assert_eq!(trace(&["--v=0"], &[]), None);
        assert_eq!(
            trace(&["--trace"], &[]),
            Some((TraceFormat::Text, TraceLevel::Debug))
        );
        assert_eq!(
            trace(&["--trace=json"], &[]),
            Some((TraceFormat::Json, TraceLevel::Debug))
        );
        assert_eq!(
            trace(&[], &[(TRACE_ENV, "json")]),
            Some((TraceFormat::Json, TraceLevel::Debug))
        );
        assert_eq!(
            trace(&[], &[(TRACE_ENV, "1")]),
            Some((TraceFormat::Text, TraceLevel::Debug))
        );
        assert_eq!(
            trace(&["--v=2"], &[]),
            Some((TraceFormat::Text, TraceLevel::Info))
        );
        assert_eq!(
            trace(&["--v", "6"], &[]),
            Some((TraceFormat::Text, TraceLevel::Debug))
        );
    }
}
