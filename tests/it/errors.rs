//! Every bad input and every failing server: one line on stderr naming the problem, a
//! non-zero exit, nothing on stdout (checked by the harness), in bounded time.

use std::time::Duration;

use crate::support::fake::{FakeAws, Reply, b64};
use crate::support::{V1, exec, request};

const PRIVATE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

#[track_caller]
fn check_bad_stdin(stdin: &[u8], needle: &str) {
    let output = exec()
        .keys()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(stdin.to_vec())
        .run();
    let line = output.error_line();
    assert!(
        line.contains(needle),
        "{:?}: {line}",
        String::from_utf8_lossy(stdin)
    );
    assert_eq!(output.code, Some(1));
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
}

#[test]
fn bad_requests_are_named() {
    let v2 = "credentialprovider.kubelet.k8s.io/v2";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "stdin is empty"),
        (b"  \n".to_vec(), "stdin is empty"),
        (b"{\"kind\":".to_vec(), "not valid JSON"),
        (b"not json".to_vec(), "not valid JSON"),
        (b"[1,2]".to_vec(), "not a JSON object"),
        (vec![0xff, 0xfe, 0x00], "not UTF-8"),
        (br#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"x"}"#.to_vec(), "no \"kind\" field"),
        (br#"{"kind":"Pod","apiVersion":"credentialprovider.kubelet.k8s.io/v1"}"#.to_vec(), "kind is \"Pod\""),
        (request(v2, PRIVATE).into_bytes(), "apiVersion \"credentialprovider.kubelet.k8s.io/v2\" is not supported"),
        (request(V1, "").into_bytes(), "image is empty"),
        (br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":7}"#.to_vec(), "\"image\" must be a string"),
        (request(V1, "bad image with spaces").into_bytes(), "whitespace"),
        (request(V1, "host:99999/app").into_bytes(), "invalid port"),
        (vec![b' '; 2 << 20], "larger than"),
    ];
    for (stdin, needle) in cases {
        check_bad_stdin(&stdin, needle);
    }
}

#[test]
fn a_service_account_token_of_the_wrong_type_is_not_echoed() {
    let stdin = br#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"x","serviceAccountToken":{"jwt":"eyJsecret"}}"#;
    let output = exec()
        .keys()
        .stdin(stdin.to_vec())
        .secret("eyJsecret")
        .run();
    assert!(output.error_line().contains("serviceAccountToken"));
}

#[test]
fn stdin_that_never_closes_hits_the_deadline() {
    let output = exec().keys().arg("--timeout=1s").run();
    assert!(
        output
            .error_line()
            .contains("gave up after 1s waiting for the request on stdin"),
        "{output:?}"
    );
    assert!(output.elapsed < Duration::from_secs(10), "{output:?}");
}

fn failing(reply: impl Fn() -> Reply + Send + Sync + 'static) -> FakeAws {
    FakeAws::start(move |_| reply())
}

#[track_caller]
fn check_failure(server: &FakeAws, needles: &[&str]) -> String {
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .env("AWS_MAX_ATTEMPTS", "1")
        .arg("--timeout=5s")
        .stdin(request(V1, &format!("{PRIVATE}/app")))
        .run();
    let line = output.error_line().to_owned();
    for needle in needles {
        assert!(line.contains(needle), "missing {needle:?} in {line}");
    }
    assert!(output.elapsed < Duration::from_secs(10), "{output:?}");
    line
}

#[test]
fn aws_errors_name_the_call_region_code_request_id_and_fix() {
    let server = failing(|| {
        Reply::aws_error(
            400,
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/x is not authorized to perform: ecr:GetAuthorizationToken",
        )
    });
    check_failure(
        &server,
        &[
            "ECR GetAuthorizationToken in us-west-2",
            "environment variables",
            "AccessDeniedException (HTTP 400, request id req-1)",
            "not authorized",
            "hint: the identity needs ecr:GetAuthorizationToken",
            "AmazonEC2ContainerRegistryPullOnly",
        ],
    );
    let server = failing(|| {
        Reply::aws_error(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    });
    check_failure(
        &server,
        &[
            "UnrecognizedClientException",
            "does not know this access key",
        ],
    );
    let server = failing(|| Reply::aws_error(400, "ThrottlingException", "Rate exceeded"));
    check_failure(&server, &["ThrottlingException", "throttling"]);
}

/// A fleet booting at once meets ECR's quota (issue 23, scripts/fleet): a throttled token call
/// retries twice, its waits spread over what is left of the run and over before its deadline,
/// so the run ends with ECR's own error, never the deadline's (the SDK's own waits, up to 1 s
/// then 2 s, often outran a 2 s run). `AWS_MAX_ATTEMPTS`, when set, still decides.
#[test]
fn throttled_token_calls_retry_inside_the_deadline() {
    let server = failing(|| Reply::aws_error(400, "ThrottlingException", "Rate exceeded"));
    let calls = || server.calls("GetAuthorizationToken").len();
    for run in 0..3 {
        let before = calls();
        let output = exec()
            .keys()
            .endpoint(&server.url)
            .arg("--timeout=2s")
            .stdin(request(V1, &format!("{PRIVATE}/app")))
            .run();
        let line = output.error_line();
        assert!(line.contains("ThrottlingException"), "run {run}: {line}");
        assert_eq!(calls() - before, 3, "run {run}: {line}");
    }
    let before = calls();
    exec()
        .keys()
        .endpoint(&server.url)
        .env("AWS_MAX_ATTEMPTS", "2")
        .stdin(request(V1, &format!("{PRIVATE}/app")))
        .run();
    assert_eq!(calls() - before, 2);
}

#[test]
fn unusable_answers_are_refused_never_an_empty_auth() {
    let json = |body: serde_json::Value| move || Reply::json(200, body.clone());
    let token = |text: &str| serde_json::json!({"authorizationData": [{"authorizationToken": b64(text), "expiresAt": 4_102_444_800_u64}]});
    let cases: Vec<(FakeAws, &str)> = vec![
        (
            failing(json(serde_json::json!({"authorizationData": []}))),
            "answered without authorization data",
        ),
        (
            failing(json(serde_json::json!({}))),
            "answered without authorization data",
        ),
        (
            failing(json(
                serde_json::json!({"authorizationData": [{"expiresAt": 1}]}),
            )),
            "without an authorization token",
        ),
        (
            failing(json(token("AWSpassword"))),
            "not of the form user:password",
        ),
        (failing(json(token("AWS:"))), "empty user name or password"),
        (
            failing(json(
                serde_json::json!({"authorizationData": [{"authorizationToken": "%%%"}]}),
            )),
            "not valid base64",
        ),
        (
            failing(|| Reply::Body(200, "application/x-amz-json-1.1", "{not json".into())),
            "ECR GetAuthorizationToken in us-west-2",
        ),
        (
            failing(|| Reply::Body(200, "text/html", "<html>captive portal</html>".into())),
            "ECR GetAuthorizationToken in us-west-2",
        ),
    ];
    for (server, needle) in cases {
        check_failure(&server, &[needle]);
    }
}

#[test]
fn broken_connections_are_reported_with_the_endpoint() {
    let closing = failing(|| Reply::Close);
    let line = check_failure(&closing, &["ECR GetAuthorizationToken in us-west-2"]);
    assert!(line.contains(&closing.url), "{line}");
    let garbage = failing(|| Reply::Raw(b"SSH-2.0-OpenSSH_9.0\r\n".to_vec()));
    check_failure(&garbage, &["ECR GetAuthorizationToken in us-west-2"]);
    // Nothing listens on port 9 of loopback.
    let output = exec()
        .keys()
        .endpoint("http://127.0.0.1:9")
        .stdin(request(V1, PRIVATE))
        .run();
    let line = output.error_line();
    assert!(
        line.contains("could not reach the endpoint at http://127.0.0.1:9"),
        "{line}"
    );
}

/// An endpoint the user set that refuses the connection: the hint names that setting and its
/// value (the service's own variable before AWS_ENDPOINT_URL, user info masked), not the VPC
/// endpoints of AWS's own.
#[test]
fn a_refused_endpoint_the_user_set_is_named_with_its_setting() {
    let cases = [
        (
            "AWS_ENDPOINT_URL",
            "http://127.0.0.1:9",
            "the endpoint is set by AWS_ENDPOINT_URL=http://127.0.0.1:9: check that ECR (or its stand-in) answers there, or unset it",
        ),
        (
            "AWS_ENDPOINT_URL_ECR",
            "http://127.0.0.1:9",
            "the endpoint is set by AWS_ENDPOINT_URL_ECR=http://127.0.0.1:9: ",
        ),
        (
            "AWS_ENDPOINT_URL_ECR",
            "http://user:hunter2@127.0.0.1:9",
            "the endpoint is set by AWS_ENDPOINT_URL_ECR=http://***@127.0.0.1:9: ",
        ),
    ];
    for (variable, url, hint) in cases {
        let output = exec()
            .keys()
            .env(variable, url)
            .env("AWS_MAX_ATTEMPTS", "1")
            .stdin(request(V1, PRIVATE))
            .run();
        let line = output.error_line();
        assert!(line.contains(&format!("; hint: {hint}")), "{line}");
        assert!(!line.contains("VPC") && !line.contains("hunter2"), "{line}");
    }
}

#[test]
fn a_server_that_never_answers_is_abandoned_at_the_deadline() {
    let server = failing(|| Reply::Hang);
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .arg("--timeout=2s")
        .stdin(request(V1, PRIVATE))
        .run();
    let line = output.error_line();
    assert!(
        line.contains("ECR GetAuthorizationToken in us-west-2"),
        "{line}"
    );
    assert!(line.contains(&server.url), "{line}");
    assert!(output.elapsed < Duration::from_secs(6), "{output:?}");
}

#[test]
fn the_deadline_comes_from_the_environment_too() {
    let server = failing(|| Reply::Hang);
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .env("ECR_CREDENTIAL_PROVIDER_TIMEOUT", "1s")
        .stdin(request(V1, PRIVATE))
        .run();
    output.error_line();
    assert!(output.elapsed < Duration::from_secs(5), "{output:?}");
}

#[test]
fn no_credentials_and_no_region_are_explained() {
    let output = exec()
        .endpoint("http://127.0.0.1:9")
        .stdin(request(V1, PRIVATE))
        .run();
    let line = output.error_line();
    assert!(
        line.contains("could not load AWS credentials") && line.contains("instance metadata"),
        "{line}"
    );
    let output = exec()
        .keys()
        .endpoint("http://127.0.0.1:9")
        .stdin(request(V1, "docker.io/library/busybox"))
        .run();
    let line = output.error_line();
    assert!(
        line.contains("no AWS region for docker.io") && line.contains("AWS_REGION"),
        "{line}"
    );
}

#[test]
fn a_missing_profile_is_named() {
    let output = exec()
        .env("AWS_PROFILE", "nope")
        .endpoint("http://127.0.0.1:9")
        .stdin(request(V1, PRIVATE))
        .run();
    let line = output.error_line();
    assert!(line.contains("profile \"nope\" (AWS_PROFILE"), "{line}");
}
