//! The kubelet path: every request version, region from the host, ECR Public, fallback hosts.

use crate::support::fake::{FakeAws, RefusingProxy, Reply, token_service};
use crate::support::{ACCESS_KEY, Exec, V1, V1ALPHA1, V1BETA1, exec, request};

const PRIVATE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

/// Seconds in a Go duration string of the form XhYmZs.
fn go_seconds(text: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        match c {
            'h' => total += number.parse::<u64>().unwrap() * 3600,
            'm' => total += number.parse::<u64>().unwrap() * 60,
            's' => total += number.parse::<u64>().unwrap(),
            digit => {
                number.push(digit);
                continue;
            }
        }
        number.clear();
    }
    total
}

#[test]
fn answers_each_request_version_in_that_version() {
    let server = token_service();
    for version in [V1, V1BETA1, V1ALPHA1] {
        let output = exec()
            .keys()
            .endpoint(&server.url)
            .stdin(request(version, &format!("{PRIVATE}/team/app")))
            .secret("private-pass")
            .run();
        let response = output.json();
        let keys: Vec<&String> = response.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "apiVersion",
                "auth",
                "cacheDuration",
                "cacheKeyType",
                "kind"
            ]
        );
        assert_eq!(response["kind"], "CredentialProviderResponse");
        assert_eq!(response["apiVersion"], version);
        assert_eq!(response["cacheKeyType"], "Registry");
        assert_eq!(
            response["auth"],
            serde_json::json!({PRIVATE: {"username": "AWS", "password": "private-pass"}})
        );
        // Half of the 12 h left, less the second or two the exchange took.
        let cache = go_seconds(response["cacheDuration"].as_str().unwrap());
        assert!((6 * 3600 - 5..=6 * 3600).contains(&cache), "{response}");
        assert!(
            output.stderr.is_empty(),
            "a quiet success: {}",
            output.stderr
        );
        assert!(output.stdout.ends_with("}\n"));
    }
}

#[test]
fn signs_for_the_region_in_the_host_whatever_the_default_region() {
    let server = token_service();
    for region in ["us-west-2", "eu-central-1", "ap-southeast-2", "cn-north-1"] {
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let image = format!("123456789012.dkr.ecr.{region}.{domain}/app:v1");
        exec()
            .keys()
            .endpoint(&server.url)
            .env("AWS_REGION", "us-east-1")
            .stdin(request(V1, &image))
            .run()
            .json();
        let call = server.calls("GetAuthorizationToken").pop().unwrap();
        let scope = call.signed_scope().unwrap();
        assert_eq!(
            scope,
            (ACCESS_KEY.into(), region.into(), "ecr".into()),
            "{image}"
        );
    }
}

#[test]
fn ecr_public_goes_to_the_public_api_in_us_east_1() {
    let server = token_service();
    for host in ["public.ecr.aws", "ecr-public.aws.com"] {
        let response = exec()
            .keys()
            .env("AWS_ENDPOINT_URL_ECR_PUBLIC", &server.url)
            .env("AWS_REGION", "eu-west-1")
            .stdin(request(V1, &format!("{host}/nginx/nginx")))
            .secret("public-pass")
            .run()
            .json();
        assert_eq!(response["auth"][host]["password"], "public-pass");
        let call = server.calls("GetAuthorizationToken").pop().unwrap();
        assert_eq!(
            call.operation(),
            "SpencerFrontendService.GetAuthorizationToken"
        );
        assert_eq!(call.signed_scope().unwrap().1, "us-east-1");
    }
}

#[test]
fn get_credentials_argument_and_per_service_endpoint_are_honoured() {
    let server = token_service();
    let response = exec()
        .arg("get-credentials")
        .keys()
        .env("AWS_ENDPOINT_URL_ECR", &server.url)
        .stdin(request(V1, &format!("{PRIVATE}/app")))
        .run()
        .json();
    assert_eq!(response["auth"][PRIVATE]["username"], "AWS");
}

#[test]
fn other_hosts_use_the_default_region_with_a_warning() {
    let server = token_service();
    let output = exec()
        .keys()
        .endpoint(&server.url)
        .env("AWS_REGION", "ap-south-1")
        .stdin(request(V1, "registry.example.com:5000/mirror/app"))
        .run();
    let response = output.json();
    assert!(
        response["auth"]["registry.example.com:5000"].is_object(),
        "keyed by host and port: {response}"
    );
    assert!(
        output
            .stderr
            .contains("warning: \"registry.example.com:5000\" is not an ECR host"),
        "{}",
        output.stderr
    );
    assert_eq!(
        server.calls("GetAuthorizationToken")[0]
            .signed_scope()
            .unwrap()
            .1,
        "ap-south-1"
    );
}

#[test]
fn tokens_already_expired_or_without_expiry_are_not_cached() {
    let token = crate::support::fake::b64("AWS:pw");
    for data in [
        serde_json::json!({"authorizationToken": token, "expiresAt": 1_420_070_400}),
        serde_json::json!({"authorizationToken": token}),
    ] {
        let body = serde_json::json!({"authorizationData": [data]});
        let server = FakeAws::start(move |_| Reply::json(200, body.clone()));
        let output = exec()
            .keys()
            .endpoint(&server.url)
            .stdin(request(V1, PRIVATE))
            .run();
        assert_eq!(output.json()["cacheDuration"], "0s", "{data}");
        // An expiry already past says why every pull will exec the provider again.
        let warned = output
            .stderr
            .contains("expiresAt 2015-01-01T00:00:00Z is already past by this node's clock");
        assert_eq!(
            warned,
            data.get("expiresAt").is_some(),
            "{data}: {}",
            output.stderr
        );
    }
}

/// Which endpoint each host leads to, seen as the CONNECT target at a loopback proxy that
/// refuses every tunnel: no request leaves the machine.
#[test]
fn fips_and_dual_stack_hosts_choose_matching_endpoints_unless_configured_otherwise() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let table: [Case; 6] = [
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            &[],
            "api.ecr.us-east-1.amazonaws.com:443",
        ),
        (
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
            &[],
            "api.ecr-fips.us-east-1.amazonaws.com:443",
        ),
        (
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
            &[("AWS_USE_FIPS_ENDPOINT", "false")],
            "api.ecr.us-east-1.amazonaws.com:443",
        ),
        (
            "123456789012.dkr-ecr.us-east-1.on.aws",
            &[],
            "ecr.us-east-1.api.aws:443",
        ),
        (
            "123456789012.dkr-ecr.us-east-1.on.aws",
            &[("AWS_USE_DUALSTACK_ENDPOINT", "false")],
            "api.ecr.us-east-1.amazonaws.com:443",
        ),
        (
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
            &[],
            "api.ecr.cn-north-1.amazonaws.com.cn:443",
        ),
    ];
    for (host, env, expected) in table {
        let proxy = RefusingProxy::start();
        let mut run = exec()
            .keys()
            .env("HTTPS_PROXY", &proxy.url)
            .stdin(request(V1, &format!("{host}/app")));
        for (key, value) in env {
            run = run.env(key, *value);
        }
        let output = run.run();
        output.error_line();
        let targets = proxy.targets();
        assert!(
            !targets.is_empty() && targets.iter().all(|t| t == expected),
            "{host} {env:?}: {targets:?}"
        );
    }
}

/// The token call's connection is made ahead of it, but only once it is sure to be made:
/// a run without credentials connects nowhere.
#[test]
fn without_credentials_nothing_connects_to_the_token_endpoint() {
    let proxy = RefusingProxy::start();
    let output = exec()
        .env("HTTPS_PROXY", &proxy.url)
        .stdin(request(
            V1,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
        ))
        .run();
    assert!(
        output.error_line().contains("credentials"),
        "{}",
        output.error_line()
    );
    assert_eq!(proxy.targets(), Vec::<String>::new());
}

/// Regression: the SDK refuses FIPS with a custom endpoint, so an override must win.
#[test]
fn fips_and_dual_stack_hosts_work_with_an_endpoint_override() {
    let server = token_service();
    for host in [
        "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
        "123456789012.dkr-ecr.us-east-1.on.aws",
    ] {
        for variable in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR"] {
            let response = exec()
                .keys()
                .env(variable, &server.url)
                .stdin(request(V1, &format!("{host}/app")))
                .run()
                .json();
            assert!(
                response["auth"][host].is_object(),
                "{host} {variable}: {response}"
            );
        }
    }
}

/// The key a run signed its token call with, with the profile `node` in its config file and
/// the environment `setup` adds.
fn key_with_profile_and(setup: impl FnOnce(Exec) -> Exec) -> (String, String) {
    let server = token_service();
    let run = exec();
    let config = run.home().join("aws-config");
    std::fs::write(
        &config,
        "[profile node]\naws_access_key_id = AKIAPROFILEEXAMPLE01\naws_secret_access_key = profile-secret-EXAMPLE\n",
    )
    .unwrap();
    let output = setup(run)
        .env("AWS_CONFIG_FILE", config.display().to_string())
        .env("AWS_PROFILE", "node")
        .endpoint(&server.url)
        .arg("--v=2")
        .secret("profile-secret-EXAMPLE")
        .stdin(request(V1, &format!("{PRIVATE}/app")))
        .run();
    output.json();
    let scope = server.calls("GetAuthorizationToken")[0]
        .signed_scope()
        .unwrap();
    (scope.0, output.stderr)
}

/// The default chain's order: keys in the environment before the profile; half a pair of
/// keys there is no keys, and the chain goes on to the profile.
#[test]
fn environment_keys_come_before_the_profile_and_half_a_pair_does_not() {
    let (key, stderr) = key_with_profile_and(Exec::keys);
    assert_eq!(key, ACCESS_KEY);
    assert!(stderr.contains("source=environment variables"), "{stderr}");
    let (key, stderr) = key_with_profile_and(|run| run.env("AWS_ACCESS_KEY_ID", ACCESS_KEY));
    assert_eq!(key, "AKIAPROFILEEXAMPLE01");
    assert!(stderr.contains("source=the AWS profile"), "{stderr}");
}

/// Bottlerocket and hand-built nodes: a named profile from the AWS config files.
#[test]
fn credentials_from_a_named_profile() {
    let (key, stderr) = key_with_profile_and(|run| run);
    assert_eq!(key, "AKIAPROFILEEXAMPLE01");
    assert!(stderr.contains("source=the AWS profile"), "{stderr}");
}
