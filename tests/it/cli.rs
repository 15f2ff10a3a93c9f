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
    assert!(output.stdout.contains("get-credentials") && output.stdout.contains("--timeout"));
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
        assert!(
            output
                .error_line()
                .contains("hint: run `ecr-credential-provider --help`")
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
        output.stderr.contains("ignoring the argument \"extra\""),
        "{}",
        output.stderr
    );
}
