//! argv → command → run → exit code. The only place that decides the exit code; `output` is
//! the only place that prints. Every end is clean: a deadline, a signal (SIGTERM, SIGINT,
//! SIGHUP; Ctrl-C elsewhere; both watched by `runtime`) or a panic ends the run with exit 1
//! and one line on stderr.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use crate::ahead;
use crate::cli::{self, Command, GetFormat};
use crate::commands::{check, config, docker_helper, get};
use crate::deadline::{Progress, Stdin};
use crate::error::Error;
use crate::kubelet::request::{self, ApiVersion, Request};
use crate::net::{proxy, trust};
use crate::runtime::{STDIN, block_on, ca_bundle_path, open_cache, read_stdin};
use crate::secret::Secret;
use crate::{aws, files, output, trace};

/// The whole program: what `main` returns.
pub fn main() -> ExitCode {
    // Before anything can be written: the keys, tokens and proxy credentials the environment
    // holds are scrubbed from every message from now on.
    crate::sanitize::remember_environment_secrets(|key| std::env::var(key).ok());
    proxy::remember_environment_credentials(|key| std::env::var(key).ok());
    install_panic_hook();
    let mut args = std::env::args_os();
    // Installed (linked or copied) as docker-credential-ecr-login, it speaks Docker's protocol.
    if args
        .next()
        .is_some_and(|program| docker_helper::is_invoked_as(&program))
    {
        return docker_helper::main(args);
    }
    let cli = match cli::parse(args, |key| std::env::var(key).ok()) {
        Ok(cli) => cli,
        Err(error) => return fail(&error),
    };
    let printed = match &cli.command {
        Command::Help(topic) => Some(cli::help(*topic)),
        Command::Version => Some(format!(
            "{} version v{}",
            cli::PROGRAM,
            env!("CARGO_PKG_VERSION")
        )),
        Command::Config(args) => {
            return match config::run(args).and_then(|outcome| {
                output::stdout(&outcome.stdout).map_err(Error::WriteStdout)?;
                Ok(outcome.success)
            }) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(error) => fail(&error),
            };
        }
        Command::Provide | Command::Get { .. } | Command::Check { .. } => None,
    };
    if let Some(text) = printed {
        return match output::stdout(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&Error::WriteStdout(error)),
        };
    }
    // The kubelet wants one line from a failed run: warnings wait for the outcome. A trace
    // is many lines by request, so there they go out as they come.
    if cli.trace.is_none() {
        output::hold_warnings();
    }
    trace::init(cli.trace);
    for warning in &cli.warnings {
        // Through the trace's own format when tracing (one JSON object per line stays so).
        tracing::warn!("{warning}");
    }

    start_reading_ahead(&cli);
    let cli = &cli;
    let result = block_on(cli.timeout, |settings, progress| async move {
        run(cli, &settings, &progress).await
    });
    match result.and_then(|outcome| {
        output::stdout(&outcome.stdout).map_err(Error::WriteStdout)?;
        Ok(outcome.success)
    }) {
        Ok(success) => {
            output::release_warnings();
            if success {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => fail(&error),
    }
}

/// Starts what this run will wait for on threads of their own (see `ahead`), each thread's
/// work in the order the run needs it: the CA bundle, then the files the SDK reads and the
/// ECR endpoint rules, unless a cache may answer; the request on stdin; for a TLS token call,
/// the system's roots.
fn start_reading_ahead(cli: &cli::Cli) {
    let calls_aws =
        matches!(cli.command, Command::Provide | Command::Get { .. }) && cli.cache_dir.is_none();
    let mut files = Vec::new();
    if let Some(path) = ca_bundle_path() {
        files.push(trust::read_ca_bundle_ahead(&path));
    }
    if calls_aws {
        files.push(files::check_sdk_files_ahead());
        files.push(Box::new(aws::load_endpoint_rules));
    }
    // Work whose thread cannot start is done by its taker, which says why if it cannot
    // start one either.
    if !files.is_empty() {
        let _ = ahead::in_turn("files", files);
    }
    if matches!(cli.command, Command::Provide) {
        let stdin = STDIN.work(());
        let _ = ahead::in_turn("stdin", vec![stdin]);
    }
    if calls_aws && !aws::endpoint_is_plain_http() {
        let _ = ahead::in_turn("system-roots", vec![trust::read_system_roots_ahead()]);
    }
}

fn fail(error: &Error) -> ExitCode {
    output::error(error);
    ExitCode::from(error.exit_code())
}

/// A panic is a bug, but the kubelet still gets what every failure gives it: one line and
/// exit 1. The release profile aborts on panic, so the hook must end the process itself.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        output::fatal(
            &panic_message(payload, location.as_deref()),
            Some("this is a bug in ecr-credential-provider: please report this line"),
        );
        std::process::exit(1);
    }));
}

fn panic_message(payload: Option<&str>, location: Option<&str>) -> String {
    let mut message = format!(
        "internal error: {}",
        cli::bounded(payload.unwrap_or("a panic"))
    );
    if let Some(location) = location {
        message.push_str(" at ");
        message.push_str(location);
    }
    message
}

/// What a run prints on stdout, and whether it answers the question it was asked with yes.
struct Outcome {
    stdout: String,
    success: bool,
}

impl Outcome {
    fn success(stdout: String) -> Self {
        Self {
            stdout,
            success: true,
        }
    }
}

async fn run(
    cli: &cli::Cli,
    settings: &aws::Settings,
    progress: &Progress,
) -> Result<Outcome, Error> {
    let role_arn_env = std::env::var(get::ROLE_ARN_ENV).ok();
    match &cli.command {
        Command::Provide => {
            progress.reading_stdin("the request on stdin", Stdin::Kubelet);
            if std::io::stdin().is_terminal() {
                // Nobody types JSON by accident: say at once what this is waiting for, and
                // which arguments (a mistyped command, say) it ignores.
                output::notice(&cli.terminal_notice());
            }
            let request = request::parse(&read_stdin().await?)?;
            let answer = answer(cli, request, role_arn_env, settings, progress).await?;
            Ok(Outcome::success(answer.to_json(true)))
        }
        Command::Get {
            image,
            format: GetFormat::DockerConfigJson,
            ..
        } => {
            let cache = open_cache(cli.cache_dir.as_deref());
            let secret =
                docker_helper::pull_secret(image, settings, cache.as_ref(), progress).await?;
            Ok(Outcome::success(secret))
        }
        Command::Get {
            image,
            show_password,
            format: GetFormat::Response,
        } => {
            let request = Request {
                api_version: ApiVersion::V1,
                image: image.clone(),
                service_account_token: None,
                service_account_annotations: std::collections::BTreeMap::new(),
            };
            let answer = answer(cli, request, role_arn_env, settings, progress).await?;
            Ok(Outcome::success(answer.to_json(*show_password)))
        }
        Command::Check { .. } => run_check(cli, settings, role_arn_env, progress).await,
        Command::Help(_) | Command::Version | Command::Config(_) => {
            unreachable!("answered before the runtime starts")
        }
    }
}

/// The kubelet's answer to `request`, through the token cache when one is configured.
async fn answer(
    cli: &cli::Cli,
    request: Request,
    role_arn_env: Option<String>,
    settings: &aws::Settings,
    progress: &Progress,
) -> Result<get::ProviderAnswer, Error> {
    let cache = open_cache(cli.cache_dir.as_deref());
    get::answer(
        request,
        role_arn_env,
        settings,
        cache.as_ref(),
        progress,
        SystemTime::now,
    )
    .await
}

/// `check IMAGE`: the report, as it is or as the provider a `--config` picks.
async fn run_check(
    cli: &cli::Cli,
    settings: &aws::Settings,
    role_arn_env: Option<String>,
    progress: &Progress,
) -> Result<Outcome, Error> {
    let Command::Check {
        image,
        json,
        registry_endpoint,
        service_account_token_file,
        role_arn,
        config,
    } = &cli.command
    else {
        unreachable!("run_check runs the check command only");
    };
    if role_arn.is_some() && service_account_token_file.is_none() {
        return Err(Error::Usage(
            "check: --role-arn needs --service-account-token-file (a role is assumed with a pod's token)".into(),
        ));
    }
    let pod = match service_account_token_file {
        None => None,
        Some(path) => Some(check::Pod {
            token: read_token(path).await?,
            role_arn: role_arn.clone(),
        }),
    };
    let report = if let Some(config) = config {
        let mut flags = Vec::new();
        for (flag, value) in [
            ("--registry-endpoint", registry_endpoint),
            ("--service-account-token-file", service_account_token_file),
            ("--role-arn", role_arn),
        ] {
            if let Some(value) = value {
                flags.push(format!("{flag}={value}"));
            }
        }
        check::kubelet::check(config, image, &flags, cli.timeout, progress).await?
    } else {
        let options = check::Options {
            image: image.clone(),
            registry_endpoint: registry_endpoint.clone(),
            pod,
            role_arn_env,
            timeout: cli.timeout,
        };
        // Boxed: the check's state is large, and the kubelet path need not carry it.
        Box::pin(check::check(
            &options,
            settings,
            progress,
            SystemTime::now(),
        ))
        .await?
    };
    let stdout = if *json {
        report.to_json()
    } else {
        report.to_text()
    };
    Ok(Outcome {
        stdout,
        success: report.pullable,
    })
}

/// A service-account token file, as a projected volume holds it (one line, maybe a newline),
/// checked and read as every file the provider reads: never a FIFO or a device, never more
/// than a token's size, on a thread the deadline can abandon.
async fn read_token(path: &str) -> Result<Secret, Error> {
    let file = files::NamedFile {
        what: "the service-account token file",
        origin: "--service-account-token-file",
        path: PathBuf::from(path),
        max_bytes: files::MAX_TOKEN_FILE_BYTES,
        optional: false,
        contents: files::Contents::Secret,
    };
    let bytes = files::read_apart(file).await?;
    let text = String::from_utf8_lossy(&bytes);
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::ReadFile {
            what: "service-account token file",
            path: path.to_owned(),
            source: std::io::Error::other("it is empty"),
        });
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_one_bounded_line_naming_where() {
        assert_eq!(
            panic_message(Some("index out of bounds"), Some("src/image.rs:12")),
            "internal error: index out of bounds at src/image.rs:12"
        );
        assert_eq!(panic_message(None, None), "internal error: a panic");
        let long = panic_message(Some(&"x".repeat(500)), None);
        assert!(long.chars().count() < 120, "{long}");
    }
}
