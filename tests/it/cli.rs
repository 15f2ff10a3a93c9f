//! The command line upstream configs pass, and manual use.

use std::time::Duration;

use crate::support::fake::{FakeAws, ecr_token};
use crate::support::{V1, exec, request};

#[test]
fn version_help_and_unknown_flags() {
    for flag in ["--version", "-v"] {
        let output = exec().arg(flag).run();
        assert_eq!(output.code, Some(0));
        assert_eq!(
            output.stdout,
            format!(
                "ecr-credential-provider version v{}\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }
    let output = exec().arg("--help").run();
    assert_eq!(output.code, Some(0));
    assert!(output.stdout.contains("COMMAND --help") && output.stdout.contains("--timeout"));
    for args in [
        &["--frobnicate"][..],
        &["-x"],
        &["--timeout=never"],
        &["get"],
    ] {
        let mut run = exec();
        for arg in args {
            run = run.arg(*arg);
        }
        let output = run.stdin("").run();
        assert_eq!(output.code, Some(2), "{args:?}: {output:?}");
        let line = output.error_line();
        assert!(
            line.starts_with("ecr-credential-provider: error: ")
                && line.contains("; hint: run `ecr-credential-provider ")
                && line.contains("--help`"),
            "{line}"
        );
    }
}

#[test]
fn get_builds_the_request_and_redacts_the_password_unless_asked() {
    let server = FakeAws::start(|_| ecr_token("the-password", Duration::from_secs(3600)));
    let image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app:v1";
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .arg("get")
        .arg(image)
        .secret("the-password")
        .run();
    let response = output.json();
    assert_eq!(
        response["auth"]["123456789012.dkr.ecr.us-west-2.amazonaws.com"]["password"],
        "** redacted **"
    );
    let response = exec()
        .keys()
        .endpoint(&server.url)
        .arg("get")
        .arg(image)
        .arg("--show-password")
        .run()
        .json();
    assert_eq!(
        response["auth"]["123456789012.dkr.ecr.us-west-2.amazonaws.com"]["password"],
        "the-password"
    );
    // The kubelet path never redacts.
    let response = exec()
        .keys()
        .endpoint(&server.url)
        .stdin(request(V1, image))
        .run()
        .json();
    assert_eq!(
        response["auth"]["123456789012.dkr.ecr.us-west-2.amazonaws.com"]["password"],
        "the-password"
    );
}

/// Upstream's command takes and ignores any positional argument; configs may carry some.
#[test]
fn positional_arguments_are_ignored_with_a_warning_as_upstream_does() {
    let server = FakeAws::start(|_| ecr_token("pw", Duration::from_secs(3600)));
    let image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app";
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .arg("get-credentials")
        .arg("--region=ignored-by-nobody")
        .stdin(request(V1, image))
        .run();
    assert_eq!(
        output.code,
        Some(2),
        "unknown flags stay errors: {output:?}"
    );
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .arg("get-credentials")
        .arg("extra")
        .stdin(request(V1, image))
        .run();
    output.json();
    assert!(
        output.stderr.contains(
            "ecr-credential-provider: warning: ignoring the argument \"extra\", as upstream's command does"
        ),
        "{}",
        output.stderr
    );
}

/// Every `--help` as the binary prints it. A change shows up here for review.
#[test]
fn help_texts() {
    for (name, args) in [
        ("help", &["--help"][..]),
        ("help_get_credentials", &["get-credentials", "--help"]),
        ("help_get", &["get", "--help"]),
        ("help_check", &["help", "check"]),
    ] {
        let mut run = exec();
        for arg in args {
            run = run.arg(*arg);
        }
        let output = run.run();
        assert_eq!(output.code, Some(0), "{output:?}");
        assert!(output.stderr.is_empty(), "{output:?}");
        insta::assert_snapshot!(name, output.stdout);
    }
}

/// The README's command-line section quotes `--help` whole, as the binary prints it.
#[test]
fn readme_quotes_the_help() {
    let readme = include_str!("../../README.md");
    let output = exec().arg("--help").run();
    assert_eq!(output.code, Some(0), "{output:?}");
    let help = &output.stdout;
    assert!(
        readme.contains(&format!(
            "```text\n$ ecr-credential-provider --help\n{help}```"
        )),
        "README.md's command-line section differs from --help:\n{help}"
    );
}

/// The README's inline config lists every host form the example config does.
#[test]
fn readme_config_lists_every_match_image() {
    let readme = include_str!("../../README.md");
    let example = include_str!("../../examples/credential-provider-config.yaml");
    let patterns: Vec<&str> = example
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("- \""))
        .collect();
    assert_eq!(patterns.len(), 13, "{patterns:?}");
    for pattern in patterns {
        assert!(readme.contains(&format!("      {pattern}\n")), "{pattern}");
    }
}

/// Go's time.ParseDuration rules, and errors that name where the value came from.
#[test]
fn timeouts_are_go_durations_and_errors_name_their_source() {
    let cases: [(&[&str], Option<&str>, &str); 6] = [
        (
            &["--timeout=2"],
            None,
            "--timeout=\"2\": a duration needs a unit, as in Go: 2s",
        ),
        (&["--timeout=0"], None, "the timeout must be more than 0"),
        // Go parses both; they are out of range, not malformed.
        (
            &["--timeout=-1s"],
            None,
            "--timeout=\"-1s\" is out of range: the timeout must be more than 0",
        ),
        (
            &[],
            Some("2562047h"),
            "ECR_CREDENTIAL_PROVIDER_TIMEOUT=\"2562047h\" is out of range: the timeout must be at most 1h",
        ),
        (
            &[],
            Some("zzz"),
            "ECR_CREDENTIAL_PROVIDER_TIMEOUT=\"zzz\" is not a Go duration",
        ),
        (&["--timeout", "--v=2"], None, "--timeout needs a value"),
    ];
    for (args, env, needle) in cases {
        let mut run = exec().stdin("");
        for arg in args {
            run = run.arg(*arg);
        }
        if let Some(value) = env {
            run = run.env("ECR_CREDENTIAL_PROVIDER_TIMEOUT", value);
        }
        let output = run.run();
        assert_eq!(output.code, Some(2), "{args:?}: {output:?}");
        assert!(output.error_line().contains(needle), "{args:?}: {output:?}");
        assert_eq!(output.stderr.lines().count(), 1, "{output:?}");
    }
}

/// A usage error points to the help of the command it is about.
#[test]
fn usage_errors_point_to_their_command_help() {
    for (args, help) in [
        (&["get"][..], "get --help"),
        (&["check", "x", "y"], "check --help"),
        (&["--json"], "check --help"),
        (&["--frobnicate"], "ecr-credential-provider --help"),
    ] {
        let mut run = exec().stdin("");
        for arg in args {
            run = run.arg(*arg);
        }
        let output = run.run();
        assert_eq!(output.code, Some(2), "{output:?}");
        assert!(output.error_line().contains(help), "{args:?}: {output:?}");
    }
}

/// Issue 9: booleans take no value; `--json=false` is not "on".
#[test]
fn boolean_flags_refuse_a_value() {
    for args in [
        &["check", "public.ecr.aws/x", "--json=false"][..],
        &["get", "public.ecr.aws/x", "--show-password=false"],
    ] {
        let mut run = exec().stdin("");
        for arg in args {
            run = run.arg(*arg);
        }
        let output = run.run();
        assert_eq!(output.code, Some(2), "{output:?}");
        assert!(output.error_line().contains("takes no value"), "{output:?}");
    }
}

/// Issue 9: debug settings never break a pull.
#[test]
fn a_bad_trace_setting_or_a_long_timeout_warns_and_the_pull_goes_on() {
    let server = FakeAws::start(|_| ecr_token("pw", Duration::from_secs(3600)));
    let image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app";
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .env("ECR_CREDENTIAL_PROVIDER_TRACE", "yes")
        .arg("--timeout=90s")
        .stdin(request(V1, image))
        .run();
    output.json();
    assert_eq!(
        output.stderr,
        "ecr-credential-provider: warning: --timeout=\"90s\" is longer than the kubelet waits: it kills a provider after 1m0s, whatever this says\n\
         ecr-credential-provider: warning: ECR_CREDENTIAL_PROVIDER_TRACE=\"yes\" is not a trace setting (1, text, json, or 0 for off): not tracing\n"
    );
}

/// The provider run with `args` and a pseudo-terminal (from `script`) for stdin, which is
/// never written to: its first line on the terminal, how soon it came, the other lines, and
/// the exit code.
#[cfg(unix)]
fn on_a_terminal(args: &str) -> (String, Duration, Vec<String>, Option<i32>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let home = crate::support::TempDir::new();
    let command = format!("{} {args}", crate::support::BIN);
    let mut child = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env_clear()
        .env("HOME", &home.0)
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux's script (Debian's bsdutils) must be installed");
    let started = Instant::now();
    let stdin = child.stdin.take();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The terminal ends lines with \r\n.
    let first = lines.next().unwrap().unwrap().trim_end().to_owned();
    let first_after = started.elapsed();
    let rest: Vec<String> = lines
        .map_while(Result::ok)
        .map(|line| line.trim_end().to_owned())
        .collect();
    drop(stdin);
    let status = child.wait().unwrap();
    (first, first_after, rest, status.code())
}

/// A person who runs the bare binary on a terminal is told at once what it waits for; if
/// the deadline passes on stdin, the hint is about stdin, not the network.
#[cfg(unix)]
#[test]
fn a_terminal_on_stdin_is_told_what_the_provider_waits_for() {
    let (first, first_after, rest, code) = on_a_terminal("--timeout=3s");
    assert!(
        first.starts_with("ecr-credential-provider: warning: stdin is a terminal: waiting for a CredentialProviderRequest")
            && first.contains("`ecr-credential-provider get IMAGE`"),
        "{first:?} {rest:?}"
    );
    assert!(first_after < Duration::from_secs(2), "{first_after:?}");
    let last = rest.last().map(String::as_str).unwrap_or_default();
    assert!(
        last.starts_with("ecr-credential-provider: error: gave up after 3s waiting for the request on stdin; hint: the kubelet writes one request and closes stdin"),
        "{rest:?}"
    );
    assert!(!last.contains("VPC"), "{last}");
    assert_eq!(code, Some(1));
}

/// A mistyped command runs the kubelet's command, which waits on stdin: the first line says
/// at once which argument it ignores and which command was likely meant, not only after
/// Ctrl-D or the deadline.
#[cfg(unix)]
#[test]
fn a_mistyped_command_on_a_terminal_is_named_at_once() {
    let (first, first_after, rest, code) =
        on_a_terminal("chek 123456789012.dkr.ecr.us-west-2.amazonaws.com/app --timeout=2s");
    assert!(
        first.starts_with("ecr-credential-provider: warning: stdin is a terminal: waiting for a CredentialProviderRequest")
            && first.contains(
                "ignoring the arguments \"chek\" (did you mean `check`?), \"123456789012.dkr.ecr.us-west-2.amazonaws.com/app\""
            ),
        "{first:?} {rest:?}"
    );
    assert!(first_after < Duration::from_secs(1), "{first_after:?}");
    assert!(
        rest.iter().any(|line| line.contains(
            "warning: ignoring the argument \"chek\", as upstream's command does (did you mean `check`?)"
        )),
        "{rest:?}"
    );
    assert_eq!(code, Some(1));
}

/// With a JSON trace, the command line's warnings are trace events too: every line parses.
#[test]
fn warnings_keep_a_json_trace_one_object_per_line() {
    let server = FakeAws::start(|_| ecr_token("pw", Duration::from_secs(3600)));
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .env("ECR_CREDENTIAL_PROVIDER_TRACE", "json")
        .arg("--timeout=90s")
        .stdin(request(
            V1,
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/app",
        ))
        .run();
    output.json();
    let events: Vec<serde_json::Value> = output
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        events.iter().any(|e| e["level"] == "WARN"
            && e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("kills a provider after 1m0s")),
        "{events:#?}"
    );
}
