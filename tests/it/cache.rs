//! The shared token cache, counted at the server: many execs, one GetAuthorizationToken.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::fake::{FakeAws, Reply, ecr_token};
use crate::support::{ACCESS_KEY, Exec, Output, TempDir, V1, exec, request};

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app";
const HOST: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const OTHER_KEY: &str = "AKIAOTHEREXAMPLE0002";
const OTHER_SECRET: &str = "other-secret-EXAMPLE-0123456789abcdefgh";

/// ECR handing out `pw-N` for its N-th token, living `life`; failing while `failing` is set.
struct Ecr {
    fake: FakeAws,
    failing: Arc<AtomicBool>,
}

impl Ecr {
    fn start(life: Duration) -> Self {
        let failing = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&failing);
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let fake = FakeAws::start(move |_| {
            if flag.load(Ordering::SeqCst) {
                return Reply::aws_error(400, "AccessDeniedException", "no token for you");
            }
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            ecr_token(&format!("pw-{n}"), life)
        });
        Self { fake, failing }
    }

    fn calls(&self) -> usize {
        self.fake.calls("GetAuthorizationToken").len()
    }

    fn exec(&self, cache: &TempDir) -> Exec {
        exec()
            .keys()
            .endpoint(&self.fake.url)
            .arg(format!("--cache-dir={}", cache.0.join("tokens").display()))
            .stdin(request(V1, IMAGE))
    }
}

fn password(output: &Output) -> String {
    output.json()["auth"][HOST]["password"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn parallel(n: usize, run: impl Fn() -> Output + Sync) -> Vec<Output> {
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..n).map(|_| scope.spawn(&run)).collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    })
}

#[test]
fn a_hundred_parallel_execs_make_one_token_call() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let cache = TempDir::new();
    let outputs = parallel(100, || ecr.exec(&cache).run());
    for output in &outputs {
        assert_eq!(password(output), "pw-1");
        let duration = output.json()["cacheDuration"].as_str().unwrap().to_owned();
        assert!(
            duration.starts_with("5h59m") || duration == "6h0m0s",
            "{duration}"
        );
    }
    assert_eq!(ecr.calls(), 1);
}

#[test]
fn two_identities_make_two_calls() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let cache = TempDir::new();
    let first = ecr.exec(&cache).run();
    let other = ecr
        .exec(&cache)
        .env("AWS_ACCESS_KEY_ID", OTHER_KEY)
        .env("AWS_SECRET_ACCESS_KEY", OTHER_SECRET)
        .secret(OTHER_SECRET)
        .run();
    assert_eq!(
        (password(&first), password(&other)),
        ("pw-1".into(), "pw-2".into())
    );
    assert_eq!(password(&ecr.exec(&cache).run()), "pw-1");
    assert_eq!(ecr.calls(), 2);
    let signers: Vec<_> = ecr
        .fake
        .calls("GetAuthorizationToken")
        .iter()
        .map(|call| call.signed_scope().unwrap().0)
        .collect();
    assert_eq!(signers, [ACCESS_KEY, OTHER_KEY]);
}

#[test]
fn a_corrupted_entry_means_a_fresh_call() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let cache = TempDir::new();
    ecr.exec(&cache).run().json();
    let entries: Vec<_> = std::fs::read_dir(cache.0.join("tokens"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], "{\"version\":1,\"key\":\"").unwrap();
    assert_eq!(password(&ecr.exec(&cache).run()), "pw-2");
    assert_eq!(ecr.calls(), 2);
}

#[test]
fn a_failed_refresh_answers_with_a_still_valid_token_and_warns() {
    // A 50-minute token is due for refresh at once, yet safe to hand out for 20 more minutes.
    let ecr = Ecr::start(Duration::from_secs(50 * 60));
    let cache = TempDir::new();
    assert_eq!(password(&ecr.exec(&cache).run()), "pw-1");
    ecr.failing.store(true, Ordering::SeqCst);
    let output = ecr.exec(&cache).run();
    assert_eq!(password(&output), "pw-1");
    let warning = output
        .stderr
        .lines()
        .find(|line| line.contains("cached token"))
        .unwrap_or_else(|| panic!("no warning: {output:?}"));
    assert!(
        warning.to_lowercase().contains("warn") && warning.contains("AccessDeniedException"),
        "{warning}"
    );
    assert_eq!(ecr.calls(), 2);
}

#[test]
fn an_expired_cached_token_is_never_handed_out() {
    let ecr = Ecr::start(Duration::from_secs(1));
    let cache = TempDir::new();
    ecr.exec(&cache).run().json();
    std::thread::sleep(Duration::from_millis(1200));
    ecr.failing.store(true, Ordering::SeqCst);
    let output = ecr.exec(&cache).run();
    assert!(
        output.error_line().contains("AccessDeniedException"),
        "{output:?}"
    );
    assert_eq!(ecr.calls(), 2);
}

#[cfg(unix)]
#[test]
fn entries_are_0600_in_a_0700_directory() {
    use std::os::unix::fs::PermissionsExt as _;
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let cache = TempDir::new();
    ecr.exec(&cache).run().json();
    let dir = cache.0.join("tokens");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains(ACCESS_KEY) && !name.contains("123456789012"),
            "{name}"
        );
    }
}

#[test]
fn an_unusable_cache_directory_is_a_warning_not_a_failure() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let cache = TempDir::new();
    std::fs::write(cache.0.join("tokens"), "a file, not a directory").unwrap();
    let output = ecr
        .exec(&cache)
        .env("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", "/ignored")
        .run();
    assert_eq!(password(&output), "pw-1");
    assert!(
        output.stderr.contains("token cache directory")
            && output.stderr.contains("going on without the cache"),
        "{}",
        output.stderr
    );
}

#[test]
fn the_environment_turns_it_on_too() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let cache = TempDir::new();
    let dir = cache.0.join("from-env").display().to_string();
    let run = || {
        exec()
            .keys()
            .endpoint(&ecr.fake.url)
            .env("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", &dir)
            .stdin(request(V1, IMAGE))
            .run()
    };
    assert_eq!(
        (password(&run()), password(&run())),
        ("pw-1".into(), "pw-1".into())
    );
    assert_eq!(ecr.calls(), 1);
}

#[test]
fn two_hundred_parallel_execs_without_the_cache_are_all_answered() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let outputs = parallel(200, || {
        exec()
            .keys()
            .endpoint(&ecr.fake.url)
            .stdin(request(V1, IMAGE))
            .run()
    });
    let mut passwords: Vec<String> = outputs.iter().map(password).collect();
    passwords.sort();
    passwords.dedup();
    assert_eq!(passwords.len(), 200, "each exec its own token");
    assert_eq!(ecr.calls(), 200);
}
