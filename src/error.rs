//! Every way a run can fail, named by what the program was doing. Messages are one
//! lowercase line naming the object; `diagnose` adds the likely cause and the fix.
//! No variant holds a secret or raw server output.

use std::io;
use std::time::Duration;

use crate::ahead::ThreadError;
use crate::aws::AwsError;
use crate::deadline::Stdin;
use crate::duration;
use crate::image::ImageError;
use crate::kubelet::config::ReadError;
use crate::kubelet::request::RequestError;
use crate::net::proxy::ProxyUrlError;
use crate::net::trust::TlsError;
use crate::token::TokenError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The command line is wrong: exit code 2, like other command-line tools.
    #[error("{0}")]
    Usage(String),
    #[error("could not start the async runtime: {0}")]
    Startup(io::Error),
    #[error("could not read the request from stdin: {0}")]
    ReadStdin(io::Error),
    /// Work the run needs could not get a thread: the system's limit, not the work's input.
    #[error(transparent)]
    NoThread(#[from] ThreadError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A role ARN taken from an annotation or AWS_ECR_ROLE_ARN that cannot be one; `value`
    /// is already escaped and bounded.
    #[error(
        "the role ARN \"{value}\" from {origin} is not an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)"
    )]
    InvalidRoleArn { value: String, origin: String },
    /// A pull secret for a registry that is not ECR would hand an ECR token to that registry.
    #[error(
        "image {image:?} is not in an ECR registry ({host} is neither private ECR nor ECR Public): a pull secret for it would hand an ECR token to another registry"
    )]
    NotEcr { image: String, host: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A proxy variable that names no usable proxy: going direct instead would hide it.
    #[error(transparent)]
    ProxyUrl(#[from] ProxyUrlError),
    #[error("{service} returned an unusable token: {source}")]
    Token {
        service: &'static str,
        source: TokenError,
    },
    /// The run's own deadline passed.
    #[error("gave up after {} waiting for {waiting_for}", duration::format(*after))]
    Timeout {
        after: Duration,
        waiting_for: String,
        /// It passed while stdin was read, which this was to write and close.
        stdin: Option<Stdin>,
        /// The endpoint had begun to answer: slow or endless, not unreachable.
        answer_started: bool,
    },
    /// A signal ended the run: the kubelet (or a person) gave up on it.
    #[error("stopped by {signal} while waiting for {waiting_for}")]
    Interrupted {
        signal: &'static str,
        waiting_for: String,
    },
    /// `config check` could not read the config file or directory.
    #[error(transparent)]
    ReadConfig(#[from] ReadError),
    /// A file named on the command line that is not one to read: a FIFO, a device, too large.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// A file named on the command line.
    #[error("could not read the {what} {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: String,
        source: io::Error,
    },
    /// `check --config`: the check run as the provider gave no report.
    #[error("the check run with provider {provider}'s env gave no report: {detail}")]
    ProviderRun { provider: String, detail: String },
    #[error("could not write the response to stdout: {0}")]
    WriteStdout(io::Error),
}

/// What `check --config` waits for while it reads the config (the path follows).
pub(crate) const WAITING_FOR_CONFIG: &str = "the credential provider config";

impl Error {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }
}
