//! A local demo that needs no AWS account: starts a loopback stand-in for ECR, STS and a
//! registry, then runs the provider four ways — as the kubelet does (with tracing on), by
//! hand with `get`, with an identity ECR refuses, and `check` on a repository the identity may
//! not read. Each command is printed with the environment it ran with, so it can be copied
//! while `scripts/demo --serve` keeps the stand-in up. Run it with `scripts/demo`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../tests/support/fake.rs"]
mod fake;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fake::{FakeAws, Reply, Seen, ecr_token};

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app";
const ACCOUNT: &str = "123456789012";
const REFUSED_KEY: &str = "AKIADEMOREFUSED";

#[allow(dead_code)]
fn main() {
    let examples = std::env::current_exe().expect("own path");
    let bin = examples
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(format!(
            "ecr-credential-provider{}",
            std::env::consts::EXE_SUFFIX
        ));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build` first (scripts/demo does)",
        bin.display()
    );
    let dir = examples.parent().expect("examples dir").join("demo-files");
    std::fs::create_dir_all(&dir).expect("create the demo's directory");
    let world = stand_in();
    let mut out = std::io::stdout().lock();
    run_demo(&bin, &world.url, &dir, &mut out).expect("write to stdout");
    if std::env::args().any(|arg| arg == "--serve") {
        writeln!(
            out,
            "\nThe stand-in stays up at {} until you press Enter: copy the commands above into another shell.",
            world.url
        )
        .unwrap();
        out.flush().unwrap();
        let _ = std::io::stdin().read_line(&mut String::new());
    } else {
        writeln!(
            out,
            "\nThe stand-in stops with the demo: `scripts/demo --serve` keeps it up to try the commands."
        )
        .unwrap();
    }
}

/// ECR, STS and a registry in one loopback server: tokens for every identity but
/// `REFUSED_KEY`, and no read access to the repository for anyone.
pub fn stand_in() -> FakeAws {
    FakeAws::start(|seen: &Seen| {
        let operation = seen.operation();
        let op = operation.rsplit('.').next().unwrap_or_default();
        match op {
            "GetAuthorizationToken"
                if seen
                    .signed_scope()
                    .is_some_and(|(key, ..)| key == REFUSED_KEY) =>
            {
                Reply::aws_error(
                    400,
                    "AccessDeniedException",
                    &format!(
                        "User: arn:aws:iam::{ACCOUNT}:user/refused is not authorized to perform: ecr:GetAuthorizationToken"
                    ),
                )
            }
            "GetAuthorizationToken" => ecr_token("demo-password", Duration::from_secs(12 * 3600)),
            "GetCallerIdentity" => Reply::Body(
                200,
                "text/xml",
                format!(
                    r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/node</Arn><UserId>AIDADEMO</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#
                ),
            ),
            "BatchGetImage" | "GetDownloadUrlForLayer" => Reply::aws_error(
                400,
                "AccessDeniedException",
                &format!(
                    "User: arn:aws:iam::{ACCOUNT}:user/node is not authorized to perform: ecr:{op} on resource: arn:aws:ecr:us-west-2:{ACCOUNT}:repository/team/app"
                ),
            ),
            // As ECR: the ping asks for a Basic login, and the login may not pull.
            _ if seen.target == "/v2/" => Reply::WithHeaders(
                401,
                vec![(
                    "www-authenticate",
                    r#"Basic realm="https://registry/",service="ecr.amazonaws.com""#.into(),
                )],
                String::new(),
            ),
            _ if seen.target.starts_with("/v2/") => Reply::Body(
                403,
                "application/json",
                r#"{"errors":[{"code":"DENIED"}]}"#.into(),
            ),
            other => Reply::aws_error(400, "UnknownOperationException", other),
        }
    })
}

/// The whole demo, written to `out`; `dir` receives request.json.
pub fn run_demo(bin: &Path, url: &str, dir: &Path, out: &mut dyn Write) -> std::io::Result<()> {
    let request = format!(
        r#"{{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"{IMAGE}"}}"#
    );
    let request_file = dir.join("request.json");
    std::fs::write(&request_file, format!("{request}\n"))?;
    writeln!(
        out,
        "A stand-in for ECR, STS and a registry listens at {url} (loopback only).\n\
         {} holds the request the kubelet would write:\n{request}",
        request_file.display()
    )?;
    let demo = Demo {
        bin: bin.to_owned(),
        url: url.to_owned(),
        request_file,
    };
    demo.run(
        out,
        "1. The kubelet's way: the request on stdin, the response on stdout (with --trace)",
        "AKIADEMO",
        &["--trace"],
        true,
    )?;
    demo.run(
        out,
        "2. By hand: `get IMAGE` builds the request; the password is redacted unless --show-password",
        "AKIADEMO",
        &["get", IMAGE],
        false,
    )?;
    demo.run(
        out,
        "3. An identity ECR refuses a token: one line that says why and what to do",
        REFUSED_KEY,
        &[],
        true,
    )?;
    let registry = format!("--registry-endpoint={url}");
    demo.run(
        out,
        "4. A token, but no right to pull: `check` names the denied BatchGetImage and the fix",
        "AKIADEMO",
        &["check", &format!("{IMAGE}:v1"), &registry],
        false,
    )
}

struct Demo {
    bin: PathBuf,
    url: String,
    request_file: PathBuf,
}

impl Demo {
    fn run(
        &self,
        out: &mut dyn Write,
        title: &str,
        access_key: &str,
        args: &[&str],
        stdin: bool,
    ) -> std::io::Result<()> {
        let env = [
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL", self.url.as_str()),
            ("AWS_ACCESS_KEY_ID", access_key),
            ("AWS_SECRET_ACCESS_KEY", "demo-secret-key"),
        ];
        writeln!(out, "\n=== {title}")?;
        let assignments: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut command = vec![self.bin.display().to_string()];
        command.extend(args.iter().map(|arg| (*arg).to_owned()));
        if stdin {
            command.push(format!("< {}", self.request_file.display()));
        }
        writeln!(
            out,
            "$ env -i {} \\\n    {} \\\n    {}",
            assignments[..2].join(" "),
            assignments[2..].join(" "),
            command.join(" ")
        )?;
        let mut child = Command::new(&self.bin)
            .args(args)
            .env_clear()
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut input = child.stdin.take().expect("piped stdin");
        if stdin {
            input.write_all(&std::fs::read(&self.request_file)?)?;
        }
        drop(input);
        let output = child.wait_with_output()?;
        for (name, bytes) in [("stderr", &output.stderr), ("stdout", &output.stdout)] {
            let text = String::from_utf8_lossy(bytes);
            if !text.trim().is_empty() {
                writeln!(out, "--- {name}\n{}", text.trim_end())?;
            }
        }
        writeln!(out, "--- exit code {}", output.status.code().unwrap_or(-1))
    }
}
