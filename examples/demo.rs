//! A local demo that needs no AWS account: starts a loopback stand-in for ECR, then runs
//! the provider three ways — as the kubelet does (with tracing on), by hand with `get`, and
//! against an identity that ECR refuses. Run it with `scripts/demo`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../tests/support/fake.rs"]
mod fake;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use fake::{FakeAws, Reply, ecr_token};

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app";

fn provider() -> PathBuf {
    let examples = std::env::current_exe().expect("own path");
    let bin = examples
        .parent()
        .and_then(|dir| dir.parent())
        .expect("target dir")
        .join("ecr-credential-provider");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build` first (scripts/demo does)",
        bin.display()
    );
    bin
}

fn run(title: &str, args: &[&str], endpoint: &str, access_key: &str, stdin: Option<&str>) {
    println!("\n=== {title}");
    println!(
        "$ ecr-credential-provider {}{}",
        args.join(" "),
        if stdin.is_some() {
            " < request.json"
        } else {
            ""
        }
    );
    let mut child = Command::new(provider())
        .args(args)
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", "demo-secret-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the provider");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    println!(
        "--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    println!(
        "--- stdout\n{}",
        String::from_utf8_lossy(&output.stdout).trim_end()
    );
    println!("--- exit code {}", output.status.code().unwrap_or(-1));
}

fn main() {
    let ecr = FakeAws::start(|seen| match seen.signed_scope() {
        Some((key, ..)) if key == "AKIADEMOREFUSED" => Reply::aws_error(
            400,
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/demo is not authorized to perform: ecr:GetAuthorizationToken",
        ),
        _ => ecr_token("demo-password", Duration::from_secs(12 * 3600)),
    });
    println!("A stand-in for ECR listens at {} (loopback only).", ecr.url);
    let request = format!(
        r#"{{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"{IMAGE}"}}"#
    );
    println!("request.json: {request}");
    run(
        "the kubelet's way, with tracing",
        &["--trace"],
        &ecr.url,
        "AKIADEMO",
        Some(&request),
    );
    run(
        "by hand: the password is redacted unless --show-password",
        &["get", IMAGE],
        &ecr.url,
        "AKIADEMO",
        None,
    );
    run(
        "an identity ECR refuses: one line that says why and what to do",
        &[],
        &ecr.url,
        "AKIADEMOREFUSED",
        Some(&request),
    );
}
