//! Files named by the environment (AWS_CA_BUNDLE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE,
//! ~/.aws/config and credentials, AWS_WEB_IDENTITY_TOKEN_FILE, the container token file,
//! SSL_CERT_FILE and the files in SSL_CERT_DIR, which the TLS stack reads for its roots, and
//! `check --service-account-token-file`),
//! checked before anything opens them: a FIFO, a device or a huge file is one error naming the
//! file and the setting that named it. The SDK reads these with a blocking `std::fs::read` on
//! the runtime's only thread, where a FIFO would hang past every deadline (issue 10), so the
//! checks run on a thread of their own the deadline can abandon.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::ahead::{Ahead, ThreadError, Work};
use crate::sanitize;

/// A profile file with hundreds of profiles is tens of kB.
pub(crate) const MAX_PROFILE_FILE_BYTES: u64 = 1 << 20;
/// A service-account or container token is a few kB.
pub(crate) const MAX_TOKEN_FILE_BYTES: u64 = 64 << 10;
/// The system bundle is ~220 kB; a corporate one with every intermediate stays well under.
pub(crate) const MAX_CA_BUNDLE_BYTES: u64 = 4 << 20;

/// One file a setting names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedFile {
    /// What the file is, in words: "the AWS config file".
    pub(crate) what: &'static str,
    /// The environment variable that named it, or `HOME` for the default place.
    pub(crate) origin: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) max_bytes: u64,
    /// Whether a missing file is fine (the SDK skips missing profile files).
    pub(crate) optional: bool,
    pub(crate) contents: Contents,
}

/// What the check does with a file's contents, beyond its type and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contents {
    Unread,
    /// A token: read and remembered as a secret, so that no echo of it is repeated.
    Secret,
    /// A profile config file: read for the token files it names.
    ProfileConfig,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error("{file} is {kind}, not a regular file")]
    NotRegular { file: Shown, kind: &'static str },
    #[error("{file} is {size} bytes, more than the {max} such a file can sensibly be")]
    TooLarge { file: Shown, size: u64, max: u64 },
    #[error("could not read {file}: {source}")]
    Read { file: Shown, source: std::io::Error },
    /// No thread could check or read the files: nothing is wrong with them.
    #[error(transparent)]
    NoThread(#[from] ThreadError),
}

/// A file as errors name it: what it is, its path (escaped and bounded) and its setting.
#[derive(Debug, Clone)]
pub(crate) struct Shown(String);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl NamedFile {
    pub(crate) fn shown(&self) -> Shown {
        Shown(format!(
            "{} {} (from {})",
            self.what,
            sanitize::value(&self.path.display().to_string()),
            self.origin
        ))
    }

    /// Checks type and size without opening the file: `metadata` never blocks on a FIFO.
    pub(crate) fn check(&self) -> Result<(), FileError> {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) if self.optional && error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(());
            }
            Err(source) => {
                return Err(FileError::Read {
                    file: self.shown(),
                    source,
                });
            }
        };
        if !metadata.is_file() {
            return Err(FileError::NotRegular {
                file: self.shown(),
                kind: kind_of(&metadata),
            });
        }
        if metadata.len() > self.max_bytes {
            return Err(FileError::TooLarge {
                file: self.shown(),
                size: metadata.len(),
                max: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Checks, then reads at most `max_bytes` (a file that grew meanwhile is refused too).
    pub(crate) fn read(&self) -> Result<Vec<u8>, FileError> {
        self.check()?;
        let bytes = self.read_at_most(self.max_bytes.saturating_add(1))?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(FileError::TooLarge {
                file: self.shown(),
                size: bytes.len() as u64,
                max: self.max_bytes,
            });
        }
        Ok(bytes)
    }

    /// Checks, then reads the first `len` bytes at most: an executable's header, say.
    pub(crate) fn read_head(&self, len: u64) -> Result<Vec<u8>, FileError> {
        self.check()?;
        self.read_at_most(len)
    }

    fn read_at_most(&self, len: u64) -> Result<Vec<u8>, FileError> {
        let read_error = |source| FileError::Read {
            file: self.shown(),
            source,
        };
        let file = std::fs::File::open(&self.path).map_err(read_error)?;
        // Sized up front, the read takes two calls, not one per doubling of the buffer.
        let size = file.metadata().map_or(0, |metadata| metadata.len());
        let mut bytes = Vec::with_capacity(usize::try_from(size.min(len)).unwrap_or(0) + 1);
        file.take(len).read_to_end(&mut bytes).map_err(read_error)?;
        Ok(bytes)
    }
}

/// Reads `file` (checks first, at most `max_bytes`) on a thread of its own, so that the run's
/// deadline can abandon a read that blocks.
pub(crate) async fn read_apart(file: NamedFile) -> Result<Vec<u8>, FileError> {
    static READ: Ahead<NamedFile, Result<Vec<u8>, FileError>> =
        Ahead::new("read-file", "read a file", read_owned);
    READ.result(&file)
        .await
        .unwrap_or_else(|error| Err(error.into()))
}

#[allow(clippy::needless_pass_by_value, reason = "the shape `Ahead` runs")]
fn read_owned(file: NamedFile) -> Result<Vec<u8>, FileError> {
    file.read()
}

fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let kind = metadata.file_type();
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if metadata.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// `~/x` as the SDK expands it: against HOME.
fn expand(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The files the AWS SDK will read, given the environment `env`.
pub(crate) fn sdk_files(env: impl Fn(&str) -> Option<String>) -> Vec<NamedFile> {
    let var = |key: &str| env(key).filter(|value| !value.is_empty());
    let home = var("HOME").map(PathBuf::from);
    let mut files = Vec::new();
    let profile_file = |what, key: &'static str, default: &str, contents| {
        let (origin, path) = match var(key) {
            Some(path) => (key, expand(&path, home.as_deref())),
            None => ("HOME", home.as_ref()?.join(".aws").join(default)),
        };
        Some(NamedFile {
            what,
            origin,
            path,
            max_bytes: MAX_PROFILE_FILE_BYTES,
            optional: true,
            contents,
        })
    };
    files.extend(profile_file(
        "the AWS config file",
        "AWS_CONFIG_FILE",
        "config",
        Contents::ProfileConfig,
    ));
    files.extend(profile_file(
        "the AWS shared credentials file",
        "AWS_SHARED_CREDENTIALS_FILE",
        "credentials",
        Contents::Unread,
    ));
    for (what, key) in [
        ("the web identity token file", "AWS_WEB_IDENTITY_TOKEN_FILE"),
        (
            "the container authorization token file",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        ),
    ] {
        if let Some(path) = var(key) {
            files.push(NamedFile {
                what,
                origin: key,
                path: PathBuf::from(path),
                max_bytes: MAX_TOKEN_FILE_BYTES,
                // The SDK says itself that a named token file is missing.
                optional: true,
                contents: Contents::Secret,
            });
        }
    }
    if let Some(path) = var("SSL_CERT_FILE") {
        files.push(NamedFile {
            what: "the TLS root certificate file",
            origin: "SSL_CERT_FILE",
            path: PathBuf::from(path),
            max_bytes: MAX_CA_BUNDLE_BYTES,
            optional: true,
            contents: Contents::Unread,
        });
    }
    files
}

/// The directories of `SSL_CERT_DIR` (a `:`-separated list, as OpenSSL reads it).
fn cert_dirs(env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    env("SSL_CERT_DIR")
        .map(|dirs| {
            std::env::split_paths(&dirs)
                .filter(|dir| !dir.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The TLS stack reads every regular file of each directory whole (it skips the rest, and
/// a directory it cannot list): none may be oversized.
fn check_cert_dir(dir: &Path) -> Result<(), FileError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let file = NamedFile {
            what: "a file of the TLS root certificate directory",
            origin: "SSL_CERT_DIR",
            path: entry.path(),
            max_bytes: MAX_CA_BUNDLE_BYTES,
            optional: true,
            contents: Contents::Unread,
        };
        if std::fs::metadata(&file.path).is_ok_and(|metadata| metadata.is_file()) {
            file.check()?;
        }
    }
    Ok(())
}

/// The token files a profile file names (`web_identity_token_file = PATH`): the SDK reads
/// those as it reads the variables'.
fn profile_token_files(text: &str) -> Vec<NamedFile> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "web_identity_token_file").then(|| NamedFile {
                what: "the web identity token file",
                origin: "web_identity_token_file in the AWS config file",
                path: PathBuf::from(value.trim()),
                max_bytes: MAX_TOKEN_FILE_BYTES,
                optional: true,
                contents: Contents::Secret,
            })
        })
        .take(100)
        .collect()
}

/// The outcome of `check_sdk_files`, started ahead (see `ahead`).
static SDK_FILES: Ahead<(), Result<(), FileError>> = Ahead::new(
    "sdk-files",
    "check the files the AWS SDK reads",
    check_environment_files,
);

/// `check_sdk_files`'s work, to do ahead in a run that will call AWS.
pub(crate) fn check_sdk_files_ahead() -> Work {
    SDK_FILES.work(())
}

/// Checks every file the SDK will read, before the SDK opens any of them, on a thread the
/// run's deadline can abandon. Token files are read here too: their tokens are secrets the
/// process then knows, and scrubs.
pub(crate) async fn check_sdk_files() -> Result<(), FileError> {
    SDK_FILES.result(&()).await?
}

fn check_environment_files((): ()) -> Result<(), FileError> {
    check_files(|key| std::env::var(key).ok())
}

fn check_files(env: impl Fn(&str) -> Option<String>) -> Result<(), FileError> {
    let mut files = sdk_files(&env);
    let mut checked_files = 0;
    while let Some(file) = files.get(checked_files).cloned() {
        checked_files += 1;
        file.check()?;
        if file.contents == Contents::Unread || !file.path.exists() {
            continue;
        }
        let text = String::from_utf8_lossy(&file.read()?).into_owned();
        match file.contents {
            Contents::Secret => sanitize::remember_secret(&text),
            Contents::ProfileConfig => files.extend(profile_token_files(&text)),
            Contents::Unread => {}
        }
    }
    cert_dirs(&env)
        .iter()
        .try_for_each(|dir| check_cert_dir(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn names_each_file_the_sdk_reads_and_where_it_came_from() {
        let files = sdk_files(env(&[
            ("HOME", "/home/u"),
            ("AWS_CONFIG_FILE", "~/cfg"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
        ]));
        let shown: Vec<_> = files
            .iter()
            .map(|f| (f.origin, f.path.display().to_string()))
            .collect();
        assert_eq!(
            shown,
            [
                ("AWS_CONFIG_FILE", "/home/u/cfg".to_owned()),
                ("HOME", "/home/u/.aws/credentials".to_owned()),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token".to_owned()),
            ]
        );
        assert!(sdk_files(env(&[])).is_empty());
    }

    #[test]
    fn devices_directories_and_huge_files_are_refused_by_name() {
        let file = |path: &str, max_bytes| NamedFile {
            what: "the AWS config file",
            origin: "AWS_CONFIG_FILE",
            path: path.into(),
            max_bytes,
            optional: true,
            contents: Contents::Unread,
        };
        let message = file("/dev/zero", 10).read().unwrap_err().to_string();
        assert_eq!(
            message,
            "the AWS config file /dev/zero (from AWS_CONFIG_FILE) is a character device, not a regular file"
        );
        let message = file("/", 10).check().unwrap_err().to_string();
        assert!(message.contains("is a directory"), "{message}");
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let message = file(manifest, 10).check().unwrap_err().to_string();
        assert!(message.contains("more than the 10"), "{message}");
        assert!(file(manifest, 1 << 20).read().is_ok());
        assert!(file("/nonexistent/x", 10).check().is_ok());
    }
}
