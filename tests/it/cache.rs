//! The shared token cache, counted at the server: many execs, one GetAuthorizationToken.

use std::path::{Path, PathBuf};
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
        self.exec_in(&cache.0.join("tokens"))
    }

    fn exec_in(&self, dir: &Path) -> Exec {
        exec()
            .keys()
            .endpoint(&self.fake.url)
            .arg(format!("--cache-dir={}", dir.display()))
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

// Issue 19: the cache runs as root and must never touch what it did not create.

const THREE_DAYS: Duration = Duration::from_secs(72 * 3600);

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A file of `name` in `dir`, last modified `age` ago.
fn old_file(dir: &Path, name: &str, age: Duration) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "not the cache's").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - age)
        .unwrap();
    path
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The pull was answered, and stderr says once, naming the directory, why the cache was not
/// used.
#[track_caller]
fn answered_without_the_cache(output: &Output, dir: &Path, why: &str) {
    output.json();
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one warning: {}", output.stderr);
    assert!(
        lines[0].contains("warning")
            && lines[0].contains(&format!("token cache directory {}", dir.display()))
            && lines[0].contains(why)
            && lines[0].contains("going on without the cache"),
        "{}",
        lines[0]
    );
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_as_the_cache_dir_is_refused_and_its_target_untouched() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let scratch = TempDir::new();
    let target = scratch.0.join("etc-docker");
    std::fs::create_dir(&target).unwrap();
    set_mode(&target, 0o755);
    old_file(&target, "daemon.json", THREE_DAYS);
    old_file(&target, "keep.tmp", THREE_DAYS);
    let link = scratch.0.join("tokens");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let outputs = [ecr.exec_in(&link).run(), ecr.exec_in(&link).run()];
    assert_eq!(mode(&target), 0o755);
    assert_eq!(names(&target), ["daemon.json", "keep.tmp"]);
    for output in &outputs {
        answered_without_the_cache(output, &link, "symbolic link");
    }
    assert_eq!(ecr.calls(), 2);
}

#[cfg(unix)]
#[test]
fn a_cache_dir_others_can_write_in_is_refused_and_left_as_it_is() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let scratch = TempDir::new();
    let shared = scratch.0.join("tmp");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o1777);
    let theirs = format!("{}.json", "a".repeat(64));
    old_file(&shared, &theirs, THREE_DAYS);
    let output = ecr.exec_in(&shared).run();
    assert_eq!(mode(&shared), 0o1777);
    assert_eq!(names(&shared), [theirs]);
    answered_without_the_cache(&output, &shared, "mode 1777 lets other users write in it");
}

#[cfg(unix)]
#[test]
fn a_cache_dir_of_another_user_is_refused() {
    use std::os::unix::fs::MetadataExt as _;
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let scratch = TempDir::new();
    // As root, a directory given to nobody; as anyone else, one root owns.
    let theirs = if scratch.0.metadata().unwrap().uid() == 0 {
        let dir = scratch.0.join("nobody");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o700);
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        dir
    } else {
        PathBuf::from("/")
    };
    let before = names(&theirs);
    let owner = theirs.metadata().unwrap().uid();
    let output = ecr.exec_in(&theirs).run();
    assert_eq!(names(&theirs), before);
    answered_without_the_cache(
        &output,
        &theirs,
        &format!("it belongs to uid {owner}, not to this process's uid"),
    );
}

#[test]
fn a_missing_parent_is_a_warning_and_nothing_is_made() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let scratch = TempDir::new();
    let nested = scratch.0.join("nonexistent/a/b");
    let output = ecr.exec_in(&nested).run();
    assert!(names(&scratch.0).is_empty());
    answered_without_the_cache(&output, &nested, "its parent directory does not exist");
}

#[cfg(unix)]
#[test]
fn planted_lock_links_are_never_followed() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let scratch = TempDir::new();
    let dir = scratch.0.join("tokens");
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o700);
    let outside = scratch.0.join("etc");
    std::fs::create_dir(&outside).unwrap();
    let existing = old_file(&outside, "shadow", THREE_DAYS);
    set_mode(&existing, 0o640);
    for bucket in 0..16 {
        // Half to a file that exists, half to one that does not.
        let target = if bucket % 2 == 0 {
            existing.clone()
        } else {
            outside.join(format!("made-{bucket:x}"))
        };
        std::os::unix::fs::symlink(&target, dir.join(format!("lock-{bucket:x}"))).unwrap();
    }
    let output = ecr.exec(&scratch).run();
    assert_eq!(password(&output), "pw-1");
    assert_eq!(names(&outside), ["shadow"]);
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "not the cache's"
    );
    assert_eq!(mode(&existing), 0o640);
    // The entry was written all the same, and serves the next exec.
    assert_eq!(password(&ecr.exec(&scratch).run()), "pw-1");
    assert_eq!(ecr.calls(), 1);
}

#[test]
fn only_the_caches_own_old_files_are_pruned() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let scratch = TempDir::new();
    let dir = scratch.0.join("tokens");
    std::fs::create_dir(&dir).unwrap();
    #[cfg(unix)]
    set_mode(&dir, 0o700);
    let hex = "0123456789abcdef".repeat(4);
    let ours = [format!("{hex}.json"), format!(".{hex}.42.7.tmp")];
    let theirs = ["daemon.json", "keep.tmp", "old.json", ".probe-1"];
    for name in ours.iter().map(String::as_str).chain(theirs) {
        old_file(&dir, name, THREE_DAYS);
    }
    ecr.exec(&scratch).run().json();
    let left = names(&dir);
    for name in theirs {
        assert!(
            left.iter().any(|left| left == name),
            "{name} pruned: {left:?}"
        );
    }
    for name in &ours {
        assert!(!left.contains(name), "{name} kept: {left:?}");
    }
}

#[test]
fn times_out_of_range_in_an_entry_are_a_miss_and_replaced() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let cache = TempDir::new();
    let dir = cache.0.join("tokens");
    assert_eq!(password(&ecr.exec(&cache).run()), "pw-1");
    let entry = dir.join(
        names(&dir)
            .into_iter()
            .find(|name| Path::new(name).extension().is_some_and(|ext| ext == "json"))
            .unwrap(),
    );
    let mut calls = 1;
    for (field, value) in [
        ("expiresAt", 1_u64 << 63),
        ("expiresAt", u64::MAX),
        ("fetchedAt", 1_u64 << 63),
    ] {
        let mut stored: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&entry).unwrap()).unwrap();
        stored[field] = value.into();
        std::fs::write(&entry, stored.to_string()).unwrap();
        calls += 1;
        let fresh = format!("pw-{calls}");
        assert_eq!(password(&ecr.exec(&cache).run()), fresh, "{field} {value}");
        assert_eq!(
            password(&ecr.exec(&cache).run()),
            fresh,
            "{field} {value}: not replaced"
        );
    }
    assert_eq!(ecr.calls(), calls);
}

#[test]
fn a_held_lock_leaves_a_short_timeout_time_for_the_token_call() {
    let ecr = Ecr::start(Duration::from_secs(12 * 3600));
    let cache = TempDir::new();
    let dir = cache.0.join("tokens");
    std::fs::create_dir(&dir).unwrap();
    #[cfg(unix)]
    set_mode(&dir, 0o700);
    // Another process (this one) holds every lock, as an exec stuck mid-fill would.
    let held: Vec<std::fs::File> = (0..16)
        .map(|bucket| {
            let path = dir.join(format!("lock-{bucket:x}"));
            let file = std::fs::File::create(&path).unwrap();
            #[cfg(unix)]
            set_mode(&path, 0o600);
            file.lock().unwrap();
            file
        })
        .collect();
    // Before, the wait took the whole 400 ms every time; now a third try absorbs a machine
    // too busy to answer in what is left.
    let answered = (0..3).find_map(|_| {
        let output = ecr.exec(&cache).arg("--timeout=400ms").run();
        assert!(
            !output.stderr.contains("waiting for the token cache lock"),
            "the lock took the whole budget: {output:?}"
        );
        (output.code == Some(0)).then_some(output)
    });
    let output = answered.expect("no answer in three tries");
    assert!(password(&output).starts_with("pw-"));
    assert!(
        output.stderr.contains("held the token cache lock"),
        "{}",
        output.stderr
    );
    drop(held);
}
