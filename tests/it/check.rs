//! `check IMAGE` against the loopback stand-in: each way a pull can be refused, told apart.
//! ECR host names reach the stand-in through the debug build's test-only host routes
//! (`ECR_CREDENTIAL_PROVIDER_TEST_HOSTS`), so the registry is probed at the image's own host
//! without `--registry-endpoint`, and never at real AWS.

use std::time::Duration;

use crate::support::fake::{FakeAws, Reply, Seen, b64, public_token, sts_credentials, sts_error};
use crate::support::{Exec, Output, TempDir, exec};

const HOST: &str = "111122223333.dkr.ecr.us-west-2.amazonaws.com";
const IMAGE: &str = "111122223333.dkr.ecr.us-west-2.amazonaws.com/team/app:v1";
const PASSWORD: &str = "registry-password-EXAMPLE";
const BEARER: &str = "bearer-token-EXAMPLE";
const LAYER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const ROLE: &str = "arn:aws:iam::111122223333:role/pod-puller";
const ROLE_KEY: &str = "ASIAPODROLEEXAMPLE01";
const ROLE_SECRET: &str = "pod-role-secret-EXAMPLE-0123456789abcdef";
const ROLE_SESSION: &str = "pod-role-session-EXAMPLE-FwoGZXIvYXdzE";
const ISSUER: &str = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

fn caller(arn: &str, account: &str) -> Reply {
    Reply::Body(
        200,
        "text/xml",
        format!(
            r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDAEXAMPLE</UserId><Account>{account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#
        ),
    )
}

fn manifest() -> String {
    serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": LAYER, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": LAYER, "size": 10}]})
    .to_string()
}

fn image_found() -> Reply {
    Reply::json(
        200,
        serde_json::json!({"images": [{
        "registryId": "111122223333", "repositoryName": "team/app",
        "imageId": {"imageTag": "v1", "imageDigest": "sha256:abc"},
        "imageManifest": manifest(),
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json"}], "failures": []}),
    )
}

/// How the stand-in behaves; by default it says yes to everything.
#[derive(Clone)]
struct World {
    /// The caller's account.
    account: &'static str,
    /// Operations (and `registry`) that are denied.
    deny: &'static [&'static str],
    /// Operations that never answer.
    hang: &'static [&'static str],
    /// Operations that ECR throttles, every time.
    throttle: &'static [&'static str],
    /// The registry challenges for a Bearer token (ECR Public's way) instead of Basic.
    bearer: bool,
    /// The token's expiry, seconds from now (negative: already past).
    expires_in: i32,
    /// No repository, but a pull-through cache rule for `ecr-public/`.
    pull_through: bool,
    /// The layer HEAD redirects to this URL (ECR's way) instead of answering 200.
    redirect: Option<&'static str>,
    /// The Bearer challenge names this realm instead of the registry's own `/token/`.
    realm: Option<String>,
}

impl Default for World {
    fn default() -> Self {
        Self {
            account: "111122223333",
            deny: &[],
            hang: &[],
            throttle: &[],
            bearer: false,
            expires_in: 3600,
            pull_through: false,
            redirect: None,
            realm: None,
        }
    }
}

impl World {
    fn start(self) -> FakeAws {
        FakeAws::start(move |seen: &Seen| self.answer(seen))
    }

    fn answer(&self, seen: &Seen) -> Reply {
        let operation = seen.operation();
        let op = operation.rsplit('.').next().unwrap_or_default();
        if self.hang.contains(&op) {
            return Reply::Hang;
        }
        if self.throttle.contains(&op) {
            return Reply::aws_error(400, "ThrottlingException", "Rate exceeded");
        }
        let account = self.account;
        if self.deny.contains(&op) {
            return Reply::aws_error(
                400,
                "AccessDeniedException",
                &format!(
                    "User: arn:aws:iam::{account}:user/node is not authorized to perform: ecr:{op}"
                ),
            );
        }
        let expires = crate::support::fake::epoch_secs(std::time::SystemTime::now())
            + f64::from(self.expires_in);
        match op {
            "GetCallerIdentity" => caller(&format!("arn:aws:iam::{account}:user/node"), account),
            "AssumeRoleWithWebIdentity" => sts_credentials(ROLE_KEY, ROLE_SECRET, ROLE_SESSION),
            "GetAuthorizationToken" if operation.contains("SpencerFrontendService") => {
                public_token(PASSWORD, Duration::from_secs(3600))
            }
            // The caller's own registry, never the image's: the registry step must not use it.
            "GetAuthorizationToken" => Reply::json(
                200,
                serde_json::json!({"authorizationData": [{
                    "authorizationToken": b64(&format!("AWS:{PASSWORD}")),
                    "expiresAt": expires,
                    "proxyEndpoint": format!("https://{account}.dkr.ecr.us-west-2.amazonaws.com"),
                }]}),
            ),
            "BatchGetImage" if self.pull_through => Reply::aws_error(
                400,
                "RepositoryNotFoundException",
                "The repository with name 'ecr-public/team/app' does not exist in the registry with id '111122223333'",
            ),
            "BatchGetImage" => image_found(),
            "GetDownloadUrlForLayer" => Reply::json(
                200,
                serde_json::json!({"downloadUrl": "https://example.invalid/layer", "layerDigest": LAYER}),
            ),
            "DescribePullThroughCacheRules" => Reply::json(
                200,
                serde_json::json!({"pullThroughCacheRules": [
                    {"ecrRepositoryPrefix": "quay", "upstreamRegistryUrl": "quay.io", "registryId": "111122223333"},
                    {"ecrRepositoryPrefix": "ecr-public", "upstreamRegistryUrl": "public.ecr.aws", "registryId": "111122223333"}]}),
            ),
            _ if seen.target.starts_with("/v2/") && self.hang.contains(&"registry") => Reply::Hang,
            _ if seen.target.starts_with("/token/") => self.token_service(seen),
            _ if seen.target.starts_with("/v2/") => self.registry(seen),
            other => Reply::aws_error(400, "UnknownOperationException", other),
        }
    }

    fn token_service(&self, seen: &Seen) -> Reply {
        let basic = format!("Basic {}", b64(&format!("AWS:{PASSWORD}")));
        if seen.headers.get("authorization") != Some(&basic) || self.deny.contains(&"token") {
            return Reply::Body(401, "application/json", "{}".into());
        }
        Reply::Body(
            200,
            "application/json",
            serde_json::json!({"token": BEARER}).to_string(),
        )
    }

    fn registry(&self, seen: &Seen) -> Reply {
        let expected = if self.bearer {
            format!("Bearer {BEARER}")
        } else {
            format!("Basic {}", b64(&format!("AWS:{PASSWORD}")))
        };
        let authorized = seen.headers.get("authorization") == Some(&expected);
        let host = seen.headers.get("host").cloned().unwrap_or_default();
        if !authorized {
            let challenge = if self.bearer {
                let realm = self
                    .realm
                    .clone()
                    .unwrap_or_else(|| format!("https://{host}/token/"));
                format!(r#"Bearer realm="{realm}",service="{host}",scope="aws""#)
            } else {
                format!(r#"Basic realm="https://{host}/",service="ecr.amazonaws.com""#)
            };
            return Reply::WithHeaders(401, vec![("www-authenticate", challenge)], String::new());
        }
        if seen.target == "/v2/" {
            return Reply::Body(200, "application/json", "{}".into());
        }
        if self.expires_in < 0 && !self.bearer {
            return Reply::Body(401, "application/json", "{}".into());
        }
        if self.deny.contains(&"registry") {
            return Reply::Body(403, "application/json", "{}".into());
        }
        if self.pull_through {
            return Reply::Body(404, "application/json", "{}".into());
        }
        if seen.target.contains("/blobs/")
            && let Some(location) = self.redirect
        {
            return Reply::WithHeaders(307, vec![("location", location.to_owned())], String::new());
        }
        Reply::WithHeaders(
            200,
            vec![
                (
                    "content-type",
                    "application/vnd.oci.image.manifest.v1+json".into(),
                ),
                ("docker-content-digest", "sha256:abc".into()),
            ],
            manifest(),
        )
    }
}

fn world(account: &'static str, deny: &'static [&'static str]) -> FakeAws {
    World {
        account,
        deny,
        ..World::default()
    }
    .start()
}

fn address(server: &FakeAws) -> &str {
    server.url.trim_start_matches("http://")
}

/// `check IMAGE` with every AWS API at `server` and these hosts routed to it too.
fn check_at(server: &FakeAws, image: &str, hosts: &[&str]) -> Exec {
    let routes: Vec<String> = hosts
        .iter()
        .map(|host| format!("{host}={}", address(server)))
        .collect();
    exec()
        .keys()
        .endpoint(&server.url)
        .env("ECR_CREDENTIAL_PROVIDER_TEST_HOSTS", routes.join(","))
        .arg("check")
        .arg(image)
        .secret(PASSWORD)
        .secret(BEARER)
        .report()
}

fn finish(run: Exec) -> Output {
    let output = run.run();
    for secret in [PASSWORD, BEARER, ROLE_SECRET, ROLE_SESSION] {
        assert!(
            !output.stdout.contains(secret),
            "the report shows a secret: {}",
            output.stdout
        );
    }
    output
}

fn check(server: &FakeAws, extra: &[&str]) -> Output {
    let mut run = check_at(server, IMAGE, &[])
        .arg("--registry-endpoint")
        .arg(&server.url);
    for arg in extra {
        run = run.arg(*arg);
    }
    finish(run)
}

#[track_caller]
fn assert_has(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

/// The report with what changes from run to run (ports, times) made stable.
fn stable(text: &str, server: &FakeAws) -> String {
    let mut text = text.replace(address(server), "127.0.0.1:PORT");
    let mut from = 0;
    while let Some(at) = text[from..].find("request id req-") {
        let start = from + at + "request id req-".len();
        let end = text[start..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(text.len(), |n| start + n);
        text.replace_range(start..end, "N");
        from = start;
    }
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match line.find("valid until ") {
            Some(at) => {
                out.push_str(&line[..at + "valid until ".len()]);
                out.push_str("TIME");
                out.push_str(if line.ends_with("\",\n") || line.ends_with("\"\n") {
                    &line[line.rfind('"').unwrap_or(line.len())..]
                } else if line.ends_with('\n') {
                    "\n"
                } else {
                    ""
                });
            }
            None => out.push_str(line),
        }
    }
    out
}

fn step<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {report}"))
}

#[test]
fn passes_when_every_step_of_a_pull_succeeds() {
    let server = world("111122223333", &[]);
    let output = check(&server, &[]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "✓ identity    arn:aws:iam::111122223333:user/node",
            "✓ repository",
            "✓ layers",
            "✓ registry",
            "(Basic login)",
            "✓ download",
            "result: yes",
        ],
    );
    insta::assert_snapshot!("pass_text", stable(&output.stdout, &server));
    let manifest_get = server
        .seen()
        .into_iter()
        .find(|s| s.target == "/v2/team/app/manifests/v1")
        .unwrap();
    assert_eq!(manifest_get.method, "GET");
}

#[test]
fn passes_in_json_too() {
    let server = world("111122223333", &[]);
    let output = check(&server, &["--json"]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    insta::assert_snapshot!("pass_json", stable(&output.stdout, &server));
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
    assert_has(
        text,
        &[
            "✓ token",
            "✗ repository  BatchGetImage on arn:aws:ecr:us-west-2:111122223333:repository/team/app failed: AccessDeniedException",
            "a token does not grant pull rights",
            "AmazonEC2ContainerRegistryPullOnly",
            "ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability",
            "– layers      not tried: repository failed",
            "✗ registry",
            "result: no: repository failed",
        ],
    );
    assert!(!text.contains("repository policy"), "same account: {text}");
    insta::assert_snapshot!("token_only_text", stable(text, &server));
}

#[test]
fn layers_denied_is_told_apart_from_the_manifest() {
    let server = world("111122223333", &["GetDownloadUrlForLayer"]);
    let output = check(&server, &[]);
    assert_eq!(output.code, Some(1));
    assert_has(
        &output.stdout,
        &[
            "✓ repository",
            "✗ layers",
            "may read the manifest but not download its layers",
        ],
    );
}

#[test]
fn cross_account_denial_asks_for_a_repository_policy_too() {
    let server = world("444455556666", &["BatchGetImage"]);
    let output = check(&server, &["--json"]);
    assert_eq!(output.code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["pullable"], false);
    let repository = step(&report, "repository");
    assert_eq!(repository["status"], "fail");
    let fix = repository["fix"].as_str().unwrap();
    assert!(
        fix.contains("repository policy") && fix.contains("arn:aws:iam::444455556666:user/node"),
        "{fix}"
    );
    insta::assert_snapshot!("cross_account_denied_json", stable(&output.stdout, &server));
}

#[test]
fn no_credentials_stops_early_with_the_reason_and_lists_what_was_not_tried() {
    let server = world("111122223333", &[]);
    let output = exec()
        .endpoint(&server.url)
        .arg("check")
        .arg(IMAGE)
        .report()
        .run();
    assert_eq!(output.code, Some(1));
    assert_has(
        &output.stdout,
        &[
            "✗ credentials",
            "instance metadata",
            "– identity    not tried: no credentials",
            "– download    not tried: no credentials",
        ],
    );
    assert!(server.seen().is_empty());
    insta::assert_snapshot!("no_credentials_text", output.stdout);
}

#[test]
fn an_unreachable_registry_is_named_with_the_vpc_endpoint() {
    let server = world("111122223333", &[]);
    let output = finish(
        check_at(&server, IMAGE, &[])
            .arg("--registry-endpoint")
            .arg("http://127.0.0.1:9"),
    );
    assert_eq!(output.code, Some(1));
    assert_has(
        &output.stdout,
        &[
            "✗ registry    GET http://127.0.0.1:9/v2/",
            "no connection to 127.0.0.1",
            "com.amazonaws.us-west-2.ecr.dkr",
            "– download    not tried: registry failed",
        ],
    );
}

#[test]
fn a_cross_account_image_is_probed_at_its_own_host_not_the_token_endpoint() {
    // The caller is 444455556666: GetAuthorizationToken's proxyEndpoint names its registry.
    let server = World {
        account: "444455556666",
        ..World::default()
    }
    .start();
    let output = finish(check_at(&server, IMAGE, &[HOST]));
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_has(
        &output.stdout,
        &[&format!(
            "✓ registry    GET https://{HOST}/v2/team/app/manifests/v1: 200 sha256:abc"
        )],
    );
    let registry: Vec<Seen> = server
        .seen()
        .into_iter()
        .filter(|s| s.target.starts_with("/v2/"))
        .collect();
    assert!(!registry.is_empty());
    for seen in &registry {
        assert_eq!(seen.headers.get("host").map(String::as_str), Some(HOST));
    }
    insta::assert_snapshot!(
        "cross_account_own_host_text",
        stable(&output.stdout, &server)
    );
}

#[test]
fn a_fips_host_is_probed_at_its_own_fips_host() {
    let host = "111122223333.dkr.ecr-fips.us-east-1.amazonaws.com";
    let server = World::default().start();
    let output = finish(check_at(&server, &format!("{host}/team/app:v1"), &[host]));
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "private ECR registry 111122223333 in us-east-1 (aws, FIPS)",
            &format!("✓ registry    GET https://{host}/v2/team/app/manifests/v1: 200"),
        ],
    );
    assert!(
        server
            .seen()
            .iter()
            .filter(|s| s.target.starts_with("/v2/"))
            .all(|s| s.headers.get("host").map(String::as_str) == Some(host))
    );
}

#[test]
fn ecr_public_passes_through_a_bearer_challenge() {
    let host = "public.ecr.aws";
    let server = World {
        bearer: true,
        ..World::default()
    }
    .start();
    let output = finish(check_at(&server, "public.ecr.aws/team/app:v1", &[host]));
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "✓ token       ECR Public GetAuthorizationToken",
            "(Bearer token from https://public.ecr.aws/token/)",
            &format!("✓ download    HEAD https://{host}/v2/team/app/blobs/{LAYER}: 200"),
        ],
    );
    let token_request = server
        .seen()
        .into_iter()
        .find(|s| s.target.starts_with("/token/"))
        .unwrap();
    assert!(
        token_request.target.contains("service=public.ecr.aws")
            && token_request
                .target
                .contains("scope=repository%3Ateam%2Fapp%3Apull"),
        "{}",
        token_request.target
    );
    insta::assert_snapshot!("ecr_public_bearer_text", stable(&output.stdout, &server));
}

#[test]
fn a_refused_bearer_login_is_not_blamed_on_the_clock() {
    let server = World {
        bearer: true,
        deny: &["token"],
        ..World::default()
    }
    .start();
    let output = finish(check_at(
        &server,
        "public.ecr.aws/team/app:v1",
        &["public.ecr.aws"],
    ));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "✗ registry    GET https://public.ecr.aws/token/: HTTP 401",
            "refused the credentials from ECR Public in us-east-1",
            "sts:GetServiceBearerToken",
        ],
    );
    assert!(!output.stdout.contains("clock"), "{}", output.stdout);
}

#[test]
fn the_clock_is_named_only_when_the_token_is_already_expired_by_it() {
    let expired = World {
        expires_in: -600,
        ..World::default()
    }
    .start();
    let output = finish(check_at(&expired, IMAGE, &[HOST]));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "already past by this node's clock",
            "✗ registry",
            "fix:   check the node's clock",
        ],
    );
    let refused = World {
        deny: &["registry"],
        ..World::default()
    }
    .start();
    let output = finish(check_at(&refused, IMAGE, &[HOST]));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert!(!output.stdout.contains("clock"), "{}", output.stdout);
}

#[test]
fn a_host_that_does_not_resolve_names_the_vpc_endpoint() {
    let server = World::default().start();
    let output = finish(check_at(&server, IMAGE, &[]).env(
        "ECR_CREDENTIAL_PROVIDER_TEST_HOSTS",
        format!("{HOST}=unresolvable"),
    ));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            &format!("✗ registry    GET https://{HOST}/v2/: {HOST} does not resolve"),
            &format!("cause: DNS has no address for {HOST}"),
            "interface VPC endpoint com.amazonaws.us-west-2.ecr.dkr",
        ],
    );
    insta::assert_snapshot!(
        "unresolvable_registry_text",
        stable(&output.stdout, &server)
    );
}

#[test]
fn layer_storage_that_does_not_resolve_names_the_s3_gateway() {
    let storage = "prod-us-west-2-starport-layer-bucket.s3.us-west-2.amazonaws.com";
    let server = World {
        redirect: Some(
            "https://prod-us-west-2-starport-layer-bucket.s3.us-west-2.amazonaws.com/layer?X-Amz-Signature=x",
        ),
        ..World::default()
    }
    .start();
    let routes = format!("{HOST}={},{storage}=unresolvable", address(&server));
    let output =
        finish(check_at(&server, IMAGE, &[]).env("ECR_CREDENTIAL_PROVIDER_TEST_HOSTS", routes));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            &format!(
                "✗ download    HEAD https://{HOST}/v2/team/app/blobs/{LAYER}: 307 to {storage}"
            ),
            "S3 gateway endpoint com.amazonaws.us-west-2.s3",
        ],
    );
    // Reachable storage passes.
    let routes = format!("{HOST}={0},{storage}={0}", address(&server));
    let output =
        finish(check_at(&server, IMAGE, &[]).env("ECR_CREDENTIAL_PROVIDER_TEST_HOSTS", routes));
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_has(&output.stdout, &["which is reachable"]);
}

#[test]
fn a_step_that_hangs_times_out_and_the_full_report_still_prints_in_time() {
    for format in ["text", "json"] {
        let server = World {
            hang: &["BatchGetImage"],
            ..World::default()
        }
        .start();
        let mut run = check_at(&server, IMAGE, &[HOST]).arg("--timeout=4s");
        if format == "json" {
            run = run.arg("--json");
        }
        let output = finish(run);
        assert_eq!(output.code, Some(1), "{output:#?}");
        assert!(output.elapsed < Duration::from_secs(4), "{output:#?}");
        if format == "json" {
            let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
            assert_eq!(step(&report, "repository")["status"], "fail");
            assert_eq!(step(&report, "layers")["status"], "skip");
            assert_eq!(step(&report, "registry")["status"], "pass");
            assert_eq!(step(&report, "download")["status"], "pass");
            insta::assert_snapshot!("timeout_json", stable(&output.stdout, &server));
        } else {
            assert_has(
                &output.stdout,
                &[
                    "✗ repository  timed out after 1s waiting for ECR BatchGetImage in us-west-2 at http://",
                    "com.amazonaws.us-west-2.ecr.api",
                    "– layers      not tried: repository failed",
                    "✓ registry",
                    "result: no: repository failed",
                ],
            );
            insta::assert_snapshot!("timeout_text", stable(&output.stdout, &server));
        }
    }
}

/// A throttled token call retries inside the token step's share of the deadline, not the run's,
/// so the step names ECR's ThrottlingException instead of timing out (issue 23).
#[test]
fn a_throttled_token_step_names_the_throttling_not_a_timeout() {
    let server = World {
        throttle: &["GetAuthorizationToken"],
        ..World::default()
    }
    .start();
    let output = finish(check_at(&server, IMAGE, &[HOST]).arg("--timeout=8s"));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &["✗ token", "ThrottlingException", "– registry    not tried"],
    );
    assert_eq!(server.calls("GetAuthorizationToken").len(), 3);
}

#[test]
fn a_registry_that_never_answers_times_out_with_the_registry_route() {
    let server = World {
        hang: &["registry"],
        ..World::default()
    }
    .start();
    let output = finish(check_at(&server, IMAGE, &[HOST]).arg("--timeout=6s"));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert!(output.elapsed < Duration::from_secs(6), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            &format!(
                "✗ registry    timed out after 1.425s waiting for the registry at https://{HOST}/v2/"
            ),
            "com.amazonaws.us-west-2.ecr.dkr",
            "– download    not tried: registry failed",
        ],
    );
}

#[test]
fn every_step_hanging_still_yields_the_report_within_the_deadline() {
    let server = World {
        hang: &[
            "GetCallerIdentity",
            "GetAuthorizationToken",
            "BatchGetImage",
        ],
        ..World::default()
    }
    .start();
    let output = finish(check_at(&server, IMAGE, &[HOST]).arg("--timeout=3s"));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert!(output.elapsed < Duration::from_secs(3), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "✗ identity    timed out after",
            "✗ token       timed out after",
            "– registry    not tried: no token",
            "result: no: identity failed",
        ],
    );
}

#[test]
fn a_pull_through_cache_repository_names_the_import_actions() {
    let image = "111122223333.dkr.ecr.us-west-2.amazonaws.com/ecr-public/team/app:v1";
    let server = World {
        pull_through: true,
        ..World::default()
    }
    .start();
    let output = finish(check_at(&server, image, &[HOST]));
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "– repository  there is no repository ecr-public/team/app in registry 111122223333 yet: the pull-through cache rule for ecr-public/ (public.ecr.aws) creates it on the first pull",
            "ecr:BatchImportUpstreamImage",
            "ecr:CreateRepository",
            "arn:aws:ecr:us-west-2:111122223333:repository/ecr-public/*",
            "✗ registry",
        ],
    );
    assert_eq!(server.calls("DescribePullThroughCacheRules").len(), 1);
    insta::assert_snapshot!("pull_through_text", stable(&output.stdout, &server));
}

fn jwt() -> String {
    use base64::Engine as _;
    let encode = |json: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        encode(serde_json::json!({"alg": "RS256", "kid": "k"})),
        encode(
            serde_json::json!({"iss": ISSUER, "sub": "system:serviceaccount:shop:cart", "aud": ["sts.amazonaws.com"]})
        )
    )
}

fn token_file(dir: &TempDir) -> String {
    let path = dir.0.join("token");
    std::fs::write(&path, format!("{}\n", jwt())).unwrap();
    path.display().to_string()
}

#[test]
fn a_pod_role_is_assumed_and_used_for_every_step() {
    let server = World::default().start();
    let dir = TempDir::new();
    let output = finish(
        check_at(&server, IMAGE, &[HOST])
            .arg("--service-account-token-file")
            .arg(token_file(&dir))
            .arg("--role-arn")
            .arg(ROLE)
            .secret(jwt()),
    );
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            &format!(
                "✓ role        {ROLE}, from annotation eks.amazonaws.com/ecr-role-arn; token for system:serviceaccount:shop:cart (audience sts.amazonaws.com"
            ),
            &format!("✓ credentials assumed role {ROLE}"),
        ],
    );
    let sts = server.calls("AssumeRoleWithWebIdentity");
    assert_eq!(sts.len(), 1);
    assert_eq!(sts[0].form("WebIdentityToken"), Some(jwt()));
    for call in [
        "GetCallerIdentity",
        "BatchGetImage",
        "GetAuthorizationToken",
    ] {
        let seen = server.calls(call);
        assert_eq!(
            seen[0].signed_scope().map(|s| s.0).as_deref(),
            Some(ROLE_KEY),
            "{call}"
        );
    }
}

#[test]
fn a_refused_pod_role_names_the_trust_policy_condition() {
    let server = FakeAws::start(|seen: &Seen| {
        if seen.operation() == "AssumeRoleWithWebIdentity" {
            sts_error(
                403,
                "AccessDenied",
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            )
        } else {
            Reply::aws_error(400, "UnknownOperationException", "x")
        }
    });
    let dir = TempDir::new();
    let output = finish(
        check_at(&server, IMAGE, &[HOST])
            .arg("--service-account-token-file")
            .arg(token_file(&dir))
            .arg("--role-arn")
            .arg(ROLE)
            .secret(jwt()),
    );
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "✗ credentials STS AssumeRoleWithWebIdentity for role arn:aws:iam::111122223333:role/pod-puller in us-west-2 failed: AccessDenied",
            "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
            r#""oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub":"system:serviceaccount:shop:cart""#,
            r#""oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:aud":"sts.amazonaws.com""#,
            "– identity    not tried: no credentials",
        ],
    );
    insta::assert_snapshot!("pod_role_refused_text", stable(&output.stdout, &server));
}

#[test]
fn an_empty_role_annotation_means_node_credentials_not_the_env_role() {
    let server = World::default().start();
    let dir = TempDir::new();
    let output = finish(
        check_at(&server, IMAGE, &[HOST])
            .env("AWS_ECR_ROLE_ARN", ROLE)
            .arg("--service-account-token-file")
            .arg(token_file(&dir))
            .arg("--role-arn=")
            .secret(jwt()),
    );
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "✓ role        node credentials, from annotation eks.amazonaws.com/ecr-role-arn is present but empty: node credentials, not AWS_ECR_ROLE_ARN",
        ],
    );
    assert!(server.calls("AssumeRoleWithWebIdentity").is_empty());
    // Without the annotation, the env role is the one.
    let output = finish(
        check_at(&server, IMAGE, &[HOST])
            .env("AWS_ECR_ROLE_ARN", ROLE)
            .arg("--service-account-token-file")
            .arg(token_file(&dir))
            .secret(jwt()),
    );
    assert_has(
        &output.stdout,
        &[&format!(
            "✓ role        {ROLE}, from AWS_ECR_ROLE_ARN (no role annotation)"
        )],
    );
}

#[test]
fn an_unreadable_token_file_is_one_line() {
    let output = exec()
        .arg("check")
        .arg(IMAGE)
        .arg("--service-account-token-file")
        .arg("/nonexistent/token")
        .run();
    assert_eq!(
        output.error_line(),
        "ecr-credential-provider: error: could not read the service-account token file /nonexistent/token (from --service-account-token-file): No such file or directory (os error 2)"
    );
}

/// Every CredentialProviderConfig under examples/, at any depth.
fn example_configs() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if std::fs::read_to_string(&path).is_ok_and(|text| {
                text.contains("kind: CredentialProviderConfig")
                    || text.contains("\"kind\": \"CredentialProviderConfig\"")
            }) {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &mut found,
    );
    found.sort();
    found
}

#[test]
fn check_config_runs_as_the_provider_every_example_config_picks() {
    let configs = example_configs();
    assert!(configs.len() >= 3, "{configs:?}");
    let server = World::default().start();
    for config in &configs {
        let output = finish(
            check_at(&server, IMAGE, &[HOST])
                .arg("--config")
                .arg(config.display().to_string()),
        );
        let text = &output.stdout;
        assert_has(
            text,
            &[
                "✓ config      the kubelet execs ",
                "(matchImages *.dkr.ecr.*.amazonaws.com, credentialprovider.kubelet.k8s.io/v1",
                "✓ image       team/app:v1",
                "result: ",
            ],
        );
        // A config whose env names a profile of its own node (hybrid nodes) is checked with it:
        // where this machine has no such profile, the check says so.
        let own_profile = std::fs::read_to_string(config)
            .unwrap()
            .contains("AWS_PROFILE");
        if text.contains("✓ credentials") {
            assert_eq!(output.code, Some(0), "{}: {output:#?}", config.display());
        } else {
            assert!(own_profile, "{}: {text}", config.display());
            assert_has(
                text,
                &["✗ credentials could not load AWS credentials: profile"],
            );
        }
        if std::fs::read_to_string(config)
            .unwrap()
            .contains("serviceAccountTokenAudience")
        {
            assert_has(
                text,
                &["it gets the pod's service-account token (audience sts.amazonaws.com)"],
            );
        }
    }
    let kops = configs
        .iter()
        .find(|c| c.display().to_string().contains("kops"))
        .unwrap();
    let output = finish(
        check_at(&server, "public.ecr.aws/team/app:v1", &["public.ecr.aws"])
            .arg("--config")
            .arg(kops.display().to_string()),
    );
    assert_has(
        &output.stdout,
        &[
            "✓ config      the kubelet execs ecr-credential-provider (matchImages public.ecr.aws, credentialprovider.kubelet.k8s.io/v1) with args get-credentials, env AWS_REGION=us-east-1",
        ],
    );
}

#[test]
fn check_config_whose_globs_cannot_match_says_no_provider_runs() {
    let dir = TempDir::new();
    let path = dir.0.join("config.yaml");
    std::fs::write(
        &path,
        r#"apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages:
      - "*.amazonaws.com"
      - "111122223333.dkr.ecr.us-west-2.amazonaws.com:443"
    defaultCacheDuration: "12h0m0s"
"#,
    )
    .unwrap();
    let server = World::default().start();
    let output = finish(
        check_at(&server, IMAGE, &[HOST])
            .arg("--config")
            .arg(path.display().to_string()),
    );
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            &format!(
                "✗ config      no provider in {} matches {HOST}",
                path.display()
            ),
            "`*.amazonaws.com` matches no ECR host",
            "– credentials not tried: no provider matches",
            "result: no: config failed",
        ],
    );
    assert!(server.seen().is_empty(), "nothing is asked of AWS");
    let text = output.stdout.replace(&path.display().to_string(), "CONFIG");
    insta::assert_snapshot!("config_no_match_text", text);
}

/// A registry that is not ECR: no pattern is the right state, and the advice says where the
/// token would go if one matched it (issue 19: it suggested `ghcr.io` itself).
#[test]
fn check_config_for_a_registry_that_is_not_ecr_says_where_the_token_would_go() {
    let dir = TempDir::new();
    let path = dir.0.join("config.yaml");
    std::fs::write(&path, exec().arg("config").run().stdout).unwrap();
    let server = World::default().start();
    let output = finish(
        check_at(&server, "ghcr.io/a/b:v1", &[])
            .arg("--config")
            .arg(path.display().to_string()),
    );
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "cause: ghcr.io is not an ECR registry: matching a host that is not ECR's sends the node's ECR token to it, unless containerd mirrors that host to ECR",
            "only then add `ghcr.io` to matchImages",
        ],
    );
    assert!(
        !output.stdout.contains("such as `ghcr.io`"),
        "{}",
        output.stdout
    );
    assert!(server.seen().is_empty(), "nothing is asked of AWS");
    let text = output.stdout.replace(&path.display().to_string(), "CONFIG");
    insta::assert_snapshot!("config_not_ecr_text", text);
}

#[test]
fn check_config_runs_with_the_providers_env() {
    // The node has no keys; the provider's env in the config has them.
    let dir = TempDir::new();
    let path = dir.0.join("config.json");
    let server = World::default().start();
    let config = serde_json::json!({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
        "providers": [{"name": "ecr-credential-provider", "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
            "matchImages": ["*.dkr.ecr.*.amazonaws.com"], "defaultCacheDuration": "12h",
            "env": [{"name": "AWS_ACCESS_KEY_ID", "value": crate::support::ACCESS_KEY},
                    {"name": "AWS_SECRET_ACCESS_KEY", "value": crate::support::SECRET_KEY}]}]});
    std::fs::write(&path, config.to_string()).unwrap();
    let routes = format!("{HOST}={}", address(&server));
    let output = finish(
        exec()
            .endpoint(&server.url)
            .env("ECR_CREDENTIAL_PROVIDER_TEST_HOSTS", routes)
            .arg("check")
            .arg(IMAGE)
            .arg("--config")
            .arg(path.display().to_string())
            .arg("--json")
            .report(),
    );
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert!(
        !output.stdout.contains(crate::support::SECRET_KEY),
        "{}",
        output.stdout
    );
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["pullable"], true);
    assert!(
        step(&report, "config")["detail"]
            .as_str()
            .unwrap()
            .contains("AWS_SECRET_ACCESS_KEY=** redacted **"),
        "{report}"
    );
    assert!(
        step(&report, "credentials")["detail"]
            .as_str()
            .unwrap()
            .starts_with("environment variables"),
        "{report}"
    );
}

#[test]
fn check_config_the_kubelet_would_refuse_stops_there() {
    let dir = TempDir::new();
    let path = dir.0.join("config.yaml");
    // No defaultCacheDuration, and a field in the wrong case: the kubelet would not start.
    std::fs::write(
        &path,
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: ecr-credential-provider\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    matchimages: [\"*.dkr.ecr.*.amazonaws.com\"]\n",
    )
    .unwrap();
    let server = World::default().start();
    let output = finish(
        check_at(&server, IMAGE, &[HOST])
            .arg("--config")
            .arg(path.display().to_string()),
    );
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert_has(
        &output.stdout,
        &[
            "✗ config      ",
            "the kubelet would refuse this credential provider config",
            "– credentials not tried: no config",
        ],
    );
    assert!(server.seen().is_empty());
}

/// Issue 19: the node's ECR token goes to ECR only. An image on any other host gets no
/// registry step at all: nothing is sent to it, with or without a login asked.
#[test]
fn a_registry_that_is_not_ecr_is_not_sent_the_token() {
    let aws = World::default().start();
    let registry = FakeAws::start(|_| {
        Reply::WithHeaders(
            401,
            vec![("www-authenticate", r#"Basic realm="registry""#.into())],
            String::new(),
        )
    });
    let local = format!("{}/app:v1", address(&registry));
    for (image, routed) in [
        (local.as_str(), ""),
        ("docker.io/library/nginx:latest", "docker.io"),
        ("ghcr.io/a/b:v1", "ghcr.io"),
    ] {
        let output = finish(
            check_at(&aws, image, &[])
                .env("AWS_REGION", "us-west-2")
                .env(
                    "ECR_CREDENTIAL_PROVIDER_TEST_HOSTS",
                    format!("{routed}={}", address(&registry)),
                ),
        );
        assert_eq!(output.code, Some(1), "{output:#?}");
        assert_has(
            &output.stdout,
            &[
                "✓ token",
                "– registry    not an ECR registry: not tried",
                "is neither a private ECR nor an ECR Public host, and the node's ECR token goes to ECR only",
                "– download    not tried: not an ECR registry",
                "result: not shown: the registry was not reached",
            ],
        );
        assert!(registry.seen().is_empty(), "{image}: {:?}", registry.seen());
        if routed.is_empty() {
            let text =
                stable(&output.stdout, &aws).replace(address(&registry), "127.0.0.1:REGISTRY");
            insta::assert_snapshot!("not_ecr_text", text);
        }
    }
}

/// Issue 19: a Bearer challenge sends the token only to https on the registry's own host or to
/// ECR Public's token service; a realm anywhere else gets nothing, and the report says why.
#[test]
fn a_bearer_realm_elsewhere_is_not_sent_the_token() {
    let other = FakeAws::start(|_| {
        Reply::Body(
            200,
            "application/json",
            serde_json::json!({"token": BEARER}).to_string(),
        )
    });
    let elsewhere = format!("http://{}/token", address(&other));
    for (image, host, realm) in [
        (IMAGE, HOST, elsewhere.clone()),
        (
            "public.ecr.aws/team/app:v1",
            "public.ecr.aws",
            elsewhere.clone(),
        ),
        (IMAGE, HOST, format!("http://{HOST}/token/")),
        (IMAGE, HOST, "https://auth.docker.io/token".to_owned()),
        (
            "public.ecr.aws/team/app:v1",
            "public.ecr.aws",
            "https://auth.docker.io/token".to_owned(),
        ),
    ] {
        let server = World {
            bearer: true,
            realm: Some(realm.clone()),
            ..World::default()
        }
        .start();
        let routes = format!(
            "{host}={},auth.docker.io={}",
            address(&server),
            address(&other)
        );
        let output =
            finish(check_at(&server, image, &[]).env("ECR_CREDENTIAL_PROVIDER_TEST_HOSTS", routes));
        assert_eq!(output.code, Some(1), "{output:#?}");
        assert_has(
            &output.stdout,
            &[
                &format!(
                    "✗ registry    GET https://{host}/v2/: HTTP 401, a Bearer login at {realm}: not sent"
                ),
                "which is neither https on the registry's own host nor ECR Public's token service",
                "– download    not tried: registry failed",
            ],
        );
        assert!(other.seen().is_empty(), "{realm}: {:?}", other.seen());
        // The registry itself was pinged, and asked nothing with the token either.
        let registry: Vec<Seen> = server
            .seen()
            .into_iter()
            .filter(|s| s.signed_scope().is_none())
            .collect();
        assert!(
            !registry.is_empty()
                && registry
                    .iter()
                    .all(|s| s.target == "/v2/" && !s.headers.contains_key("authorization")),
            "{realm}: {registry:?}"
        );
    }
}

/// Issue 19: `--registry-endpoint` in plain http is for a stand-in on this machine only.
#[test]
fn a_plain_http_registry_endpoint_off_loopback_is_a_usage_error() {
    let server = World::default().start();
    for endpoint in ["http://10.0.0.1:5000", "http://registry.example"] {
        let output = check_at(&server, IMAGE, &[])
            .arg("--registry-endpoint")
            .arg(endpoint)
            .run();
        assert_eq!(output.code, Some(2), "{output:#?}");
        assert!(output.stdout.is_empty(), "{output:#?}");
        assert_eq!(output.stderr.lines().count(), 1, "{output:#?}");
        assert!(
            output.error_line().starts_with(&format!(
                "ecr-credential-provider: error: --registry-endpoint \"{endpoint}\": plain http:// sends the ECR token in clear, so only to a loopback address"
            )),
            "{output:#?}"
        );
    }
    assert!(server.seen().is_empty());
}
