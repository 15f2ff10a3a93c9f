//! `check IMAGE` against the loopback stand-in: each way a pull can be refused, told apart.

use std::time::Duration;

use crate::support::fake::{FakeAws, Reply, Seen, ecr_token};
use crate::support::{Output, exec};

const IMAGE: &str = "111122223333.dkr.ecr.us-west-2.amazonaws.com/team/app:v1";
const PASSWORD: &str = "registry-password-EXAMPLE";
const LAYER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn caller(arn: &str, account: &str) -> Reply {
    Reply::Body(
        200,
        "text/xml",
        format!(
            r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDAEXAMPLE</UserId><Account>{account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#
        ),
    )
}

fn image_found() -> Reply {
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": LAYER, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": LAYER, "size": 10}]});
    Reply::json(
        200,
        serde_json::json!({"images": [{
        "registryId": "111122223333", "repositoryName": "team/app",
        "imageId": {"imageTag": "v1", "imageDigest": "sha256:abc"},
        "imageManifest": manifest.to_string(),
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json"}], "failures": []}),
    )
}

/// A registry and an AWS that say yes to everything but what `deny` names.
fn world(account: &'static str, deny: &'static [&'static str]) -> FakeAws {
    FakeAws::start(move |seen: &Seen| {
        let operation = seen.operation();
        let op = operation.rsplit('.').next().unwrap_or_default();
        if deny.contains(&op) {
            return Reply::aws_error(
                400,
                "AccessDeniedException",
                &format!(
                    "User: arn:aws:iam::{account}:user/node is not authorized to perform: ecr:{op}"
                ),
            );
        }
        match op {
            "GetCallerIdentity" => caller(&format!("arn:aws:iam::{account}:user/node"), account),
            "GetAuthorizationToken" => ecr_token(PASSWORD, Duration::from_secs(3600)),
            "BatchGetImage" => image_found(),
            "GetDownloadUrlForLayer" => Reply::json(
                200,
                serde_json::json!({"downloadUrl": "https://example.invalid/layer", "layerDigest": LAYER}),
            ),
            _ if seen.target.starts_with("/v2/") => {
                let expected = format!(
                    "Basic {}",
                    crate::support::fake::b64(&format!("AWS:{PASSWORD}"))
                );
                let status = if deny.contains(&"registry")
                    || seen.headers.get("authorization") != Some(&expected)
                {
                    403
                } else {
                    200
                };
                Reply::Body(
                    status,
                    "application/vnd.oci.image.manifest.v1+json",
                    "{}".into(),
                )
            }
            other => Reply::aws_error(400, "UnknownOperationException", other),
        }
    })
}

fn check(server: &FakeAws, extra: &[&str]) -> Output {
    let mut run = exec()
        .keys()
        .endpoint(&server.url)
        .arg("check")
        .arg(IMAGE)
        .arg("--registry-endpoint")
        .arg(&server.url)
        .secret(PASSWORD)
        .report();
    for arg in extra {
        run = run.arg(*arg);
    }
    let output = run.run();
    assert!(
        !output.stdout.contains(PASSWORD),
        "the report shows the password: {}",
        output.stdout
    );
    output
}

#[test]
fn passes_when_every_step_of_a_pull_succeeds() {
    let server = world("111122223333", &[]);
    let output = check(&server, &[]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    for needle in [
        "✓ identity    arn:aws:iam::111122223333:user/node",
        "✓ repository",
        "✓ layers",
        "✓ registry",
        "✓ download",
        "result: yes",
    ] {
        assert!(
            output.stdout.contains(needle),
            "{needle}: {}",
            output.stdout
        );
    }
    let manifest_get = server
        .seen()
        .into_iter()
        .find(|s| s.target == "/v2/team/app/manifests/v1")
        .unwrap();
    assert_eq!(manifest_get.method, "GET");
}

#[test]
fn a_token_only_identity_fails_on_batch_get_image_and_is_told_the_fix() {
    let server = world(
        "111122223333",
        &["BatchGetImage", "GetDownloadUrlForLayer", "registry"],
    );
    let output = check(&server, &[]);
    assert_eq!(output.code, Some(1), "{output:#?}");
    let text = &output.stdout;
    for needle in [
        "✓ token",
        "✗ repository  BatchGetImage on arn:aws:ecr:us-west-2:111122223333:repository/team/app failed: AccessDeniedException",
        "a token does not grant pull rights",
        "AmazonEC2ContainerRegistryPullOnly",
        "ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability",
        "✗ registry",
        "result: no: repository failed",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert!(!text.contains("repository policy"), "same account: {text}");
}

#[test]
fn layers_denied_is_told_apart_from_the_manifest() {
    let server = world("111122223333", &["GetDownloadUrlForLayer"]);
    let output = check(&server, &[]);
    assert_eq!(output.code, Some(1));
    assert!(
        output.stdout.contains("✓ repository") && output.stdout.contains("✗ layers"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("may read the manifest but not download its layers"),
        "{}",
        output.stdout
    );
}

#[test]
fn cross_account_denial_asks_for_a_repository_policy_too() {
    let server = world("444455556666", &["BatchGetImage"]);
    let output = check(&server, &["--json"]);
    assert_eq!(output.code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["pullable"], false);
    let repository = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "repository")
        .unwrap();
    assert_eq!(repository["status"], "fail");
    let fix = repository["fix"].as_str().unwrap();
    assert!(
        fix.contains("repository policy") && fix.contains("arn:aws:iam::444455556666:user/node"),
        "{fix}"
    );
}

#[test]
fn no_credentials_stops_early_with_the_reason() {
    let server = world("111122223333", &[]);
    let output = exec()
        .endpoint(&server.url)
        .arg("check")
        .arg(IMAGE)
        .report()
        .run();
    assert_eq!(output.code, Some(1));
    assert!(
        output.stdout.contains("✗ credentials") && output.stdout.contains("instance metadata"),
        "{}",
        output.stdout
    );
    assert!(server.seen().is_empty());
}

#[test]
fn an_unreachable_registry_is_named_with_the_network_fix() {
    let server = world("111122223333", &[]);
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .arg("check")
        .arg(IMAGE)
        .arg("--registry-endpoint")
        .arg("http://127.0.0.1:9")
        .secret(PASSWORD)
        .report()
        .run();
    assert_eq!(output.code, Some(1));
    let text = &output.stdout;
    assert!(
        text.contains("✗ registry    GET http://127.0.0.1:9/v2/team/app/manifests/v1"),
        "{text}"
    );
    assert!(
        text.contains("the registry could not be reached") && text.contains("VPC endpoints"),
        "{text}"
    );
}
