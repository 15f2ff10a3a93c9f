//! What every run that reaches past the process runs under: one current-thread runtime,
//! bounded by the run's deadline and ended by a signal (`block_on`), the AWS settings every
//! call uses (`settings`: deadline, trust, proxies), stdin read on a thread of its own, and the
//! token cache opened so that a directory it cannot use costs the cache, never the pull. The
//! kubelet path (`app`) and the Docker helper both start here.

use std::future::Future;
use std::io::Read;
use std::path::PathBuf;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use crate::ahead::Ahead;
use crate::aws;
use crate::cache::Cache;
use crate::deadline::Progress;
use crate::error::Error;
use crate::kubelet::request::MAX_REQUEST_BYTES;
use crate::net::{proxy, trust};

pub(crate) fn ca_bundle_path() -> Option<PathBuf> {
    std::env::var_os(trust::CA_BUNDLE_ENV)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}

/// Runs `work` on a current-thread runtime under the run's deadline and signals, with the AWS
/// settings every call uses.
pub(crate) fn block_on<T, F, Fut>(timeout: Duration, work: F) -> Result<T, Error>
where
    F: FnOnce(aws::Settings, Progress) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Startup)?;
    let progress = Progress::default();
    let result = runtime.block_on(with_deadline(timeout, &progress, async {
        work(settings(timeout).await?, progress.clone()).await
    }));
    // Dropping the runtime waits for its blocking tasks (a DNS lookup that hangs, say); the
    // work is done, so nothing may hold the exit now.
    std::mem::forget(runtime);
    result
}

async fn settings(timeout: Duration) -> Result<aws::Settings, Error> {
    // Taken as the run starts, before anything else can take time.
    let started = tokio::time::Instant::now();
    let deadline = started.checked_add(timeout).unwrap_or(started);
    // A third of the deadline per attempt leaves room for the SDK's retries.
    let attempt_timeout = (timeout / 3).max(Duration::from_millis(500)).min(timeout);
    let trust = trust::Trust::load(ca_bundle_path().as_deref()).await?;
    let proxies = proxy::Proxies::from_env(|key| std::env::var(key).ok())?;
    Ok(aws::Settings {
        attempt_timeout,
        deadline,
        trust,
        proxies,
    })
}

async fn with_deadline<T>(
    timeout: Duration,
    progress: &Progress,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let mut work = pin!(tokio::time::timeout(timeout, work));
    let mut signal = pin!(signal());
    std::future::poll_fn(|context| {
        if let Poll::Ready(signal) = signal.as_mut().poll(context) {
            return Poll::Ready(Err(Error::Interrupted {
                signal,
                waiting_for: progress.describe(),
            }));
        }
        work.as_mut().poll(context).map(|result| {
            result.unwrap_or_else(|_| {
                Err(Error::Timeout {
                    after: timeout,
                    waiting_for: progress.describe(),
                    stdin: progress.stdin(),
                    answer_started: progress.answer_started(),
                })
            })
        })
    })
    .await
}

/// The first of SIGTERM (the kubelet giving up), SIGINT and SIGHUP; never, if none can be
/// watched. Registered when first polled, at the start of the run.
#[cfg(unix)]
async fn signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut watched: Vec<_> = [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::hangup(), "SIGHUP"),
    ]
    .into_iter()
    .filter_map(|(kind, name)| signal(kind).ok().map(|stream| (stream, name)))
    .collect();
    std::future::poll_fn(|context| {
        for (stream, name) in &mut watched {
            if stream.poll_recv(context).is_ready() {
                return Poll::Ready(*name);
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(not(unix))]
async fn signal() -> &'static str {
    match tokio::signal::ctrl_c().await {
        Ok(()) => "Ctrl-C",
        Err(_) => std::future::pending().await,
    }
}

/// The shared token cache, if asked for; a directory that cannot be used costs the cache,
/// never the pull.
pub(crate) fn open_cache(dir: Option<&std::path::Path>) -> Option<Cache> {
    let dir = dir?;
    Cache::open(dir)
        .inspect_err(|error| {
            tracing::warn!(
                "the token cache directory {} is not usable ({error}); going on without the cache",
                dir.display()
            );
        })
        .ok()
}

/// stdin, read ahead from the start of a `provide` run (see `ahead`).
pub(crate) static STDIN: Ahead<(), std::io::Result<Vec<u8>>> =
    Ahead::new("stdin", "read stdin", read_all_stdin);

/// Reads stdin on a thread of its own, so the deadline still holds if the writer never closes it.
pub(crate) async fn read_stdin() -> Result<Vec<u8>, Error> {
    STDIN.result(&()).await?.map_err(Error::ReadStdin)
}

fn read_all_stdin((): ()) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_REQUEST_BYTES + 1).unwrap_or(u64::MAX);
    std::io::stdin()
        .lock()
        .take(limit)
        .read_to_end(&mut bytes)
        .map(|_| bytes)
}
