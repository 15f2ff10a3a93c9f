//! Clean ends (issue 9): a signal while the provider waits ends the run at once, with exit 1
//! and one line naming what it was waiting for; stdout stays empty. Never a death by signal.

#![cfg(unix)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::fake::{FakeAws, Reply};
use crate::support::{ACCESS_KEY, BIN, SECRET_KEY, TempDir, V1, request};

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app";

#[derive(Debug)]
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    after_signal: Duration,
}

/// Runs the provider against a server that never answers, sends `signal` once the call is
/// on the wire, and waits for the end.
fn signal_during_a_hang(signal: &str) -> (Ended, String) {
    let server = FakeAws::start(|_| Reply::Hang);
    let home = TempDir::new();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("HOME", &home.0)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.0.join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.0.join("none"))
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_ENDPOINT_URL", &server.url)
        .arg("--timeout=50s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the provider");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(request(V1, IMAGE).as_bytes()).unwrap();
    }
    let waited = Instant::now();
    while server.calls("GetAuthorizationToken").is_empty() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the call never came"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success());
    let sent = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break child.wait().unwrap().code();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let after_signal = sent.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let ended = Ended {
        code,
        stdout,
        stderr,
        after_signal,
    };
    assert!(!ended.stderr.contains(SECRET_KEY), "{ended:?}");
    (ended, server.url)
}

#[test]
fn sigterm_sigint_and_sighup_during_a_hang_end_the_run_with_one_line() {
    for signal in ["TERM", "INT", "HUP"] {
        let (ended, url) = signal_during_a_hang(signal);
        assert_eq!(ended.code, Some(1), "SIG{signal}: {ended:?}");
        assert!(
            ended.after_signal < Duration::from_secs(1),
            "SIG{signal}: {ended:?}"
        );
        assert!(ended.stdout.is_empty(), "SIG{signal}: {ended:?}");
        assert_eq!(ended.stderr.lines().count(), 1, "SIG{signal}: {ended:?}");
        let expected = format!(
            "ecr-credential-provider: error: stopped by SIG{signal} while waiting for ECR GetAuthorizationToken in us-west-2 at {url}"
        );
        assert!(
            ended.stderr.starts_with(&expected),
            "SIG{signal}: {ended:?}"
        );
    }
}
