//! Runs the real binary the way the kubelet does: a fresh environment, one request on stdin,
//! stdout and stderr captured, a hard time limit. Every run checks that no secret the test
//! registered reached stderr, and that a failed run wrote nothing on stdout.

#![allow(dead_code)]

pub mod fake;
pub mod tls;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ecr-credential-provider");
pub const V1: &str = "credentialprovider.kubelet.k8s.io/v1";
pub const V1BETA1: &str = "credentialprovider.kubelet.k8s.io/v1beta1";
pub const V1ALPHA1: &str = "credentialprovider.kubelet.k8s.io/v1alpha1";

/// Credentials every test may use: the secret halves are checked against stderr.
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";

/// A request as the kubelet writes it.
pub fn request(api_version: &str, image: &str) -> String {
    serde_json::json!({"kind": "CredentialProviderRequest", "apiVersion": api_version, "image": image}).to_string()
}

/// An empty directory of its own, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "ecr-credential-provider-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The child's peak resident set (VmHWM), as last read while it ran, in KiB.
    pub peak_rss_kib: Option<u64>,
}

impl Output {
    /// The response, after checking the run succeeded.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, Some(0), "run failed: {self:#?}");
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// The one error line, after checking the run failed the way a kubelet needs.
    #[track_caller]
    pub fn error_line(&self) -> &str {
        assert_ne!(self.code, Some(0), "run should have failed: {self:#?}");
        assert!(
            self.code.is_some(),
            "killed by the test's time limit: {self:#?}"
        );
        let line = self
            .stderr
            .lines()
            .rfind(|l| l.starts_with("ecr-credential-provider: "));
        line.unwrap_or_else(|| panic!("no error line on stderr: {self:#?}"))
    }
}

/// One exec of the provider.
pub struct Exec {
    /// What runs, when not `BIN` itself: a link to it under another name.
    program: Option<PathBuf>,
    /// argv[0], when not the program's path.
    arg0: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    secrets: Vec<String>,
    limit: Duration,
    /// Killed once its peak resident set passes this (then `code` is `None`).
    max_rss_kib: Option<u64>,
    home: TempDir,
    /// `check` prints its report whatever the verdict; the kubelet path must not.
    report: bool,
}

/// A run with a clean environment: no instance metadata, no profile files, no CA settings.
pub fn exec() -> Exec {
    let home = TempDir::new();
    let env = vec![
        ("HOME".into(), home.0.display().to_string()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        (
            "AWS_CONFIG_FILE".into(),
            home.0.join("no-config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            home.0.join("no-credentials").display().to_string(),
        ),
    ];
    Exec {
        program: None,
        arg0: None,
        args: Vec::new(),
        env,
        stdin: None,
        secrets: vec![SECRET_KEY.into()],
        limit: Duration::from_secs(60),
        max_rss_kib: None,
        home,
        report: false,
    }
}

impl Exec {
    /// Runs `program` (a link to or copy of `BIN`) instead of `BIN`.
    pub fn program(mut self, program: PathBuf) -> Self {
        self.program = Some(program);
        self
    }

    /// Runs `BIN` with `arg0` as argv[0], as a link of that name would.
    pub fn arg0(mut self, arg0: &str) -> Self {
        self.arg0 = Some(arg0.into());
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn unset(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Static keys for the default chain.
    pub fn keys(self) -> Self {
        self.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    }

    /// Every AWS service at `endpoint`.
    pub fn endpoint(self, endpoint: &str) -> Self {
        self.env("AWS_ENDPOINT_URL", endpoint)
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// A value that must never appear on stderr.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// This command writes a report on stdout even when it fails.
    pub fn report(mut self) -> Self {
        self.report = true;
        self
    }

    /// Kills the run once its peak resident set passes `kib`: a run that would exhaust the
    /// machine's memory fails its test instead.
    pub fn max_rss_kib(mut self, kib: u64) -> Self {
        self.max_rss_kib = Some(kib);
        self
    }

    pub fn home(&self) -> &std::path::Path {
        &self.home.0
    }

    /// Runs to completion, or kills the child at the limit (then `code` is `None`). With no
    /// stdin given, stdin is left open, as a writer that never finishes would leave it.
    pub fn run(self) -> Output {
        let mut command = Command::new(self.program.as_deref().unwrap_or(BIN.as_ref()));
        if let Some(arg0) = &self.arg0 {
            std::os::unix::process::CommandExt::arg0(&mut command, arg0);
        }
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let traced = self.traced();
        let started = Instant::now();
        let mut child = command.spawn().expect("spawn the provider");
        let mut stdin = child.stdin.take().expect("stdin");
        let held_open = match self.stdin {
            Some(bytes) => {
                // The child may exit before reading everything; that is its right.
                let _ = stdin.write_all(&bytes);
                drop(stdin);
                None
            }
            None => Some(stdin),
        };
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let out_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let status_file = format!("/proc/{}/status", child.id());
        let mut peak_rss_kib = None;
        let code = loop {
            // Read before each wait: once reaped, the process and its numbers are gone.
            if let Some(kib) = vm_hwm_kib(&status_file) {
                peak_rss_kib = Some(kib);
            }
            if let Some(status) = child.try_wait().expect("wait") {
                break status.code();
            }
            let too_big = self
                .max_rss_kib
                .is_some_and(|max| peak_rss_kib.is_some_and(|peak| peak > max));
            if started.elapsed() > self.limit || too_big {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = started.elapsed();
        drop(held_open);
        let output = Output {
            code,
            stdout: out_reader.join().expect("stdout reader"),
            stderr: err_reader.join().expect("stderr reader"),
            elapsed,
            peak_rss_kib,
        };
        for secret in &self.secrets {
            assert!(
                !output.stderr.contains(secret.as_str()),
                "a secret reached stderr: {output:#?}"
            );
        }
        if output.code != Some(0) && !self.report {
            assert!(
                output.stdout.is_empty(),
                "a failed run wrote to stdout: {output:#?}"
            );
        }
        if !traced {
            check_message_style(&output, self.report);
        }
        output
    }

    /// Whether this run asked for a trace, whose lines have a format of their own.
    fn traced(&self) -> bool {
        let env_trace = self.env.iter().any(|(k, v)| {
            k == "ECR_CREDENTIAL_PROVIDER_TRACE"
                && matches!(v.trim(), "1" | "true" | "text" | "json")
        });
        let flag_trace = self.args.iter().any(|arg| {
            arg.starts_with("--trace")
                || arg
                    .strip_prefix("--v=")
                    .or_else(|| arg.strip_prefix("-v="))
                    .is_some_and(|n| n != "0")
                || arg == "--v"
        });
        env_trace || flag_trace
    }
}

/// Untraced, stderr speaks one style (issue 14): `ecr-credential-provider: error: …` or
/// `… warning: …`, and a failed run says exactly one line (a report's verdict is on stdout).
#[track_caller]
fn check_message_style(output: &Output, report: bool) {
    for line in output.stderr.lines() {
        assert!(
            line.starts_with("ecr-credential-provider: error: ")
                || line.starts_with("ecr-credential-provider: warning: "),
            "a line in neither style: {line:?} in {output:#?}"
        );
    }
    if output.code.is_some_and(|code| code != 0) && !output.stderr.is_empty() && !report {
        assert_eq!(
            output.stderr.lines().count(),
            1,
            "a failed run says one line: {output:#?}"
        );
    }
}

/// `VmHWM` from a /proc status file, in KiB.
fn vm_hwm_kib(status_file: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
