//! The Docker credential-helper protocol (the binary as `docker-credential-ecr-login`) and
//! `get --format dockerconfigjson`: every action, every form of server URL, and no AWS call
//! for a host that is not ECR, counted at the loopback fake.

use std::time::Duration;

use base64::Engine as _;

use crate::support::fake::{FakeAws, Reply, token_service};
use crate::support::{BIN, Exec, TempDir, exec};

const NAME: &str = "docker-credential-ecr-login";
const PRIVATE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const NOT_FOUND: &str = "credentials not found in native keychain\n";

fn failing() -> FakeAws {
    FakeAws::start(|_| Reply::aws_error(400, "AccessDeniedException", "not allowed"))
}

/// The helper as docker runs it: argv[0] is its name, one action, stdout read even on failure.
fn helper(action: &str, server: &FakeAws) -> Exec {
    exec()
        .arg0(NAME)
        .arg(action)
        .keys()
        .endpoint(&server.url)
        .secret("private-pass")
        .secret("public-pass")
        .report()
}

#[test]
fn get_answers_for_an_ecr_host_in_every_form_docker_and_containers_image_send() {
    for input in [
        PRIVATE.to_owned(),
        format!("{PRIVATE}\n"),
        format!("https://{PRIVATE}"),
        format!("https://{PRIVATE}/v2/\n"),
        format!("{PRIVATE}:5000"),
        format!("{PRIVATE}/team/app\r\n"),
    ] {
        let server = token_service();
        let output = helper("get", &server).stdin(input.clone()).run();
        assert_eq!(output.code, Some(0), "{input:?}: {output:#?}");
        assert_eq!(
            output.stdout,
            format!(
                "{{\"ServerURL\":\"{}\",\"Username\":\"AWS\",\"Secret\":\"private-pass\"}}\n",
                input.trim()
            ),
            "{input:?}"
        );
        assert!(output.stderr.is_empty(), "{input:?}: {output:#?}");
        let calls = server.calls("GetAuthorizationToken");
        assert_eq!(calls.len(), 1, "{input:?}");
        assert_eq!(calls[0].signed_scope().unwrap().1, "us-west-2", "{input:?}");
    }
}

#[test]
fn get_answers_for_ecr_public_from_the_public_api() {
    let server = token_service();
    let output = helper("get", &server)
        .stdin("https://public.ecr.aws/v2/\n")
        .run();
    assert_eq!(
        output.stdout,
        "{\"ServerURL\":\"https://public.ecr.aws/v2/\",\"Username\":\"AWS\",\"Secret\":\"public-pass\"}\n"
    );
    assert_eq!(
        server
            .calls("SpencerFrontendService.GetAuthorizationToken")
            .len(),
        1
    );
}

#[test]
fn any_other_host_is_not_found_without_asking_aws() {
    let server = token_service();
    for input in [
        "https://index.docker.io/v1/\n",
        "docker.io",
        "ghcr.io\n",
        "localhost:5000",
        "127.0.0.1:5000",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com.evil.example",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com@evil.example",
        "evil.example/123456789012.dkr.ecr.us-west-2.amazonaws.com",
        "not a server url",
    ] {
        let output = helper("get", &server).stdin(input).run();
        assert_eq!(
            (output.code, output.stdout.as_str(), output.stderr.as_str()),
            (Some(1), NOT_FOUND, ""),
            "{input:?}"
        );
    }
    assert!(
        server.seen().is_empty(),
        "AWS was asked: {:?}",
        server.seen()
    );
}

#[test]
fn an_empty_server_url_is_the_protocols_missing_url() {
    let server = token_service();
    for input in ["", "\n", "  \n\n"] {
        let output = helper("get", &server).stdin(input).run();
        assert_eq!(
            (output.code, output.stdout.as_str()),
            (Some(1), "no credentials server URL\n"),
            "{input:?}"
        );
    }
    assert!(server.seen().is_empty());
}

#[test]
fn a_private_ecr_failure_says_why_on_stdout_for_docker_and_on_stderr() {
    let server = failing();
    let output = helper("get", &server).stdin(PRIVATE).run();
    let line = output.error_line();
    assert!(line.contains("AccessDeniedException"), "{line}");
    assert_eq!(output.stdout, format!("{line}\n"));
}

#[test]
fn an_ecr_public_failure_falls_back_to_anonymous_pulls() {
    let server = failing();
    let output = helper("get", &server).stdin("public.ecr.aws").run();
    assert_eq!((output.code, output.stdout.as_str()), (Some(1), NOT_FOUND));
    assert!(
        output.stderr.contains("AccessDeniedException") && output.stderr.contains("anonymously"),
        "{output:#?}"
    );
}

#[test]
fn list_names_the_callers_registry_and_ecr_public() {
    let server = token_service();
    let output = helper("list", &server).env("AWS_REGION", "us-west-2").run();
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_eq!(
        output.stdout,
        format!("{{\"https://{PRIVATE}\":\"AWS\",\"https://public.ecr.aws\":\"AWS\"}}\n")
    );
    let output = helper("list", &failing())
        .env("AWS_REGION", "us-west-2")
        .run();
    assert_eq!((output.code, output.stdout.as_str()), (Some(0), "{}\n"));
    let warnings = output
        .stderr
        .lines()
        .filter(|line| line.contains("list: ") && line.contains("AccessDeniedException"));
    assert_eq!(warnings.count(), 2, "{output:#?}");
}

#[test]
fn store_and_erase_store_nothing_and_never_ask_aws() {
    let server = token_service();
    let credentials = r#"{"ServerURL":"https://123456789012.dkr.ecr.us-west-2.amazonaws.com","Username":"AWS","Secret":"stored-secret"}"#;
    let cases = [
        ("store", credentials, None, Some(1), "not implemented\n"),
        ("store", credentials, Some("true"), Some(0), ""),
        (
            "store",
            r#"{"Username":"AWS","Secret":"stored-secret"}"#,
            Some("true"),
            Some(1),
            "no credentials server URL\n",
        ),
        (
            "store",
            r#"{"ServerURL":"h","Secret":"stored-secret"}"#,
            Some("true"),
            Some(1),
            "no credentials username\n",
        ),
        ("erase", PRIVATE, None, Some(1), "not implemented\n"),
        ("erase", PRIVATE, Some("true"), Some(0), ""),
        (
            "erase",
            "\n",
            Some("true"),
            Some(1),
            "no credentials server URL\n",
        ),
    ];
    for (action, input, ignore, code, stdout) in cases {
        let mut run = helper(action, &server).stdin(input).secret("stored-secret");
        if let Some(value) = ignore {
            run = run.env("AWS_ECR_IGNORE_CREDS_STORAGE", value);
        }
        let output = run.run();
        assert_eq!(
            (output.code, output.stdout.as_str()),
            (code, stdout),
            "{action} {input}: {output:#?}"
        );
    }
    assert!(server.seen().is_empty());
}

#[test]
fn version_usage_and_unknown_actions_as_docker_credential_helpers_answers_them() {
    let server = token_service();
    let usage = format!("Usage: {NAME} <store|get|erase|list|version>\n");
    let version = format!(
        "{NAME} (ecr-credential-provider) v{}\n",
        env!("CARGO_PKG_VERSION")
    );
    let cases: [(&[&str], Option<i32>, &str); 6] = [
        (&["version"], Some(0), &version),
        (&["--version"], Some(0), &version),
        (&["--help"], Some(0), &usage),
        (&[], Some(1), &usage),
        (&["get", "extra"], Some(1), &usage),
        (
            &["login"],
            Some(1),
            "docker-credential-ecr-login: unknown action: login\n",
        ),
    ];
    for (args, code, stdout) in cases {
        let mut run = exec().arg0(NAME).endpoint(&server.url).report();
        for arg in args {
            run = run.arg(*arg);
        }
        let output = run.run();
        assert_eq!(
            (output.code, output.stdout.as_str()),
            (code, stdout),
            "{args:?}"
        );
    }
    assert!(server.seen().is_empty());
}

#[test]
fn a_symlink_named_docker_credential_ecr_login_is_the_helper() {
    let dir = TempDir::new();
    let link = dir.0.join(NAME);
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let server = token_service();
    let output = exec()
        .program(link)
        .arg("get")
        .keys()
        .endpoint(&server.url)
        .stdin(format!("{PRIVATE}\n"))
        .secret("private-pass")
        .run();
    assert_eq!(output.json()["Secret"], "private-pass");
    // Under Windows' name too.
    let output = helper("get", &server)
        .arg0("docker-credential-ecr-login.exe")
        .stdin("docker.io")
        .run();
    assert_eq!(output.stdout, NOT_FOUND);
}

#[test]
fn the_helper_keeps_the_runs_deadline() {
    let hanging = FakeAws::start(|_| Reply::Hang);
    let output = helper("get", &hanging)
        .env("ECR_CREDENTIAL_PROVIDER_TIMEOUT", "1s")
        .stdin(PRIVATE)
        .run();
    assert!(
        output.error_line().contains("gave up after 1s"),
        "{output:#?}"
    );
    assert!(output.elapsed < Duration::from_secs(10));
}

#[test]
fn a_writer_that_never_closes_stdin_meets_the_deadline() {
    let server = token_service();
    // No stdin given: the test leaves it open.
    let output = helper("get", &server)
        .env("ECR_CREDENTIAL_PROVIDER_TIMEOUT", "500ms")
        .run();
    let line = output.error_line();
    assert!(
        line.contains("waiting for the input of docker-credential-ecr-login on stdin; hint: docker, podman and skopeo write the registry's host"),
        "{line}"
    );
    // Nothing was sent: the network is not the trouble.
    assert!(!line.contains("route") && !line.contains("VPC"), "{line}");
    assert!(server.seen().is_empty());
}

#[test]
fn with_the_shared_cache_one_token_serves_the_kubelet_and_docker() {
    let server = token_service();
    let cache = TempDir::new();
    let dir = cache.0.join("tokens").display().to_string();
    let kubelet = exec()
        .keys()
        .endpoint(&server.url)
        .env("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", dir.clone())
        .stdin(crate::support::request(
            crate::support::V1,
            &format!("{PRIVATE}/team/app"),
        ))
        .secret("private-pass")
        .run();
    assert_eq!(kubelet.json()["auth"][PRIVATE]["password"], "private-pass");
    for input in [format!("https://{PRIVATE}"), format!("{PRIVATE}\n")] {
        let output = helper("get", &server)
            .env("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", dir.clone())
            .stdin(input)
            .run();
        assert_eq!(output.code, Some(0), "{output:#?}");
        assert!(output.stdout.contains("\"Secret\":\"private-pass\""));
    }
    assert_eq!(server.calls("GetAuthorizationToken").len(), 1);
    // A host that is not ECR touches neither AWS nor the cache.
    let before = std::fs::read_dir(&dir).unwrap().count();
    let output = helper("get", &server)
        .env("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", dir.clone())
        .stdin("ghcr.io")
        .run();
    assert_eq!(output.stdout, NOT_FOUND);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), before);
    assert_eq!(server.calls("GetAuthorizationToken").len(), 1);
}

#[test]
fn a_pull_secret_is_docker_config_json_for_the_images_registry() {
    let server = token_service();
    let output = exec()
        .arg("get")
        .arg(format!("{PRIVATE}/team/app:v1"))
        .arg("--format")
        .arg("dockerconfigjson")
        .keys()
        .endpoint(&server.url)
        .secret("private-pass")
        .run();
    let auth = base64::engine::general_purpose::STANDARD.encode("AWS:private-pass");
    assert_eq!(
        output.json(),
        serde_json::json!({"auths": {PRIVATE: {"username": "AWS", "password": "private-pass", "auth": auth}}})
    );
}

#[test]
fn a_pull_secret_for_another_registry_is_refused_without_asking_aws() {
    let server = token_service();
    let output = exec()
        .arg("get")
        .arg("ghcr.io/team/app")
        .arg("--format=dockerconfigjson")
        .keys()
        .endpoint(&server.url)
        .env("AWS_REGION", "us-west-2")
        .run();
    assert!(
        output
            .error_line()
            .contains("would hand an ECR token to another registry"),
        "{output:#?}"
    );
    assert!(server.seen().is_empty());
}
