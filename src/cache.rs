//! The shared token cache, opt-in (`--cache-dir=DIR`, `ECR_CREDENTIAL_PROVIDER_CACHE_DIR`):
//! every exec on a node for one registry and identity shares one GetAuthorizationToken.
//!
//! One JSON file per key (service, registry, region, endpoint, identity), named by the key's
//! SHA-256, 0600 in a 0700 directory, written atomically (temporary file, then rename). A miss
//! is filled under an exclusive lock, so N concurrent execs make one call. An entry is served
//! while more than half its life (and at least an hour) is left; after that the first exec to
//! get the lock refreshes it while the others keep answering from it. When the refresh fails
//! and the entry still has `SAFE_MARGIN` left, it is answered with and a warning says why;
//! an entry with less is never answered with. An entry that is corrupt, foreign (not ours,
//! not 0600, another key) or unreadable is ignored and replaced. Decisions take `now` from
//! the caller; only the file system is touched here.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use tracing::debug;

use crate::deadline::Progress;
use crate::secret::Secret;
use crate::token;

pub const CACHE_DIR_ENV: &str = "ECR_CREDENTIAL_PROVIDER_CACHE_DIR";
/// A cached token is never answered with when less than this is left of its life: the
/// kubelet still has to pull with it.
pub const SAFE_MARGIN: Duration = Duration::from_secs(30 * 60);
/// Refresh once less than this is left, however long the token lived.
const REFRESH_FLOOR: Duration = Duration::from_secs(60 * 60);
/// Entries and temporary files untouched for this long belong to no live token (ECR tokens
/// live 12 h) and are removed.
const STALE_FILE_AGE: Duration = Duration::from_secs(24 * 3600);
const MAX_ENTRY_BYTES: u64 = 64 * 1024;
const VERSION: u32 = 1;
/// Locks are spread over a fixed set of files, so the directory never grows with them.
const LOCK_FILES: usize = 16;

/// What an entry is keyed by. Hashed, never stored or shown.
#[derive(Debug)]
pub struct KeyParts<'a> {
    pub service: &'a str,
    pub registry: &'a str,
    pub region: &'a str,
    /// The endpoint settings that decide where the call goes (override URL, FIPS, dual-stack).
    pub endpoint: &'a str,
    /// The identity, known without a network call: the access key id of the resolved
    /// credentials names one principal's key (or session), so two identities can never share
    /// an entry. Temporary credentials (instance metadata, web identity) get a new key id when
    /// they rotate, which costs one more token call per rotation: still one call per node and
    /// registry an hour instead of one per pull. The role's ARN would be steadier, but finding it
    /// takes STS GetCallerIdentity on every exec.
    pub access_key_id: &'a str,
    /// Where the credentials came from, so two providers never mix even on a shared key id.
    pub credential_source: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    pub fn new(parts: &KeyParts<'_>) -> Self {
        let mut hash = Sha256::new();
        for field in [
            "ecr-credential-provider token cache v1",
            parts.service,
            parts.registry,
            parts.region,
            parts.endpoint,
            parts.access_key_id,
            parts.credential_source,
        ] {
            // Length-prefixed, so no two different tuples hash the same bytes.
            hash.update(u64::try_from(field.len()).unwrap_or(u64::MAX).to_be_bytes());
            hash.update(field.as_bytes());
        }
        let hex = hash.finalize().iter().fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        });
        Self(hex)
    }

    fn file_name(&self) -> String {
        format!("{}.json", self.0)
    }

    fn lock_name(&self) -> String {
        let bucket = usize::from_str_radix(&self.0[..2], 16).unwrap_or(0) % LOCK_FILES;
        format!("lock-{bucket:x}")
    }
}

/// An entry as stored.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Stored {
    version: u32,
    key: String,
    token: String,
    expires_at: u64,
    fetched_at: u64,
}

/// A token read back from the cache.
#[derive(Debug)]
pub struct Cached {
    pub token: Secret,
    pub expires_at: SystemTime,
    pub fetched_at: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Answer with it.
    Fresh,
    /// Answer with it, but refresh first if nobody else is.
    Due,
    /// Too close to expiry (or past it) to hand out.
    Unusable,
}

impl Cached {
    pub fn freshness(&self, now: SystemTime) -> Freshness {
        let Ok(left) = self.expires_at.duration_since(now) else {
            return Freshness::Unusable;
        };
        if left < SAFE_MARGIN {
            return Freshness::Unusable;
        }
        let life = self
            .expires_at
            .duration_since(self.fetched_at)
            .unwrap_or_default();
        // A fetch time in the future means the clock went back: refresh rather than trust it.
        let clock_sane = self.fetched_at <= now + Duration::from_secs(60);
        if clock_sane && left >= (life / 2).max(REFRESH_FLOOR) {
            Freshness::Fresh
        } else {
            Freshness::Due
        }
    }
}

/// A token fresh from AWS, to be stored.
pub trait Fetched {
    fn token(&self) -> &Secret;
    fn expires_at(&self) -> Option<SystemTime>;
}

/// How a request was answered.
#[derive(Debug)]
pub enum Answer<T, E> {
    Hit(Cached),
    Fetched(T),
    /// The refresh failed with `error`; `cached` is still good for `SAFE_MARGIN`.
    Stale {
        cached: Cached,
        error: E,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("could not create or open it: {0}")]
    Io(#[from] io::Error),
    #[error("it is not a directory")]
    NotDirectory,
    #[error("it belongs to another user")]
    Foreign,
}

/// An open cache directory.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    #[cfg(unix)]
    uid: u32,
}

impl Cache {
    /// Creates `dir` (0700) if needed and checks it is a directory of ours that we can write.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
        if !fs::metadata(dir)?.is_dir() {
            return Err(CacheError::NotDirectory);
        }
        // Writing a file proves the directory is writable and tells whose files we make.
        let probe = dir.join(format!(".probe-{}", std::process::id()));
        let file = create_private(&probe)?;
        #[cfg(unix)]
        let uid = {
            use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
            let uid = file.metadata()?.uid();
            drop(file);
            let _ = fs::remove_file(&probe);
            let meta = fs::metadata(dir)?;
            if meta.uid() != uid {
                return Err(CacheError::Foreign);
            }
            if meta.mode() & 0o777 != 0o700 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
            }
            uid
        };
        #[cfg(not(unix))]
        {
            drop(file);
            let _ = fs::remove_file(&probe);
        }
        Ok(Self {
            dir: dir.to_owned(),
            #[cfg(unix)]
            uid,
        })
    }

    /// Serves `key` from the cache, or fills it with `fetch` under the lock. The lock is
    /// waited for `lock_wait` at most: an exec stuck while holding it costs the others a call,
    /// never their pull.
    pub async fn through<T, E, F>(
        &self,
        key: &Key,
        now: impl Fn() -> SystemTime,
        lock_wait: Duration,
        progress: &Progress,
        fetch: impl FnOnce() -> F,
    ) -> Result<Answer<T, E>, E>
    where
        T: Fetched,
        F: Future<Output = Result<T, E>>,
    {
        let mut cached = self.read(key);
        let plan = match cached.as_ref().map(|c| c.freshness(now())) {
            Some(Freshness::Fresh) => Plan::Serve,
            Some(Freshness::Due) => Plan::RefreshIfFree,
            Some(Freshness::Unusable) | None => Plan::Fill,
        };
        let lock = match plan {
            Plan::Serve => None,
            // Busy means another exec is refreshing: answer from the entry rather than wait.
            Plan::RefreshIfFree => self.try_lock(key).unwrap_or_else(|error| {
                debug!(%error, "token cache lock");
                None
            }),
            Plan::Fill => {
                progress.step("the token cache lock (another exec is fetching the token)");
                match tokio::time::timeout(lock_wait, self.lock(key)).await {
                    Ok(Ok(lock)) => Some(lock),
                    Ok(Err(error)) => {
                        debug!(%error, "token cache lock");
                        None
                    }
                    Err(_) => {
                        tracing::warn!(
                            "another exec has held the token cache lock for {}s; asking AWS without it",
                            lock_wait.as_secs_f32()
                        );
                        None
                    }
                }
            }
        };
        if plan != Plan::Fill
            && lock.is_none()
            && let Some(cached) = cached.take()
        {
            return Ok(Answer::Hit(cached));
        }
        // The exec that held the lock before may have filled or refreshed it: then it is the
        // newest token there is, whatever its freshness.
        let seen = cached.as_ref().map(|c| c.fetched_at);
        if lock.is_some() {
            cached = self.read(key);
        }
        if let Some(filled) = cached.take_if(|c| match c.freshness(now()) {
            Freshness::Fresh => true,
            Freshness::Due => seen != Some(c.fetched_at),
            Freshness::Unusable => false,
        }) {
            tracing::info!("token cache: filled by another exec");
            return Ok(Answer::Hit(filled));
        }
        match fetch().await {
            Ok(fetched) => {
                if let Some(expires_at) = fetched.expires_at()
                    && let Err(error) = self.write(key, fetched.token(), expires_at, now())
                {
                    tracing::warn!(
                        "could not write the token cache in {}: {error}; going on without it",
                        self.dir.display()
                    );
                }
                drop(lock);
                Ok(Answer::Fetched(fetched))
            }
            Err(error) => match cached.filter(|c| c.freshness(now()) != Freshness::Unusable) {
                Some(cached) => Ok(Answer::Stale { cached, error }),
                None => Err(error),
            },
        }
    }

    /// The entry for `key`, if it is ours, whole and well-formed; anything else is ignored.
    pub fn read(&self, key: &Key) -> Option<Cached> {
        let path = self.dir.join(key.file_name());
        match self.read_entry(&path, key) {
            Ok(cached) => Some(cached),
            Err(why) => {
                if !matches!(&why, Unusable::Io(error) if error.kind() == io::ErrorKind::NotFound) {
                    debug!(entry = %path.display(), why = %why, "token cache entry ignored");
                }
                None
            }
        }
    }

    fn read_entry(&self, path: &Path, key: &Key) -> Result<Cached, Unusable> {
        let meta = fs::symlink_metadata(path)?;
        if !meta.file_type().is_file() {
            return Err(Unusable::Foreign("not a regular file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            if meta.uid() != self.uid {
                return Err(Unusable::Foreign("owned by another user"));
            }
            if meta.mode() & 0o777 != 0o600 {
                return Err(Unusable::Foreign("not mode 0600"));
            }
        }
        let mut text = String::new();
        File::open(path)?
            .take(MAX_ENTRY_BYTES)
            .read_to_string(&mut text)?;
        let stored: Stored =
            serde_json::from_str(&text).map_err(|_| Unusable::Corrupt("not an entry"))?;
        if stored.version != VERSION || stored.key != key.0 {
            return Err(Unusable::Foreign("another version or key"));
        }
        let token = Secret::new(stored.token);
        token::decode(&token).map_err(|_| Unusable::Corrupt("the token does not decode"))?;
        Ok(Cached {
            token,
            expires_at: UNIX_EPOCH + Duration::from_secs(stored.expires_at),
            fetched_at: UNIX_EPOCH + Duration::from_secs(stored.fetched_at),
        })
    }

    /// Writes the entry atomically: a private temporary file, renamed over the old entry.
    pub fn write(
        &self,
        key: &Key,
        token: &Secret,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> io::Result<()> {
        let secs = |at: SystemTime| at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let stored = Stored {
            version: VERSION,
            key: key.0.clone(),
            token: token.expose().to_owned(),
            expires_at: secs(expires_at),
            fetched_at: secs(now),
        };
        let text = serde_json::to_string(&stored).map_err(io::Error::other)?;
        let nanos = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let temporary = self
            .dir
            .join(format!(".{}.{}.{nanos}.tmp", key.0, std::process::id()));
        let written = create_private(&temporary).and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        });
        let renamed = written.and_then(|()| fs::rename(&temporary, self.dir.join(key.file_name())));
        if renamed.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        renamed?;
        self.prune();
        Ok(())
    }

    /// Removes entries and leftovers no token can still be alive in. File times are the
    /// system clock's, so this is judged by it too.
    fn prune(&self) {
        let now = SystemTime::now();
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.ends_with(".json") || name.ends_with(".tmp")) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified + STALE_FILE_AGE < now);
            if old {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn lock_file(&self, key: &Key) -> io::Result<File> {
        let path = self.dir.join(key.lock_name());
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path)
    }

    /// Waits for the key's lock on a blocking thread, so the run's deadline still holds.
    async fn lock(&self, key: &Key) -> io::Result<File> {
        let file = self.lock_file(key)?;
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(io::Error::other)?
    }

    fn try_lock(&self, key: &Key) -> io::Result<Option<File>> {
        let file = self.lock_file(key)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(error)) => Err(error),
        }
    }
}

/// A new file only we can read.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Serve,
    RefreshIfFree,
    Fill,
}

#[derive(Debug, thiserror::Error)]
enum Unusable {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("foreign: {0}")]
    Foreign(&'static str),
    #[error("corrupt: {0}")]
    Corrupt(&'static str),
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt as _;

    use base64::Engine as _;

    use super::*;

    const T0: Duration = Duration::from_secs(1_800_000_000);
    const HOUR: Duration = Duration::from_secs(3600);
    const MINUTE: Duration = Duration::from_secs(60);

    fn at(offset: Duration) -> SystemTime {
        UNIX_EPOCH + T0 + offset
    }

    fn token(password: &str) -> Secret {
        Secret::new(base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}")))
    }

    #[derive(Debug)]
    struct Fresh(Secret, Option<SystemTime>);

    impl Fetched for Fresh {
        fn token(&self) -> &Secret {
            &self.0
        }
        fn expires_at(&self) -> Option<SystemTime> {
            self.1
        }
    }

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "ecr-credential-provider-cache-{name}-{}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&path);
            Self(path.join("cache"))
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(self.0.parent().unwrap());
        }
    }

    fn key(access_key_id: &str) -> Key {
        Key::new(&KeyParts {
            service: "ECR",
            registry: "123456789012.dkr.ecr.us-west-2.amazonaws.com",
            region: "us-west-2",
            endpoint: "",
            access_key_id,
            credential_source: "environment variables",
        })
    }

    /// One pass through the cache at `now`; `fetch` answers with `Ok(password, life)` or fails.
    fn run(
        cache: &Cache,
        key: &Key,
        now: SystemTime,
        fetch: Result<(&str, Duration), &str>,
    ) -> (Result<Answer<Fresh, String>, String>, bool) {
        let called = Cell::new(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let result = runtime.block_on(cache.through(
            key,
            || now,
            Duration::from_secs(5),
            &Progress::default(),
            || {
                called.set(true);
                let result = fetch
                    .map(|(password, life)| Fresh(token(password), Some(now + life)))
                    .map_err(str::to_owned);
                async move { result }
            },
        ));
        (result, called.get())
    }

    fn password(answer: &Answer<Fresh, String>) -> String {
        let token = match answer {
            Answer::Hit(cached) | Answer::Stale { cached, .. } => &cached.token,
            Answer::Fetched(fresh) => &fresh.0,
        };
        token::decode(token).unwrap().password.expose().to_owned()
    }

    #[test]
    fn freshness_over_a_tokens_life() {
        let cached = |fetched: Duration, life: Duration| Cached {
            token: token("pw"),
            fetched_at: at(fetched),
            expires_at: at(fetched + life),
        };
        let twelve = cached(Duration::ZERO, 12 * HOUR);
        let table = [
            (Duration::ZERO, Freshness::Fresh),
            (5 * HOUR, Freshness::Fresh),
            (6 * HOUR, Freshness::Fresh),
            (6 * HOUR + MINUTE, Freshness::Due),
            (11 * HOUR + 29 * MINUTE, Freshness::Due),
            (11 * HOUR + 31 * MINUTE, Freshness::Unusable),
            (12 * HOUR, Freshness::Unusable),
            (13 * HOUR, Freshness::Unusable),
        ];
        for (now, expected) in table {
            assert_eq!(twelve.freshness(at(now)), expected, "{now:?}");
        }
        // Short-lived tokens are refreshed from the start, and never handed out near the end.
        assert_eq!(
            cached(Duration::ZERO, 50 * MINUTE).freshness(at(Duration::ZERO)),
            Freshness::Due
        );
        assert_eq!(
            cached(Duration::ZERO, 20 * MINUTE).freshness(at(Duration::ZERO)),
            Freshness::Unusable
        );
        // A fetch time ahead of the clock: the clock went back; refresh rather than trust it.
        assert_eq!(twelve.freshness(at(Duration::ZERO) - HOUR), Freshness::Due);
    }

    #[test]
    fn a_miss_is_filled_once_then_served_until_due() {
        let dir = Dir::new("fill");
        let cache = Cache::open(&dir.0).unwrap();
        let key = key("AKIAEXAMPLE1");
        let (answer, called) = run(&cache, &key, at(Duration::ZERO), Ok(("one", 12 * HOUR)));
        assert!(called && matches!(answer, Ok(Answer::Fetched(_))));
        let (answer, called) = run(&cache, &key, at(5 * HOUR), Err("must not be called"));
        assert!(!called);
        let answer = answer.unwrap();
        assert!(matches!(answer, Answer::Hit(_)));
        assert_eq!(password(&answer), "one");
        // Past half its life, the first exec refreshes.
        let (answer, called) = run(&cache, &key, at(7 * HOUR), Ok(("two", 12 * HOUR)));
        assert!(called);
        assert_eq!(password(&answer.unwrap()), "two");
        let (answer, _) = run(&cache, &key, at(8 * HOUR), Err("must not be called"));
        assert_eq!(password(&answer.unwrap()), "two");
    }

    #[test]
    fn a_failed_refresh_answers_with_a_token_still_safe_and_never_with_an_expiring_one() {
        let dir = Dir::new("stale");
        let cache = Cache::open(&dir.0).unwrap();
        let key = key("AKIAEXAMPLE1");
        run(&cache, &key, at(Duration::ZERO), Ok(("one", 12 * HOUR)))
            .0
            .unwrap();
        let (answer, called) = run(&cache, &key, at(9 * HOUR), Err("throttled"));
        assert!(called);
        match answer {
            Ok(Answer::Stale { cached, error }) => {
                assert_eq!(error, "throttled");
                assert_eq!(cached.expires_at, at(12 * HOUR));
            }
            other => panic!("{other:?}"),
        }
        for now in [11 * HOUR + 45 * MINUTE, 13 * HOUR] {
            let (answer, called) = run(&cache, &key, at(now), Err("throttled"));
            assert!(called);
            assert_eq!(answer.unwrap_err(), "throttled", "{now:?}");
        }
    }

    #[test]
    fn an_exec_waiting_for_the_lock_takes_what_the_holder_filled() {
        let dir = Dir::new("wait");
        let cache = Cache::open(&dir.0).unwrap();
        let key = key("AKIAEXAMPLE1");
        let held = cache.lock_file(&key).unwrap();
        held.lock().unwrap();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| run(&cache, &key, at(Duration::ZERO), Err("must wait")));
            std::thread::sleep(Duration::from_millis(200));
            assert!(!waiter.is_finished(), "it did not wait for the lock");
            // A short-lived token: due for refresh at once, but just fetched by the holder.
            cache
                .write(&key, &token("filled"), at(50 * MINUTE), at(Duration::ZERO))
                .unwrap();
            drop(held);
            let (answer, called) = waiter.join().unwrap();
            assert!(!called);
            assert_eq!(password(&answer.unwrap()), "filled");
        });
    }

    #[test]
    fn a_lock_held_too_long_costs_a_call_not_the_pull() {
        let dir = Dir::new("stuck");
        let cache = Cache::open(&dir.0).unwrap();
        let key = key("AKIAEXAMPLE1");
        let held = cache.lock_file(&key).unwrap();
        held.lock().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let now = at(Duration::ZERO);
        let answer = runtime.block_on(cache.through(
            &key,
            || now,
            Duration::from_millis(100),
            &Progress::default(),
            || async { Ok::<_, String>(Fresh(token("direct"), Some(now + 12 * HOUR))) },
        ));
        assert_eq!(password(&answer.unwrap()), "direct");
        drop(held);
    }

    #[test]
    fn identities_never_share_an_entry_and_names_give_nothing_away() {
        let dir = Dir::new("identity");
        let cache = Cache::open(&dir.0).unwrap();
        let (one, two) = (key("AKIAEXAMPLE1"), key("AKIAEXAMPLE2"));
        assert_ne!(one, two);
        run(&cache, &one, at(Duration::ZERO), Ok(("one", 12 * HOUR)))
            .0
            .unwrap();
        let (answer, called) = run(&cache, &two, at(Duration::ZERO), Ok(("two", 12 * HOUR)));
        assert!(called);
        assert_eq!(password(&answer.unwrap()), "two");
        for entry in fs::read_dir(&dir.0).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.contains("AKIA") && !name.contains("us-west-2"),
                "{name}"
            );
        }
        let region = |region| {
            Key::new(&KeyParts {
                region,
                ..KeyParts {
                    service: "ECR",
                    registry: "r",
                    region: "",
                    endpoint: "",
                    access_key_id: "AKIAEXAMPLE1",
                    credential_source: "s",
                }
            })
        };
        assert_ne!(region("us-east-1"), region("us-west-2"));
    }

    #[test]
    fn corrupt_or_foreign_entries_are_ignored_and_replaced() {
        let dir = Dir::new("corrupt");
        let cache = Cache::open(&dir.0).unwrap();
        let (one, two) = (key("AKIAEXAMPLE1"), key("AKIAEXAMPLE2"));
        let entry = dir.0.join(one.file_name());
        run(&cache, &two, at(Duration::ZERO), Ok(("two", 12 * HOUR)))
            .0
            .unwrap();
        let foreign = fs::read(dir.0.join(two.file_name())).unwrap();
        let valid = {
            run(&cache, &one, at(Duration::ZERO), Ok(("one", 12 * HOUR)))
                .0
                .unwrap();
            fs::read_to_string(&entry).unwrap()
        };
        let cases: [(&str, Vec<u8>); 5] = [
            ("garbage", b"\x00\xffnot json".to_vec()),
            ("truncated", valid.as_bytes()[..valid.len() / 2].to_vec()),
            ("another key's entry", foreign),
            (
                "an undecodable token",
                valid.replace("\"token\":\"", "\"token\":\"!").into_bytes(),
            ),
            ("empty", Vec::new()),
        ];
        for (case, bytes) in cases {
            fs::write(&entry, bytes).unwrap();
            let (answer, called) = run(&cache, &one, at(HOUR), Ok(("fresh", 12 * HOUR)));
            assert!(called, "{case}");
            assert_eq!(password(&answer.unwrap()), "fresh", "{case}");
            let (_, called) = run(&cache, &one, at(HOUR), Err("replaced"));
            assert!(!called, "{case}: the entry was not replaced");
        }
        #[cfg(unix)]
        {
            fs::set_permissions(&entry, fs::Permissions::from_mode(0o644)).unwrap();
            let (_, called) = run(&cache, &one, at(HOUR), Ok(("fresh", 12 * HOUR)));
            assert!(called, "an entry others can read is not trusted");
        }
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_the_directory_is_made_so() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = Dir::new("modes");
        fs::create_dir_all(&dir.0).unwrap();
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
        let cache = Cache::open(&dir.0).unwrap();
        assert_eq!(fs::metadata(&dir.0).unwrap().mode() & 0o777, 0o700);
        run(
            &cache,
            &key("AKIAEXAMPLE1"),
            at(Duration::ZERO),
            Ok(("one", 12 * HOUR)),
        )
        .0
        .unwrap();
        let names: Vec<_> = fs::read_dir(&dir.0)
            .unwrap()
            .map(|entry| entry.unwrap())
            .map(|entry| (entry.file_name(), entry.metadata().unwrap().mode() & 0o777))
            .collect();
        assert_eq!(names.len(), 2, "one entry and one lock file: {names:?}");
        assert!(names.iter().all(|(_, mode)| *mode == 0o600), "{names:?}");
    }

    #[test]
    fn a_path_that_cannot_be_a_directory_is_no_cache() {
        let dir = Dir::new("file");
        fs::create_dir_all(dir.0.parent().unwrap()).unwrap();
        fs::write(&dir.0, b"").unwrap();
        assert!(Cache::open(&dir.0).is_err());
        assert!(Cache::open(&dir.0.join("below")).is_err());
    }

    #[test]
    fn old_entries_are_pruned_on_write() {
        let dir = Dir::new("prune");
        let cache = Cache::open(&dir.0).unwrap();
        let (one, two) = (key("AKIAEXAMPLE1"), key("AKIAEXAMPLE2"));
        run(&cache, &one, at(Duration::ZERO), Ok(("one", 12 * HOUR)))
            .0
            .unwrap();
        File::options()
            .write(true)
            .open(dir.0.join(one.file_name()))
            .unwrap()
            .set_modified(SystemTime::now() - 25 * HOUR)
            .unwrap();
        cache
            .write(&two, &token("two"), at(12 * HOUR), at(Duration::ZERO))
            .unwrap();
        assert!(!dir.0.join(one.file_name()).exists());
        assert!(dir.0.join(two.file_name()).exists());
    }
}
