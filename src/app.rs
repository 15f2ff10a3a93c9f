//! argv → command → run → exit code. The only place that decides the exit code; `output` is
//! the only place that prints.

use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use crate::cache::Cache;
use crate::cli::{self, Command};
use crate::deadline::Progress;
use crate::error::Error;
use crate::request::{self, ApiVersion, MAX_REQUEST_BYTES, Request};
use crate::{aws, check, http, output, plugin, proxy, trace};

/// The whole program: what `main` returns.
pub fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os().skip(1), |key| std::env::var(key).ok()) {
        Ok(cli) => cli,
        Err(error) => return fail(&error),
    };
    let printed = match &cli.command {
        Command::Help => Some(cli::HELP.to_owned()),
        Command::Version => Some(format!(
            "{} version v{}",
            output::PROGRAM,
            env!("CARGO_PKG_VERSION")
        )),
        Command::Provide | Command::Get { .. } | Command::Check { .. } => None,
    };
    if let Some(text) = printed {
        return match output::stdout(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&Error::WriteStdout(error)),
        };
    }
    trace::init(cli.trace);
    for arg in &cli.ignored_args {
        tracing::warn!("ignoring the argument {arg:?}, as upstream's command does");
    }

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(&Error::Startup(error));
        }
    };
    let result = runtime.block_on(run_with_deadline(&cli));
    let code = match result.and_then(|outcome| {
        output::stdout(&outcome.stdout).map_err(Error::WriteStdout)?;
        Ok(outcome.success)
    }) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => fail(&error),
    };
    // Dropping the runtime waits for its blocking tasks (a DNS lookup that hangs, say); the
    // answer is already out, so nothing may hold the exit now.
    std::mem::forget(runtime);
    code
}

fn fail(error: &Error) -> ExitCode {
    output::error(error);
    ExitCode::from(error.exit_code())
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

async fn run_with_deadline(cli: &cli::Cli) -> Result<Outcome, Error> {
    let progress = Progress::default();
    match tokio::time::timeout(cli.timeout, run(cli, &progress)).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            after: cli.timeout,
            waiting_for: progress.describe(),
        }),
    }
}

async fn run(cli: &cli::Cli, progress: &Progress) -> Result<Outcome, Error> {
    // A third of the deadline per attempt leaves room for the SDK's retries.
    let attempt_timeout = (cli.timeout / 3)
        .max(Duration::from_millis(500))
        .min(cli.timeout);
    let ca_bundle = std::env::var_os(http::CA_BUNDLE_ENV).filter(|path| !path.is_empty());
    let trust = http::Trust::load(ca_bundle.as_deref().map(std::path::Path::new))?;
    let proxies = proxy::Proxies::from_env(|key| std::env::var(key).ok())?;
    let settings = aws::Settings {
        attempt_timeout,
        trust,
        proxies,
    };
    let role_arn_env = std::env::var(plugin::ROLE_ARN_ENV).ok();
    match &cli.command {
        Command::Provide => {
            progress.step("the request on stdin");
            let request = request::parse(&read_stdin().await?)?;
            let cache = open_cache(cli);
            let answer = plugin::answer(
                request,
                role_arn_env,
                &settings,
                cache.as_ref(),
                progress,
                SystemTime::now,
            )
            .await?;
            Ok(Outcome::success(answer.to_json(true)))
        }
        Command::Get {
            image,
            show_password,
        } => {
            let request = Request {
                api_version: ApiVersion::V1,
                image: image.clone(),
                service_account_token: None,
                service_account_annotations: std::collections::BTreeMap::new(),
            };
            let cache = open_cache(cli);
            let answer = plugin::answer(
                request,
                role_arn_env,
                &settings,
                cache.as_ref(),
                progress,
                SystemTime::now,
            )
            .await?;
            Ok(Outcome::success(answer.to_json(*show_password)))
        }
        Command::Check {
            image,
            json,
            registry_endpoint,
        } => {
            let report = check::check(
                image,
                registry_endpoint.as_deref(),
                &settings,
                progress,
                SystemTime::now(),
            )
            .await?;
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
        Command::Help | Command::Version => unreachable!("answered before the runtime starts"),
    }
}

/// The shared token cache, if asked for; a directory that cannot be used costs the cache,
/// never the pull.
fn open_cache(cli: &cli::Cli) -> Option<Cache> {
    let dir = cli.cache_dir.as_deref()?;
    Cache::open(dir)
        .inspect_err(|error| {
            tracing::warn!(
                "the token cache directory {} is not usable ({error}); going on without the cache",
                dir.display()
            );
        })
        .ok()
}

/// Reads stdin on a thread of its own, so the deadline still holds if the writer never closes it.
async fn read_stdin() -> Result<Vec<u8>, Error> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let limit = u64::try_from(MAX_REQUEST_BYTES + 1).unwrap_or(u64::MAX);
        let result = std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .map(|_| bytes);
        let _ = sender.send(result);
    });
    match receiver.await {
        Ok(result) => result.map_err(Error::ReadStdin),
        Err(_) => Err(Error::ReadStdin(std::io::Error::other(
            "the reader thread stopped",
        ))),
    }
}
