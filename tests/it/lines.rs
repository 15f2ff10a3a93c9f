//! The one-line error of each fault, pinned: it is the product's interface (the kubelet logs
//! it, people search for it). Faults are told in detail in `errors.rs`; here the exact line.

use std::fmt::Write as _;

use crate::support::fake::{FakeAws, Reply, b64, sts_error};
use crate::support::{V1, exec, request};

const PRIVATE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const JWT: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl";

/// The error line of one kubelet-path run against `server` (or a closed port).
fn line(server: Option<&FakeAws>, stdin: &str, extra: &[(&str, &str)]) -> String {
    let url = server.map_or("http://127.0.0.1:9".to_owned(), |s| s.url.clone());
    let mut run = exec()
        .keys()
        .endpoint(&url)
        .env("AWS_MAX_ATTEMPTS", "1")
        .arg("--timeout=2s")
        .stdin(stdin.to_owned())
        .secret(JWT);
    for (key, value) in extra {
        run = run.env(key, *value);
    }
    let output = run.run();
    let line = output.error_line().to_owned();
    match server {
        Some(server) => line.replace(server.url.trim_start_matches("http://"), "127.0.0.1:PORT"),
        None => line,
    }
}

fn answering(reply: impl Fn() -> Reply + Send + Sync + 'static) -> FakeAws {
    FakeAws::start(move |_| reply())
}

fn image() -> String {
    request(V1, &format!("{PRIVATE}/app"))
}

fn with_token(annotations: &serde_json::Value) -> String {
    serde_json::json!({"kind": "CredentialProviderRequest", "apiVersion": V1, "image": format!("{PRIVATE}/app"),
        "serviceAccountToken": JWT, "serviceAccountAnnotations": annotations})
    .to_string()
}

/// Each AWS fault: its name, the stand-in that produces it, the request.
#[allow(clippy::too_many_lines, reason = "one table")]
fn aws_faults() -> Vec<(&'static str, FakeAws, String)> {
    let image = image();
    let token = |text: &str| serde_json::json!({"authorizationData": [{"authorizationToken": b64(text), "expiresAt": 4_102_444_800_u64}]});
    let json = |body: serde_json::Value| move || Reply::json(200, body.clone());
    vec![
        (
            "access denied",
            answering(|| {
                Reply::aws_error(
                    400,
                    "AccessDeniedException",
                    "User: arn:aws:iam::123456789012:user/x is not authorized to perform: ecr:GetAuthorizationToken",
                )
            }),
            image.clone(),
        ),
        (
            "unknown key",
            answering(|| {
                Reply::aws_error(
                    400,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                )
            }),
            image.clone(),
        ),
        (
            "throttled",
            answering(|| Reply::aws_error(400, "ThrottlingException", "Rate exceeded")),
            image.clone(),
        ),
        (
            "server error",
            answering(|| Reply::aws_error(500, "ServerException", "internal")),
            image.clone(),
        ),
        (
            "no authorization data",
            answering(json(serde_json::json!({"authorizationData": []}))),
            image.clone(),
        ),
        (
            "no token",
            answering(json(
                serde_json::json!({"authorizationData": [{"expiresAt": 1}]}),
            )),
            image.clone(),
        ),
        (
            "token without colon",
            answering(json(token("AWSpassword"))),
            image.clone(),
        ),
        (
            "token with empty password",
            answering(json(token("AWS:"))),
            image.clone(),
        ),
        (
            "token not base64",
            answering(json(
                serde_json::json!({"authorizationData": [{"authorizationToken": "%%%"}]}),
            )),
            image.clone(),
        ),
        (
            "not JSON",
            answering(|| Reply::Body(200, "text/html", "<html>captive portal</html>".into())),
            image.clone(),
        ),
        (
            "connection closed",
            answering(|| Reply::Close),
            image.clone(),
        ),
        ("hang", answering(|| Reply::Hang), image.clone()),
        (
            "role refused",
            answering(|| {
                sts_error(
                    403,
                    "AccessDenied",
                    "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                )
            }),
            with_token(
                &serde_json::json!({"eks.amazonaws.com/ecr-role-arn": "arn:aws:iam::123456789012:role/pull"}),
            ),
        ),
        (
            "role token rejected",
            answering(|| {
                sts_error(
                    400,
                    "InvalidIdentityToken",
                    "No OpenIDConnect provider found in your account for https://oidc.example",
                )
            }),
            with_token(
                &serde_json::json!({"eks.amazonaws.com/ecr-role-arn": "arn:aws:iam::123456789012:role/pull"}),
            ),
        ),
    ]
}

#[test]
fn each_aws_fault_has_its_line() {
    let servers = aws_faults();
    let mut table = String::new();
    for (fault, server, stdin) in &servers {
        let _ = writeln!(table, "{fault}:\n  {}", line(Some(server), stdin, &[]));
    }
    insta::assert_snapshot!("aws_faults", table);
}

type Env = Vec<(&'static str, &'static str)>;

#[test]
fn each_local_fault_has_its_line() {
    let image = image();
    let mut table = String::new();
    let local: Vec<(&str, String, Env)> = vec![
        ("empty stdin", String::new(), vec![]),
        ("not JSON stdin", "not json".into(), vec![]),
        (
            "wrong kind",
            r#"{"kind":"Pod","apiVersion":"credentialprovider.kubelet.k8s.io/v1"}"#.into(),
            vec![],
        ),
        (
            "unsupported version",
            request("credentialprovider.kubelet.k8s.io/v2", PRIVATE),
            vec![],
        ),
        ("empty image", request(V1, ""), vec![]),
        ("unreachable endpoint", image.clone(), vec![]),
        (
            "no region",
            request(V1, "docker.io/library/busybox"),
            vec![],
        ),
        (
            "not a role ARN",
            with_token(&serde_json::json!({"eks.amazonaws.com/ecr-role-arn": "role-a"})),
            vec![],
        ),
        (
            "not a role ARN from the environment",
            with_token(&serde_json::json!({})),
            vec![("AWS_ECR_ROLE_ARN", "arn:aws:iam::123456789012:user/u")],
        ),
    ];
    for (fault, stdin, env) in &local {
        let _ = writeln!(table, "{fault}:\n  {}", line(None, stdin, env));
    }
    let no_credentials = exec()
        .endpoint("http://127.0.0.1:9")
        .stdin(image.clone())
        .run();
    let _ = writeln!(table, "no credentials:\n  {}", no_credentials.error_line());
    let missing_profile = exec()
        .env("AWS_PROFILE", "nope")
        .endpoint("http://127.0.0.1:9")
        .stdin(image)
        .run();
    let _ = writeln!(
        table,
        "missing profile:\n  {}",
        missing_profile.error_line()
    );
    insta::assert_snapshot!("local_faults", table);
}

#[test]
fn each_usage_fault_has_its_line() {
    let mut table = String::new();
    for args in [
        &["--frobnicate"][..],
        &["--timeout=soon"],
        &["check"],
        &["get", "x", "--json"],
        &[
            "check",
            "x",
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
        ],
    ] {
        let mut run = exec();
        for arg in args {
            run = run.arg(*arg);
        }
        let _ = writeln!(
            table,
            "usage {}:\n  {}",
            args.join(" "),
            run.run().error_line()
        );
    }
    insta::assert_snapshot!("usage_faults", table);
}
