//! `check IMAGE --config FILE`: the kubelet's view first. Would the kubelet exec any provider
//! for this image under that CredentialProviderConfig, which one, with which args and env?
//! "No provider matches" is behind many 401s that look like IAM problems. Then the steps run
//! as that provider would: this program again, with the kubelet's environment plus the
//! provider's `env` (the config wins), exactly as the kubelet would exec it.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::report::{Report, Steps};
use crate::ahead::Ahead;
use crate::deadline::Progress;
use crate::diagnose::{self, Advice};
use crate::duration;
use crate::error::{Error, WAITING_FOR_CONFIG};
use crate::image;
use crate::kubelet::config::{self as kubelet_config, Config, Decoded, Provider, ReadError};

/// Runs `check` as the provider `config` picks for `image`. `flags` are the check's own flags
/// (`--registry-endpoint`, `--service-account-token-file`, `--role-arn`), passed on.
pub(crate) async fn check(
    path: &str,
    image: &str,
    flags: &[String],
    timeout: Duration,
    progress: &Progress,
) -> Result<Report, Error> {
    let started = Instant::now();
    let mut steps = Steps::default();
    progress.step(format!("{WAITING_FOR_CONFIG} {path}"));
    let config = match read(path).await? {
        Ok(config) => config,
        Err(reason) => {
            steps.fail("config", format!("{path}: {reason}"), Advice::default());
            steps.not_tried_from("image", "no config");
            return Ok(steps.report(image, false));
        }
    };
    // The kubelet matches the image of its request: no tag, no digest.
    let requested = kubelet_config::request_image(image);
    let Some(provider) = config.providers_for(&requested).into_iter().next() else {
        let (host, ecr) = image::parse(image).map_or_else(
            |_| (image.to_owned(), false),
            |r| (r.host, r.kind != image::RegistryKind::Unrecognized),
        );
        let globs: Vec<&str> = config
            .providers
            .iter()
            .flat_map(|p| p.match_images.iter().map(String::as_str))
            .collect();
        steps.fail(
            "config",
            format!(
                "no provider in {path} matches {host}: the kubelet execs none and pulls without credentials (matchImages: {})",
                globs.join(", ")
            ),
            diagnose::no_provider_matches(&host, ecr),
        );
        steps.not_tried_from("image", "no provider matches");
        return Ok(steps.report(image, false));
    };
    steps.pass("config", describe(&config, provider, &requested));

    let reserve = (timeout / 20).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let left = timeout
        .saturating_sub(started.elapsed())
        .saturating_sub(reserve);
    progress.step(format!(
        "the check run with provider {}'s env",
        provider.name
    ));
    let child = run_as(provider, image, flags, left).await?;
    steps.0.extend(child.steps);
    Ok(steps.report(image, child.pullable))
}

/// The config as the kubelet reads it at start-up; `Ok(Err(why))`: the kubelet would refuse it.
/// Read and decoded on a thread of its own, so that the run's deadline holds whatever the file.
async fn read(path: &str) -> Result<Result<Config, String>, Error> {
    static READ: Ahead<String, Result<Decoded, ReadError>> =
        Ahead::new("config", "read the credential provider config", read_config);
    let decoded = READ
        .result(&path.to_owned())
        .await
        .unwrap_or_else(|error| {
            Err(ReadError {
                path: path.into(),
                source: std::io::Error::other(error),
            })
        })?;
    Ok(decoded
        .into_result()
        .map_err(|rejected| rejected.to_string()))
}

#[allow(clippy::needless_pass_by_value, reason = "the shape `Ahead` runs")]
fn read_config(path: String) -> Result<Decoded, ReadError> {
    kubelet_config::read(Path::new(&path))
}

fn describe(config: &Config, provider: &Provider, image: &str) -> String {
    let matched = provider.matched_by(image).unwrap_or_default();
    let mut text = format!(
        "the kubelet execs {} (matchImages {matched}, {})",
        provider.name, provider.api_version
    );
    if !provider.args.is_empty() {
        let _ = write!(text, " with args {}", provider.args.join(" "));
    }
    if !provider.env.is_empty() {
        let env: Vec<String> = provider
            .env
            .iter()
            .map(|(name, value)| format!("{name}={}", crate::sanitize::env_value(name, value)))
            .collect();
        let _ = write!(text, ", env {}", env.join(" "));
    }
    if let Some(audience) = provider
        .token_attributes
        .as_ref()
        .map(|t| &t.service_account_token_audience)
    {
        let _ = write!(
            text,
            "; it gets the pod's service-account token (audience {audience}): add --service-account-token-file to check as a pod"
        );
    }
    let others: Vec<&str> = config
        .providers_for(image)
        .iter()
        .skip(1)
        .map(|p| p.name.as_str())
        .collect();
    if !others.is_empty() {
        let _ = write!(
            text,
            "; {} match too, and their credentials are tried as well",
            others.join(", ")
        );
    }
    text
}

/// This program's `check --json`, with the kubelet's environment plus the provider's env.
async fn run_as(
    provider: &Provider,
    image: &str,
    flags: &[String],
    timeout: Duration,
) -> Result<Report, Error> {
    let failed = |detail: String| Error::ProviderRun {
        provider: provider.name.clone(),
        detail,
    };
    let program = std::env::current_exe().map_err(|error| failed(error.to_string()))?;
    let mut command = Command::new(program);
    command
        .arg("check")
        .arg(image)
        .arg("--json")
        .arg(format!(
            "--timeout={}",
            duration::format(timeout.max(Duration::from_millis(1)))
        ))
        .args(flags)
        .envs(provider.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().map_err(|error| failed(error.to_string()))?;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let mut stdout = child.stdout.take();
    // Waits on a thread of its own, and kills the child if it outlives its deadline.
    std::thread::spawn(move || {
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(out) = stdout.as_mut() {
                let _ = std::io::Read::read_to_string(out, &mut text);
            }
            text
        });
        let until = Instant::now() + timeout + Duration::from_millis(500);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let _ = sender.send((status, reader.join().unwrap_or_default()));
    });
    let (status, stdout) = receiver
        .await
        .map_err(|_| failed("the waiting thread stopped".into()))?;
    serde_json::from_str::<Report>(&stdout).map_err(|_| {
        failed(status.map_or_else(
            || "it did not finish in time".to_owned(),
            |status| format!("it exited with {status} and no report"),
        ))
    })
}
