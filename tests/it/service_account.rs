//! KEP-4412: the pod's service-account token traded for a role's credentials via STS.

use std::time::Duration;

use crate::support::fake::{FakeAws, Reply, ecr_token, sts_credentials, sts_error};
use crate::support::{ACCESS_KEY, V1, exec};

const IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app";
const JWT: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl";
const ROLE: &str = "arn:aws:iam::123456789012:role/ecr-pull";
const ROLE_KEY: &str = "ASIAROLEKEYEXAMPLE01";
const ROLE_SECRET: &str = "role-secret-key-EXAMPLE-0123456789abcdef";
const ROLE_SESSION: &str = "role-session-token-EXAMPLE-FwoGZXIvYXdzE";

fn aws() -> FakeAws {
    FakeAws::start(|seen| match seen.operation().as_str() {
        "AssumeRoleWithWebIdentity" => sts_credentials(ROLE_KEY, ROLE_SECRET, ROLE_SESSION),
        _ => ecr_token("pw", Duration::from_secs(3600)),
    })
}

fn sa_request(annotations: serde_json::Value) -> String {
    serde_json::json!({
        "kind": "CredentialProviderRequest", "apiVersion": V1, "image": IMAGE,
        "serviceAccountToken": JWT, "serviceAccountAnnotations": annotations,
    })
    .to_string()
}

fn run_with(server: &FakeAws, annotations: serde_json::Value) -> crate::support::Exec {
    exec()
        .endpoint(&server.url)
        .stdin(sa_request(annotations))
        .secret(JWT)
        .secret(ROLE_SECRET)
        .secret(ROLE_SESSION)
}

#[test]
fn assumes_the_annotated_role_with_the_token_and_uses_its_credentials() {
    let server = aws();
    let output = run_with(
        &server,
        serde_json::json!({"eks.amazonaws.com/ecr-role-arn": ROLE}),
    )
    .run();
    output.json();
    let sts = server.calls("AssumeRoleWithWebIdentity");
    assert_eq!(sts.len(), 1);
    assert_eq!(sts[0].form("WebIdentityToken").as_deref(), Some(JWT));
    assert_eq!(sts[0].form("RoleArn").as_deref(), Some(ROLE));
    assert_eq!(
        sts[0].form("RoleSessionName").as_deref(),
        Some("ecr-credential-provider")
    );
    assert!(sts[0].signed_scope().is_none(), "the STS call is unsigned");
    let ecr = server.calls("GetAuthorizationToken");
    assert_eq!(
        ecr[0].signed_scope().unwrap(),
        (ROLE_KEY.into(), "eu-west-1".into(), "ecr".into())
    );
    assert_eq!(
        ecr[0]
            .headers
            .get("x-amz-security-token")
            .map(String::as_str),
        Some(ROLE_SESSION)
    );
}

#[test]
fn role_from_irsa_annotation_or_environment() {
    let server = aws();
    run_with(
        &server,
        serde_json::json!({"eks.amazonaws.com/role-arn": ROLE}),
    )
    .run()
    .json();
    assert_eq!(
        server.calls("AssumeRoleWithWebIdentity")[0]
            .form("RoleArn")
            .as_deref(),
        Some(ROLE)
    );
    let other = "arn:aws:iam::123456789012:role/from-env";
    run_with(&server, serde_json::json!({}))
        .env("AWS_ECR_ROLE_ARN", other)
        .run()
        .json();
    assert_eq!(
        server.calls("AssumeRoleWithWebIdentity")[1]
            .form("RoleArn")
            .as_deref(),
        Some(other)
    );
}

/// The access key that signed the GetAuthorizationToken call.
fn token_call_key(server: &FakeAws) -> String {
    server.calls("GetAuthorizationToken")[0]
        .signed_scope()
        .unwrap()
        .0
}

#[test]
fn without_a_role_the_token_is_ignored_and_the_default_chain_used() {
    let server = aws();
    run_with(&server, serde_json::json!({})).keys().run().json();
    assert!(server.calls("AssumeRoleWithWebIdentity").is_empty());
    assert_eq!(token_call_key(&server), ACCESS_KEY);
}

/// Upstream (v1.35+): a present but empty annotation opts the service account out of the
/// node-wide AWS_ECR_ROLE_ARN, onto node credentials; the trace says why.
#[test]
fn an_empty_role_annotation_means_node_credentials_not_the_env_role() {
    let server = aws();
    let output = run_with(
        &server,
        serde_json::json!({"eks.amazonaws.com/ecr-role-arn": "", "eks.amazonaws.com/role-arn": ROLE}),
    )
    .keys()
    .env("AWS_ECR_ROLE_ARN", ROLE)
    .arg("--v=2")
    .run();
    output.json();
    assert!(server.calls("AssumeRoleWithWebIdentity").is_empty());
    assert_eq!(token_call_key(&server), ACCESS_KEY);
    assert!(
        output.stderr.contains(
            "annotation eks.amazonaws.com/ecr-role-arn is present but empty: node credentials, not AWS_ECR_ROLE_ARN"
        ),
        "{}",
        output.stderr
    );
}

#[test]
fn a_refused_role_names_the_role_and_the_trust_policy() {
    let server = FakeAws::start(|_| {
        sts_error(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )
    });
    let output = run_with(
        &server,
        serde_json::json!({"eks.amazonaws.com/ecr-role-arn": ROLE}),
    )
    .run();
    let line = output.error_line();
    assert!(
        line.contains(&format!(
            "STS AssumeRoleWithWebIdentity for role {ROLE} in eu-west-1 failed: AccessDenied"
        )),
        "{line}"
    );
    assert!(line.contains("trust policy"), "{line}");
    assert!(server.calls("GetAuthorizationToken").is_empty());
}

/// With a token whose claims can be read, the kubelet's one line carries the trust-policy
/// statement itself: the OIDC provider, and the subject and audience conditions.
#[test]
fn a_refused_role_names_the_statement_the_token_needs() {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        r#"{"iss":"https://oidc.eks.eu-west-1.amazonaws.com/id/ABC","sub":"system:serviceaccount:shop:cart","aud":["sts.amazonaws.com"]}"#,
    );
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2lnbmF0dXJl");
    let server = FakeAws::start(|_| sts_error(403, "AccessDenied", "Not authorized"));
    let stdin = serde_json::json!({
        "kind": "CredentialProviderRequest", "apiVersion": V1, "image": IMAGE,
        "serviceAccountToken": jwt, "serviceAccountAnnotations": {"eks.amazonaws.com/ecr-role-arn": ROLE},
    })
    .to_string();
    let output = exec()
        .endpoint(&server.url)
        .stdin(stdin)
        .secret(jwt.clone())
        .run();
    let line = output.error_line();
    for needle in [
        "the trust policy of arn:aws:iam::123456789012:role/ecr-pull does not let this token in",
        r#""Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC""#,
        r#""oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub":"system:serviceaccount:shop:cart""#,
        r#""oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud":"sts.amazonaws.com""#,
    ] {
        assert!(line.contains(needle), "{needle}: {line}");
    }
}

#[test]
fn a_malformed_role_arn_is_refused_before_any_call() {
    let server = FakeAws::start(|_| Reply::Close);
    let output = run_with(
        &server,
        serde_json::json!({"eks.amazonaws.com/ecr-role-arn": "ecr-pull"}),
    )
    .run();
    assert!(output.error_line().contains("is not an IAM role ARN"));
    assert!(server.seen().is_empty());
}
