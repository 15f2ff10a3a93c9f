//! Opt-in tracing: every field a 403 investigation needs, in text and JSON, and never a secret.

use std::time::Duration;

use crate::support::fake::{FakeAws, Reply, ecr_token, sts_credentials};
use crate::support::{SECRET_KEY, V1, exec, request};

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app";
const HOST: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const PASSWORD: &str = "trace-password-EXAMPLE";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0cmFjZSJ9.dHJhY2Utc2lnbmF0dXJl";
const ROLE: &str = "arn:aws:iam::123456789012:role/trace";
const ROLE_SECRET: &str = "trace-role-secret-EXAMPLE-abcdef012345";
const ROLE_SESSION: &str = "trace-role-session-EXAMPLE-FwoGZXIvYXdz";

fn server() -> FakeAws {
    FakeAws::start(|seen| match seen.operation().as_str() {
        "AssumeRoleWithWebIdentity" => {
            sts_credentials("ASIATRACEEXAMPLE0001", ROLE_SECRET, ROLE_SESSION)
        }
        _ => ecr_token(PASSWORD, Duration::from_secs(7200)),
    })
}

fn secrets(run: crate::support::Exec) -> crate::support::Exec {
    run.secret(PASSWORD)
        .secret(JWT)
        .secret(ROLE_SECRET)
        .secret(ROLE_SESSION)
        .secret(SECRET_KEY)
}

#[test]
fn text_trace_has_request_classification_source_call_and_response() {
    let server = server();
    let output = secrets(exec().keys().endpoint(&server.url).arg("--trace"))
        .stdin(request(V1, IMAGE))
        .run();
    output.json();
    for needle in [
        "request image=123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app",
        "service_account_token=\"absent\"",
        "classified host=123456789012.dkr.ecr.us-west-2.amazonaws.com kind=\"private\" partition=\"aws\" region=us-west-2 registry_id=123456789012",
        "credentials source=environment variables (AWS_ACCESS_KEY_ID)",
        &format!(
            "GetAuthorizationToken service=\"ECR\" region=us-west-2 endpoint=\"{}\" request_id=\"req-1\"",
            server.url
        ),
        "latency_ms=",
        "attempts=1",
        "response cache_key_type=\"Registry\" cache_duration=59m59s",
        &format!("auth={HOST}"),
        "proxy_endpoint=\"https://123456789012.dkr.ecr.us-west-2.amazonaws.com\"",
        "a token lets the kubelet log in to the registry; pulling also needs ecr:BatchGetImage",
        &format!("ecr-credential-provider check {IMAGE}"),
    ] {
        assert!(
            output.stderr.contains(needle),
            "missing {needle:?} in\n{}",
            output.stderr
        );
    }
}

#[test]
fn json_trace_from_the_environment_is_one_object_per_line() {
    let server = server();
    let stdin = serde_json::json!({"kind": "CredentialProviderRequest", "apiVersion": V1, "image": IMAGE,
        "serviceAccountToken": JWT, "serviceAccountAnnotations": {"eks.amazonaws.com/ecr-role-arn": ROLE}})
    .to_string();
    let output = secrets(
        exec()
            .endpoint(&server.url)
            .env("ECR_CREDENTIAL_PROVIDER_TRACE", "json"),
    )
    .stdin(stdin)
    .run();
    output.json();
    let events: Vec<serde_json::Value> = output
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let event = |message: &str| {
        events
            .iter()
            .find(|e| e["message"] == message)
            .unwrap_or_else(|| panic!("no {message}: {events:#?}"))
    };
    assert_eq!(event("request")["service_account_token"], "present");
    assert_eq!(
        event("request")["annotations"],
        "[\"eks.amazonaws.com/ecr-role-arn\"]"
    );
    assert_eq!(
        event("assuming role with the service-account token")["role_arn"],
        ROLE
    );
    assert_eq!(
        event("assuming role with the service-account token")["why"],
        "annotation eks.amazonaws.com/ecr-role-arn"
    );
    assert_eq!(
        event("credentials")["source"],
        format!("assumed role {ROLE}")
    );
    assert_eq!(event("GetAuthorizationToken")["region"], "us-west-2");
    assert_eq!(event("response")["auth"], HOST);
}

#[test]
fn verbosity_flag_maps_onto_levels() {
    let server = server();
    let info = exec()
        .keys()
        .endpoint(&server.url)
        .arg("--v=2")
        .stdin(request(V1, IMAGE))
        .run();
    assert!(
        info.stderr.contains("INFO credentials") && !info.stderr.contains("DEBUG"),
        "{}",
        info.stderr
    );
    let debug = exec()
        .keys()
        .endpoint(&server.url)
        .arg("--v=4")
        .stdin(request(V1, IMAGE))
        .run();
    assert!(debug.stderr.contains("DEBUG request"), "{}", debug.stderr);
    let quiet = exec()
        .keys()
        .endpoint(&server.url)
        .arg("--v=0")
        .stdin(request(V1, IMAGE))
        .run();
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[test]
fn failures_are_traced_without_secrets() {
    let server = FakeAws::start(|_| Reply::aws_error(400, "AccessDeniedException", "denied"));
    let stdin =
        serde_json::json!({"kind": "CredentialProviderRequest", "apiVersion": V1, "image": IMAGE,
        "serviceAccountToken": JWT})
        .to_string();
    let output = secrets(exec().keys().endpoint(&server.url).arg("--trace"))
        .stdin(stdin)
        .run();
    assert!(output.error_line().contains("AccessDeniedException"));
    assert!(
        output
            .stderr
            .contains("a service-account token came without a role ARN"),
        "{}",
        output.stderr
    );
}
