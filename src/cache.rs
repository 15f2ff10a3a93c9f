//! The shared token cache, opt-in for the kubelet (`--cache-dir=DIR`,
//! `ECR_CREDENTIAL_PROVIDER_CACHE_DIR`) and on by default for the Docker helper (see
//! `commands::docker_helper`): every exec on a node for one registry and identity shares one
//! GetAuthorizationToken.
//!
//! One JSON file per key (service, registry, region, endpoint, identity), named by the key's
//! SHA-256, 0600, written atomically (temporary file, then rename); it records the registry
//! host too, for the Docker helper's `list`, never the identity. A miss is filled under an
//! exclusive lock, so N concurrent execs make one call. An entry is served while more than half
//! its life (and at least an hour) is left; after that the first exec to get the lock refreshes
//! it while the others keep answering from it. When the refresh fails and the entry still has
//! `SAFE_MARGIN` left, it is answered with and a warning says why; an entry with less is never
//! answered with. An entry that is corrupt, foreign (not ours, not 0600, another key, a time
//! out of range) or unreadable is ignored and replaced. Decisions take `now` from the caller;
//! only the file system is touched here.
//!
//! The provider runs as root, so the cache never touches what it did not create (issue 19):
//! the directory is opened once without following a symbolic link, and only used when it is
//! ours and nobody else can write in it (it is never chmod'ed; only its last component is
//! created, 0700). Every later step goes through that open directory (`*at` calls, no symbolic
//! link followed), so a path swapped afterwards changes nothing, and only the names the cache
//! itself writes are ever locked, replaced or pruned.

use std::fmt::Write as _;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use tracing::debug;

use crate::deadline::Progress;
use crate::secret::Secret;
use crate::token;

use dir::Dir;

/// A cached token is never answered with when less than this is left of its life: the
/// kubelet still has to pull with it.
pub(crate) const SAFE_MARGIN: Duration = Duration::from_secs(30 * 60);
/// Refresh once less than this is left, however long the token lived.
const REFRESH_FLOOR: Duration = Duration::from_secs(60 * 60);
/// Entries and temporary files untouched for this long belong to no live token (ECR tokens
/// live 12 h) and are removed.
const STALE_FILE_AGE: Duration = Duration::from_secs(24 * 3600);
const MAX_ENTRY_BYTES: u64 = 64 * 1024;
const VERSION: u32 = 1;
/// Locks are spread over a fixed set of files, so the directory never grows with them.
const LOCK_FILES: usize = 16;
/// A key's hash in hex: entry and temporary file names are made of it.
const KEY_HEX_LEN: usize = 64;

/// What an entry is keyed by. Hashed; of the parts, only the registry is also stored in the
/// entry (for the Docker helper's `list`), never the identity.
#[derive(Debug)]
pub(crate) struct KeyParts<'a> {
    pub(crate) service: &'a str,
    /// The registry host, as the image or server URL spells it.
    pub(crate) registry: &'a str,
    pub(crate) region: &'a str,
    /// The endpoint settings that decide where the call goes (override URL, FIPS, dual-stack).
    pub(crate) endpoint: &'a str,
    /// The identity, known without a network call: the access key id of the resolved
    /// credentials names one principal's key (or session), so two identities can never share
    /// an entry. Temporary credentials (instance metadata, web identity) get a new key id when
    /// they rotate, which costs one more token call per rotation: still one call per node and
    /// registry an hour instead of one per pull. The role's ARN would be steadier, but finding it
    /// takes STS GetCallerIdentity on every exec.
    pub(crate) access_key_id: &'a str,
    /// Where the credentials came from, so two providers never mix even on a shared key id.
    pub(crate) credential_source: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    /// The SHA-256 of the parts, in hex: the entry's name.
    hash: String,
    /// The registry host, stored in the entry.
    registry: String,
}

impl Key {
    pub(crate) fn new(parts: &KeyParts<'_>) -> Self {
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
        Self {
            hash: hex,
            registry: parts.registry.to_owned(),
        }
    }

    fn file_name(&self) -> String {
        format!("{}.json", self.hash)
    }

    /// A temporary file for the next entry, unique to this exec and instant.
    fn temporary_name(&self, now: SystemTime) -> String {
        let nanos = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        format!(".{}.{}.{nanos}.tmp", self.hash, std::process::id())
    }

    fn lock_name(&self) -> String {
        let bucket = usize::from_str_radix(&self.hash[..2], 16).unwrap_or(0) % LOCK_FILES;
        format!("lock-{bucket:x}")
    }
}

fn is_key_hex(text: &str) -> bool {
    text.len() == KEY_HEX_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `name` is one the cache writes and may prune: an entry (`Key::file_name`) or a
/// temporary file (`Key::temporary_name`). Lock files are kept: they are a fixed set.
fn is_prunable_name(name: &str) -> bool {
    if let Some(hex) = name.strip_suffix(".json") {
        return is_key_hex(hex);
    }
    let Some(middle) = name
        .strip_prefix('.')
        .and_then(|name| name.strip_suffix(".tmp"))
    else {
        return false;
    };
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = middle.split('.').collect();
    matches!(parts.as_slice(), [hex, pid, nanos] if is_key_hex(hex) && digits(pid) && digits(nanos))
}

/// An entry as stored.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Stored {
    version: u32,
    key: String,
    /// The registry host the token is for. Entries written before it was stored lack it: they
    /// still answer, and are only left out of `registries`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registry: Option<String>,
    token: String,
    expires_at: u64,
    fetched_at: u64,
}

/// A token read back from the cache.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) token: Secret,
    pub(crate) expires_at: SystemTime,
    pub(crate) fetched_at: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Answer with it.
    Fresh,
    /// Answer with it, but refresh first if nobody else is.
    Due,
    /// Too close to expiry (or past it) to hand out.
    Unusable,
}

impl Cached {
    pub(crate) fn freshness(&self, now: SystemTime) -> Freshness {
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
        let clock_sane = now
            .checked_add(Duration::from_secs(60))
            .is_none_or(|limit| self.fetched_at <= limit);
        if clock_sane && left >= (life / 2).max(REFRESH_FLOOR) {
            Freshness::Fresh
        } else {
            Freshness::Due
        }
    }
}

/// A token fresh from AWS, to be stored.
pub(crate) trait Fetched {
    fn token(&self) -> &Secret;
    fn expires_at(&self) -> Option<SystemTime>;
}

/// How a request was answered.
#[derive(Debug)]
pub(crate) enum Answer<T, E> {
    Hit(Cached),
    Fetched(T),
    /// The refresh failed with `error`; `cached` is still good for `SAFE_MARGIN`.
    Stale {
        cached: Cached,
        error: E,
    },
}

/// Why a directory is not used as the cache; each is one warning, and the run goes on
/// without the cache.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    #[error("its parent directory does not exist, and only the last component is ever created")]
    NoParent,
    #[error("could not open its parent directory: {0}")]
    Parent(io::Error),
    #[error("could not create or open it: {0}")]
    Io(#[from] io::Error),
    #[error("it is a symbolic link, which the cache never follows")]
    Symlink,
    #[error("it is not a directory")]
    NotDirectory,
    #[error("it belongs to uid {owner}, not to this process's uid {uid}")]
    Foreign { owner: u32, uid: u32 },
    #[error("its mode {mode:o} lets other users write in it")]
    Writable { mode: u32 },
}

/// An open cache directory.
#[derive(Debug)]
pub(crate) struct Cache {
    /// For messages only: every operation goes through `dir`, never through this path again.
    path: PathBuf,
    dir: Dir,
}

impl Cache {
    /// Opens `path` as the cache: creates it (0700) if its parent exists, and takes it only if
    /// it is a directory of ours, not a symbolic link, that no one else can write in. Whether
    /// it is writable is learnt from the first write.
    pub(crate) fn open(path: &Path) -> Result<Self, CacheError> {
        Ok(Self {
            path: path.to_owned(),
            dir: Dir::open(path)?,
        })
    }

    /// Serves `key` from the cache, or fills it with `fetch` under the lock. The lock is
    /// waited for `lock_wait` at most: an exec stuck while holding it costs the others a call,
    /// never their pull.
    pub(crate) async fn through<T, E, F>(
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
                            "another exec has held the token cache lock for {}; asking AWS without it",
                            crate::duration::format(lock_wait)
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
                        self.path.display()
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
    pub(crate) fn read(&self, key: &Key) -> Option<Cached> {
        match self.read_entry(key) {
            Ok(cached) => Some(cached),
            Err(why) => {
                if !matches!(&why, Unusable::Io(error) if error.kind() == io::ErrorKind::NotFound) {
                    debug!(entry = %key.file_name(), why = %why, "token cache entry ignored");
                }
                None
            }
        }
    }

    fn read_entry(&self, key: &Key) -> Result<Cached, Unusable> {
        self.load(&key.hash).map(|(cached, _)| cached)
    }

    /// Every registry an entry of ours names, with its token, whatever the token's freshness
    /// (amazon-ecr-credential-helper's `list` does not judge it either). Entries written before
    /// the registry was stored, and anything that is not a whole entry of ours, are left out.
    pub(crate) fn registries(&self) -> Vec<(String, Secret)> {
        let Ok(names) = self.dir.names() else {
            return Vec::new();
        };
        let mut registries: Vec<(String, Secret)> = names
            .iter()
            .filter_map(|name| name.strip_suffix(".json").filter(|hex| is_key_hex(hex)))
            .filter_map(|hex| match self.load(hex) {
                Ok((cached, Some(registry))) => Some((registry, cached.token)),
                Ok((_, None)) => None,
                Err(why) => {
                    debug!(entry = %hex, why = %why, "token cache entry not listed");
                    None
                }
            })
            .collect();
        registries.sort_by(|a, b| a.0.cmp(&b.0));
        registries
    }

    /// The entry named by the key's hash `hex`, with the registry it names.
    fn load(&self, hex: &str) -> Result<(Cached, Option<String>), Unusable> {
        let mut text = String::new();
        self.dir
            .open_entry(&format!("{hex}.json"))?
            .take(MAX_ENTRY_BYTES)
            .read_to_string(&mut text)?;
        let stored: Stored =
            serde_json::from_str(&text).map_err(|_| Unusable::Corrupt("not an entry"))?;
        if stored.version != VERSION || stored.key != hex {
            return Err(Unusable::Foreign("another version or key"));
        }
        let token = Secret::new(stored.token);
        token::decode(&token).map_err(|_| Unusable::Corrupt("the token does not decode"))?;
        // Any number parses, but not every one is a time: such an entry is replaced, and
        // never panics the exec that reads it.
        let time = |secs| {
            UNIX_EPOCH
                .checked_add(Duration::from_secs(secs))
                .ok_or(Unusable::Corrupt("a time out of range"))
        };
        let cached = Cached {
            token,
            expires_at: time(stored.expires_at)?,
            fetched_at: time(stored.fetched_at)?,
        };
        Ok((cached, stored.registry))
    }

    /// Writes the entry atomically: a private temporary file, renamed over the old entry.
    pub(crate) fn write(
        &self,
        key: &Key,
        token: &Secret,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> io::Result<()> {
        let secs = |at: SystemTime| at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let stored = Stored {
            version: VERSION,
            key: key.hash.clone(),
            registry: Some(key.registry.clone()),
            token: token.expose().to_owned(),
            expires_at: secs(expires_at),
            fetched_at: secs(now),
        };
        let text = serde_json::to_string(&stored).map_err(io::Error::other)?;
        let temporary = key.temporary_name(now);
        let mut file = self.dir.create_new(&temporary)?;
        let renamed = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| self.dir.rename(&temporary, &key.file_name()));
        if renamed.is_err() {
            let _ = self.dir.remove(&temporary);
        }
        renamed?;
        self.prune();
        Ok(())
    }

    /// Removes entries and temporary files of ours that no token can still be alive in; any
    /// other name is left alone. File times are the system clock's, so this is judged by it too.
    fn prune(&self) {
        let now = SystemTime::now();
        let Ok(names) = self.dir.names() else {
            return;
        };
        for name in names.iter().filter(|name| is_prunable_name(name)) {
            if self
                .dir
                .age_of_ours(name, now)
                .is_some_and(|age| age > STALE_FILE_AGE)
            {
                let _ = self.dir.remove(name);
            }
        }
    }

    /// Waits for the key's lock on a blocking thread, so the run's deadline still holds.
    async fn lock(&self, key: &Key) -> io::Result<std::fs::File> {
        let file = self.dir.open_lock(&key.lock_name())?;
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(io::Error::other)?
    }

    fn try_lock(&self, key: &Key) -> io::Result<Option<std::fs::File>> {
        let file = self.dir.open_lock(&key.lock_name())?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(error)) => Err(error),
        }
    }
}

/// The cache directory on unix: one descriptor, opened without following a symbolic link,
/// and every name in it reached relative to that descriptor without following one either.
#[cfg(unix)]
mod dir {
    use std::ffi::OsStr;
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::MetadataExt as _;
    use std::path::Path;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::{CacheError, Unusable};

    /// Opening a name never follows a symbolic link, never leaks into a child, never makes a
    /// terminal ours and never waits on a FIFO.
    const NAME: OFlags = OFlags::NOFOLLOW
        .union(OFlags::CLOEXEC)
        .union(OFlags::NOCTTY)
        .union(OFlags::NONBLOCK);
    const DIRECTORY: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    #[derive(Debug)]
    pub(crate) struct Dir {
        fd: File,
        /// This process's effective uid: the owner of every file the cache makes.
        uid: u32,
    }

    impl Dir {
        pub(crate) fn open(path: &Path) -> Result<Self, CacheError> {
            let fd = match (path.parent(), path.file_name()) {
                (Some(parent), Some(name)) => {
                    let parent = if parent.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        parent
                    };
                    // The parent is the administrator's path, symbolic links and all; only
                    // the cache's own directory must not be one.
                    let parent = rustix::fs::open(
                        parent,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|errno| match errno {
                        Errno::NOENT => CacheError::NoParent,
                        errno => CacheError::Parent(errno.into()),
                    })?;
                    open_or_create(&parent, name)?
                }
                // `/` or a path ending in `..`: nothing to create.
                _ => rustix::fs::openat(CWD, path, DIRECTORY, Mode::empty())
                    .map_err(|errno| refused(CWD, path.as_os_str(), errno))?,
            };
            let fd = File::from(fd);
            let meta = fd.metadata()?;
            let uid = rustix::process::geteuid().as_raw();
            if meta.uid() != uid {
                return Err(CacheError::Foreign {
                    owner: meta.uid(),
                    uid,
                });
            }
            if meta.mode() & 0o022 != 0 {
                return Err(CacheError::Writable {
                    mode: meta.mode() & 0o7777,
                });
            }
            Ok(Self { fd, uid })
        }

        /// An entry to read: a regular 0600 file of ours.
        pub(crate) fn open_entry(&self, name: &str) -> Result<File, Unusable> {
            let file = rustix::fs::openat(&self.fd, name, OFlags::RDONLY | NAME, Mode::empty())
                .map(File::from)
                .map_err(|errno| match errno {
                    Errno::LOOP => Unusable::Foreign("a symbolic link"),
                    errno => Unusable::Io(errno.into()),
                })?;
            let meta = file.metadata()?;
            if !meta.is_file() {
                return Err(Unusable::Foreign("not a regular file"));
            }
            if meta.uid() != self.uid {
                return Err(Unusable::Foreign("owned by another user"));
            }
            if meta.mode() & 0o777 != 0o600 {
                return Err(Unusable::Foreign("not mode 0600"));
            }
            Ok(file)
        }

        /// A new file only we can read; an existing name (a symbolic link included) fails.
        pub(crate) fn create_new(&self, name: &str) -> io::Result<File> {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | NAME;
            Ok(rustix::fs::openat(&self.fd, name, flags, Mode::RUSR | Mode::WUSR)?.into())
        }

        /// The lock file `name`, made if missing; only a regular file of ours is used.
        pub(crate) fn open_lock(&self, name: &str) -> io::Result<File> {
            let flags = OFlags::RDWR | OFlags::CREATE | NAME;
            let file = File::from(rustix::fs::openat(
                &self.fd,
                name,
                flags,
                Mode::RUSR | Mode::WUSR,
            )?);
            let meta = file.metadata()?;
            if !meta.is_file() || meta.uid() != self.uid {
                return Err(io::Error::other(format!(
                    "{name} is not a lock file of ours"
                )));
            }
            Ok(file)
        }

        /// Renames within the directory; a symbolic link at `to` is replaced, not followed.
        pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            Ok(rustix::fs::renameat(&self.fd, from, &self.fd, to)?)
        }

        pub(crate) fn remove(&self, name: &str) -> io::Result<()> {
            Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
        }

        /// The names in the directory; one that is not UTF-8 is none the cache writes.
        pub(crate) fn names(&self) -> io::Result<Vec<String>> {
            let mut names = Vec::new();
            for entry in rustix::fs::Dir::read_from(&self.fd)? {
                if let Ok(name) = entry?.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
            Ok(names)
        }

        /// How long ago `name` was modified, if it is a regular file of ours.
        pub(crate) fn age_of_ours(&self, name: &str, now: SystemTime) -> Option<Duration> {
            let stat = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
            if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile
                || stat.st_uid != self.uid
            {
                return None;
            }
            let modified =
                UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(stat.st_mtime).ok()?))?;
            now.duration_since(modified).ok()
        }
    }

    /// Opens the directory `name` in `parent`, making it (0700) when it is missing.
    fn open_or_create(
        parent: &impl std::os::fd::AsFd,
        name: &OsStr,
    ) -> Result<std::os::fd::OwnedFd, CacheError> {
        match rustix::fs::openat(parent, name, DIRECTORY, Mode::empty()) {
            Err(Errno::NOENT) => {}
            opened => return opened.map_err(|errno| refused(parent, name, errno)),
        }
        match rustix::fs::mkdirat(parent, name, Mode::RWXU) {
            // Another exec made it first: it is checked like any other.
            Ok(()) | Err(Errno::EXIST) => {}
            Err(errno) => return Err(CacheError::Io(errno.into())),
        }
        rustix::fs::openat(parent, name, DIRECTORY, Mode::empty())
            .map_err(|errno| refused(parent, name, errno))
    }

    /// Why `name` in `parent` did not open as a directory: a symbolic link or another kind
    /// of file is named as such.
    fn refused(parent: impl std::os::fd::AsFd, name: &OsStr, errno: Errno) -> CacheError {
        match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|stat| FileType::from_raw_mode(stat.st_mode))
        {
            Ok(FileType::Symlink) => CacheError::Symlink,
            Ok(kind) if kind != FileType::Directory => CacheError::NotDirectory,
            _ => CacheError::Io(errno.into()),
        }
    }
}

/// The cache directory elsewhere (Windows): the same rules by path, as far as std can.
#[cfg(not(unix))]
mod dir {
    use std::fs::{self, File, OpenOptions};
    use std::io;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime};

    use super::{CacheError, Unusable};

    #[derive(Debug)]
    pub(crate) struct Dir {
        path: PathBuf,
    }

    impl Dir {
        pub(crate) fn open(path: &Path) -> Result<Self, CacheError> {
            match fs::symlink_metadata(path) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    match fs::create_dir(path) {
                        Ok(()) => {}
                        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(error) if error.kind() == io::ErrorKind::NotFound => {
                            return Err(CacheError::NoParent);
                        }
                        Err(error) => return Err(CacheError::Io(error)),
                    }
                }
                Err(error) => return Err(CacheError::Io(error)),
                Ok(_) => {}
            }
            let meta = fs::symlink_metadata(path)?;
            if meta.file_type().is_symlink() {
                return Err(CacheError::Symlink);
            }
            if !meta.is_dir() {
                return Err(CacheError::NotDirectory);
            }
            Ok(Self {
                path: path.to_owned(),
            })
        }

        fn regular(&self, name: &str) -> io::Result<PathBuf> {
            let path = self.path.join(name);
            if fs::symlink_metadata(&path)?.is_file() {
                Ok(path)
            } else {
                Err(io::Error::other(format!("{name} is not a regular file")))
            }
        }

        pub(crate) fn open_entry(&self, name: &str) -> Result<File, Unusable> {
            let path = self.path.join(name);
            if !fs::symlink_metadata(&path)?.is_file() {
                return Err(Unusable::Foreign("not a regular file"));
            }
            Ok(File::open(path)?)
        }

        pub(crate) fn create_new(&self, name: &str) -> io::Result<File> {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.path.join(name))
        }

        pub(crate) fn open_lock(&self, name: &str) -> io::Result<File> {
            let path = match self.regular(name) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => self.path.join(name),
                other => other?,
            };
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
        }

        pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            fs::rename(self.path.join(from), self.path.join(to))
        }

        pub(crate) fn remove(&self, name: &str) -> io::Result<()> {
            fs::remove_file(self.path.join(name))
        }

        pub(crate) fn names(&self) -> io::Result<Vec<String>> {
            Ok(fs::read_dir(&self.path)?
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect())
        }

        pub(crate) fn age_of_ours(&self, name: &str, now: SystemTime) -> Option<Duration> {
            let modified = fs::metadata(self.regular(name).ok()?)
                .ok()?
                .modified()
                .ok()?;
            now.duration_since(modified).ok()
        }
    }
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
    use std::fs::{self, File};
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

    /// `cache` in a fresh temporary directory of its own, which is removed afterwards.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "ecr-credential-provider-cache-{name}-{}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Self(path.join("cache"))
        }

        fn outside(&self, name: &str) -> PathBuf {
            self.0.parent().unwrap().join(name)
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
        let held = cache.dir.open_lock(&key.lock_name()).unwrap();
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
        let held = cache.dir.open_lock(&key.lock_name()).unwrap();
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
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::MetadataExt as _;
        fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    /// Sets a file's modification time `age` ago.
    fn age(path: &Path, age: Duration) {
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_a_directory_is_made_0700_or_left_as_it_is() {
        let made = Dir::new("made");
        Cache::open(&made.0).unwrap();
        assert_eq!(mode(&made.0), 0o700);

        let dir = Dir::new("modes");
        fs::create_dir(&dir.0).unwrap();
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
        let cache = Cache::open(&dir.0).unwrap();
        run(
            &cache,
            &key("AKIAEXAMPLE1"),
            at(Duration::ZERO),
            Ok(("one", 12 * HOUR)),
        )
        .0
        .unwrap();
        // Issue 19: the directory is never chmod'ed.
        assert_eq!(mode(&dir.0), 0o755);
        let names: Vec<_> = fs::read_dir(&dir.0)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .map(|path| (mode(&path), path))
            .collect();
        assert_eq!(names.len(), 2, "one entry and one lock file: {names:?}");
        assert!(names.iter().all(|(mode, _)| *mode == 0o600), "{names:?}");
    }

    /// Issue 19: `--cache-dir=/nonexistent/a/b` made every missing parent.
    #[test]
    fn only_the_last_component_is_ever_created() {
        let dir = Dir::new("parents");
        let missing = dir.0.join("a");
        let error = Cache::open(&missing.join("b")).unwrap_err();
        assert!(matches!(error, CacheError::NoParent), "{error:?}");
        assert!(!dir.0.exists());
    }

    /// Issue 19: a symbolic link to a 0755 directory became 0700 and lost its files.
    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_for_the_directory_is_refused_and_its_target_untouched() {
        let dir = Dir::new("link");
        let target = dir.outside("target");
        fs::create_dir(&target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(target.join("daemon.json"), "{}").unwrap();
        fs::write(target.join("keep.tmp"), "").unwrap();
        age(&target.join("keep.tmp"), 72 * HOUR);
        std::os::unix::fs::symlink(&target, &dir.0).unwrap();
        let error = Cache::open(&dir.0).unwrap_err();
        assert!(matches!(error, CacheError::Symlink), "{error:?}");
        assert_eq!(mode(&target), 0o755);
        assert!(target.join("daemon.json").exists() && target.join("keep.tmp").exists());
    }

    /// Issue 19: `--cache-dir=/tmp` made /tmp 0700.
    #[cfg(unix)]
    #[test]
    fn a_directory_others_can_write_in_is_refused_and_left_as_it_is() {
        for shared in [0o1777, 0o777, 0o770, 0o702] {
            let dir = Dir::new("shared");
            fs::create_dir(&dir.0).unwrap();
            fs::set_permissions(&dir.0, fs::Permissions::from_mode(shared)).unwrap();
            fs::write(dir.0.join("theirs"), "").unwrap();
            let error = Cache::open(&dir.0).unwrap_err();
            assert!(
                matches!(error, CacheError::Writable { mode } if mode == shared),
                "{shared:o}: {error:?}"
            );
            assert_eq!(
                error.to_string(),
                format!("its mode {shared:o} lets other users write in it")
            );
            assert_eq!(mode(&dir.0), shared);
            assert!(dir.0.join("theirs").exists());
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_of_another_user_is_refused() {
        use std::os::unix::fs::MetadataExt as _;
        let uid = rustix::process::geteuid().as_raw();
        let dir = Dir::new("owner");
        // Root can give a directory away; anyone else takes one root owns.
        let theirs = if uid == 0 {
            fs::create_dir(&dir.0).unwrap();
            fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&dir.0, Some(65534), Some(65534)).unwrap();
            dir.0.clone()
        } else {
            PathBuf::from("/")
        };
        let owner = fs::metadata(&theirs).unwrap().uid();
        assert_ne!(owner, uid, "{}", theirs.display());
        let error = Cache::open(&theirs).unwrap_err();
        assert!(
            matches!(error, CacheError::Foreign { owner: o, uid: u } if o == owner && u == uid),
            "{error:?}"
        );
    }

    /// Issue 19: opening the cache wrote `.probe-PID`, and a leftover one turned it off.
    #[test]
    fn opening_writes_nothing_and_a_leftover_probe_changes_nothing() {
        let dir = Dir::new("probe");
        fs::create_dir(&dir.0).unwrap();
        #[cfg(unix)]
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o700)).unwrap();
        let probe = dir.0.join(format!(".probe-{}", std::process::id()));
        fs::create_dir(&probe).unwrap();
        let cache = Cache::open(&dir.0).unwrap();
        let names = |dir: &Path| fs::read_dir(dir).unwrap().count();
        assert_eq!(names(&dir.0), 1, "opening wrote a file");
        let key = key("AKIAEXAMPLE1");
        run(&cache, &key, at(Duration::ZERO), Ok(("one", 12 * HOUR)))
            .0
            .unwrap();
        let (_, called) = run(&cache, &key, at(HOUR), Err("must not be called"));
        assert!(!called, "the cache was off");
        assert!(probe.exists());
    }

    /// Issue 19: lock files were opened with O_CREAT through symbolic links, making root-owned
    /// files wherever they pointed.
    #[cfg(unix)]
    #[test]
    fn planted_symbolic_links_are_never_followed() {
        let dir = Dir::new("planted");
        let cache = Cache::open(&dir.0).unwrap();
        let key = key("AKIAEXAMPLE1");
        let lock_target = dir.outside("lock-target");
        for bucket in 0..LOCK_FILES {
            std::os::unix::fs::symlink(&lock_target, dir.0.join(format!("lock-{bucket:x}")))
                .unwrap();
        }
        let entry_target = dir.outside("entry-target");
        fs::write(&entry_target, "theirs").unwrap();
        fs::set_permissions(&entry_target, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&entry_target, dir.0.join(key.file_name())).unwrap();

        let (answer, called) = run(&cache, &key, at(Duration::ZERO), Ok(("one", 12 * HOUR)));
        assert!(called);
        assert_eq!(password(&answer.unwrap()), "one");
        assert!(!lock_target.exists(), "a lock was made through a link");
        assert_eq!(fs::read_to_string(&entry_target).unwrap(), "theirs");
        // The link at the entry's name was replaced, not written through.
        assert!(
            fs::symlink_metadata(dir.0.join(key.file_name()))
                .unwrap()
                .is_file()
        );
        let (_, called) = run(&cache, &key, at(HOUR), Err("must not be called"));
        assert!(!called);

        // A link at the name of the next temporary file: that write fails, nothing else.
        let next = at(HOUR + Duration::from_nanos(7));
        let temporary = dir.0.join(key.temporary_name(next));
        std::os::unix::fs::symlink(&entry_target, &temporary).unwrap();
        assert!(
            cache
                .write(&key, &token("two"), at(13 * HOUR), next)
                .is_err()
        );
        assert_eq!(fs::read_to_string(&entry_target).unwrap(), "theirs");
        assert!(fs::symlink_metadata(&temporary).unwrap().is_symlink());
    }

    /// Issue 19: `expiresAt` ≥ 2^63 panicked every exec and was never replaced.
    #[test]
    fn times_out_of_range_are_a_miss_and_replaced() {
        let dir = Dir::new("overflow");
        let cache = Cache::open(&dir.0).unwrap();
        let key = key("AKIAEXAMPLE1");
        let entry = dir.0.join(key.file_name());
        run(&cache, &key, at(Duration::ZERO), Ok(("one", 12 * HOUR)))
            .0
            .unwrap();
        let valid: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&entry).unwrap()).unwrap();
        for (field, value) in [
            ("expiresAt", 1_u64 << 63),
            ("expiresAt", u64::MAX),
            ("fetchedAt", 1_u64 << 63),
            ("fetchedAt", u64::MAX),
        ] {
            let mut stored = valid.clone();
            stored[field] = value.into();
            fs::write(&entry, stored.to_string()).unwrap();
            assert!(cache.read(&key).is_none(), "{field} {value}");
            let (answer, called) = run(&cache, &key, at(HOUR), Ok(("fresh", 12 * HOUR)));
            assert!(called, "{field} {value}");
            assert_eq!(password(&answer.unwrap()), "fresh");
            let (_, called) = run(&cache, &key, at(HOUR), Err("replaced"));
            assert!(!called, "{field} {value}: the entry was not replaced");
        }
        // The clock itself at the end of time: judged, not panicked on.
        let cached = cache.read(&key).unwrap();
        let end = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64);
        assert_eq!(cached.freshness(end), Freshness::Unusable);
    }

    #[test]
    fn a_path_that_cannot_be_a_directory_is_no_cache() {
        let dir = Dir::new("file");
        fs::create_dir_all(dir.0.parent().unwrap()).unwrap();
        fs::write(&dir.0, b"").unwrap();
        assert!(Cache::open(&dir.0).is_err());
        assert!(Cache::open(&dir.0.join("below")).is_err());
    }

    /// Issue 19: every old `*.json` and `*.tmp` was deleted, whoever made it.
    #[test]
    fn only_its_own_old_files_are_pruned() {
        let dir = Dir::new("prune");
        let cache = Cache::open(&dir.0).unwrap();
        let (one, two) = (key("AKIAEXAMPLE1"), key("AKIAEXAMPLE2"));
        run(&cache, &one, at(Duration::ZERO), Ok(("one", 12 * HOUR)))
            .0
            .unwrap();
        let ours = [
            one.file_name(),
            one.temporary_name(at(Duration::ZERO)),
            format!(".{}.1.0.tmp", one.hash),
        ];
        let theirs = [
            "daemon.json".to_owned(),
            "keep.tmp".to_owned(),
            format!("{}.json", &one.hash[..63]),
            format!("{}0.json", one.hash),
            format!("{}.JSON", one.hash),
            format!(".{}.1.x.tmp", one.hash),
            format!(".{}.1.0.0.tmp", one.hash),
            format!("{}.1.0.tmp", one.hash),
            "lock-0.json".to_owned(),
            ".probe-1".to_owned(),
        ];
        for name in ours.iter().chain(&theirs) {
            let path = dir.0.join(name);
            if !path.exists() {
                fs::write(&path, "").unwrap();
            }
            age(&path, 72 * HOUR);
        }
        // An entry's name, but another user's file.
        #[cfg(unix)]
        let foreign = if rustix::process::geteuid().as_raw() == 0 {
            let path = dir.0.join(format!("{}.json", "f".repeat(KEY_HEX_LEN)));
            fs::write(&path, "").unwrap();
            age(&path, 72 * HOUR);
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
            Some(path)
        } else {
            None
        };
        cache
            .write(&two, &token("two"), at(12 * HOUR), at(Duration::ZERO))
            .unwrap();
        for name in &ours {
            assert!(!dir.0.join(name).exists(), "{name} was kept");
        }
        for name in &theirs {
            assert!(dir.0.join(name).exists(), "{name} was pruned");
        }
        assert!(dir.0.join(two.file_name()).exists());
        #[cfg(unix)]
        if let Some(foreign) = foreign {
            assert!(foreign.exists(), "another user's file was pruned");
        }
    }

    #[test]
    fn names_the_cache_writes_and_prunes() {
        let key = key("AKIAEXAMPLE1");
        assert!(is_prunable_name(&key.file_name()));
        assert!(is_prunable_name(&key.temporary_name(at(Duration::ZERO))));
        assert!(!is_prunable_name(&key.lock_name()));
        for name in [
            "",
            ".json",
            ".tmp",
            "..tmp",
            "a.json",
            "daemon.json",
            "keep.tmp",
        ] {
            assert!(!is_prunable_name(name), "{name}");
        }
    }
    /// Issue 22: the Docker helper's `list` names the registries the cache holds tokens for.
    /// Entries written before the registry was stored keep answering; they are only not listed.
    #[test]
    fn entries_name_their_registry_and_older_entries_still_answer() {
        let dir = Dir::new("registries");
        let cache = Cache::open(&dir.0).unwrap();
        let (one, two) = (key("AKIAEXAMPLE1"), key("AKIAEXAMPLE2"));
        for (key, password) in [(&one, "one"), (&two, "two")] {
            run(&cache, key, at(Duration::ZERO), Ok((password, 12 * HOUR)))
                .0
                .unwrap();
        }
        let host = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
        let text = fs::read_to_string(dir.0.join(one.file_name())).unwrap();
        assert!(text.contains(&format!("\"registry\":\"{host}\"")), "{text}");
        assert!(!text.contains("AKIA"), "{text}");
        let listed = |cache: &Cache| -> Vec<(String, String)> {
            cache
                .registries()
                .into_iter()
                .map(|(registry, token)| {
                    (
                        registry,
                        token::decode(&token).unwrap().password.expose().to_owned(),
                    )
                })
                .collect()
        };
        assert_eq!(
            listed(&cache),
            [
                (host.to_owned(), "one".to_owned()),
                (host.to_owned(), "two".to_owned())
            ]
        );

        // An entry as written before: no registry.
        let mut older: serde_json::Value = serde_json::from_str(&text).unwrap();
        older.as_object_mut().unwrap().remove("registry");
        fs::write(dir.0.join(one.file_name()), older.to_string()).unwrap();
        let (answer, called) = run(&cache, &one, at(HOUR), Err("must not be called"));
        assert!(!called, "an older entry was a miss");
        assert_eq!(password(&answer.unwrap()), "one");
        assert_eq!(listed(&cache), [(host.to_owned(), "two".to_owned())]);

        // Whatever else is in the directory is neither listed nor an error.
        fs::write(
            dir.0.join("cache.json"),
            r#"{"Registries":{},"Version":"1.0"}"#,
        )
        .unwrap();
        fs::write(
            dir.0.join(format!("{}.json", "0".repeat(KEY_HEX_LEN))),
            text,
        )
        .unwrap();
        assert_eq!(listed(&cache), [(host.to_owned(), "two".to_owned())]);
    }
}
