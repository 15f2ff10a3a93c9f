//! Credentials and region from instance metadata, as most nodes get them, on a loopback IMDS.

use std::time::Duration;

use crate::support::fake::{FakeAws, Reply, ecr_token, imds};
use crate::support::{V1, exec, request};

const KEY: &str = "ASIAIMDSEXAMPLE00001";
const SECRET: &str = "imds-secret-EXAMPLE-0123456789abcdefghij";
const SESSION: &str = "imds-session-EXAMPLE-IQoJb3JpZ2luX2VjE";

#[test]
fn instance_profile_credentials_and_region_come_from_imds() {
    let metadata = FakeAws::start(|seen| imds(seen, KEY, SECRET, SESSION));
    let ecr = FakeAws::start(|_| ecr_token("pw", Duration::from_secs(3600)));
    let output = exec()
        .env("AWS_EC2_METADATA_DISABLED", "false")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata.url)
        .endpoint(&ecr.url)
        .arg("--v=2")
        .stdin(request(V1, "registry.example.com/app"))
        .secret(SECRET)
        .secret(SESSION)
        .run();
    output.json();
    assert!(
        output.stderr.contains("source=instance metadata (IMDS)"),
        "{}",
        output.stderr
    );
    let call = &ecr.calls("GetAuthorizationToken")[0];
    assert_eq!(
        call.signed_scope().unwrap(),
        (KEY.into(), "ap-northeast-1".into(), "ecr".into())
    );
    assert_eq!(
        call.headers.get("x-amz-security-token").map(String::as_str),
        Some(SESSION)
    );
}

#[test]
fn a_metadata_service_that_never_answers_is_bounded_and_explained() {
    let metadata = FakeAws::start(|_| Reply::Hang);
    let output = exec()
        .env("AWS_EC2_METADATA_DISABLED", "false")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata.url)
        .endpoint("http://127.0.0.1:9")
        .arg("--timeout=20s")
        .stdin(request(
            V1,
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/app",
        ))
        .run();
    let line = output.error_line();
    assert!(
        line.contains("credentials") && line.contains("instance metadata"),
        "{line}"
    );
    assert!(output.elapsed < Duration::from_secs(20), "{output:?}");
}
