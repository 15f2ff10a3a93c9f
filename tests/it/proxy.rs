//! Proxies, through a recording proxy on loopback: AWS calls go through it, credential
//! endpoints never do, `NO_PROXY` in each of its forms, and what the user sees when the
//! proxy is wrong or says no.

use std::time::Duration;

use crate::support::fake::{
    FakeAws, RecordingProxy, Seen, b64, container_credentials, ecr_token, imds,
};
use crate::support::{V1, exec, request};

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app";
const KEY: &str = "ASIANODEEXAMPLE00001";
const SECRET: &str = "node-secret-EXAMPLE-0123456789abcdefghij";
const SESSION: &str = "node-session-EXAMPLE-IQoJb3JpZ2luX2VjE";
const PROXY_PASSWORD: &str = "pr0xy-pa55word";

fn ecr() -> FakeAws {
    FakeAws::start(|_| ecr_token("pw", Duration::from_secs(3600)))
}

/// `http://node:PASSWORD@host:port` for a proxy at `url`.
fn with_password(url: &str) -> String {
    url.replace("http://", &format!("http://node:{PROXY_PASSWORD}@"))
}

fn operations(seen: &[Seen]) -> Vec<String> {
    seen.iter().map(Seen::operation).collect()
}

#[test]
fn aws_calls_go_through_the_proxy_and_instance_metadata_never_does() {
    let metadata = FakeAws::start(|seen| imds(seen, KEY, SECRET, SESSION));
    let ecr = ecr();
    let proxy = RecordingProxy::start(&ecr.url, "");
    let output = exec()
        .env("AWS_EC2_METADATA_DISABLED", "false")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata.url)
        .env("HTTP_PROXY", with_password(&proxy.url))
        .env("HTTPS_PROXY", with_password(&proxy.url))
        .endpoint(&ecr.url)
        .stdin(request(V1, IMAGE))
        .secret(SECRET)
        .secret(SESSION)
        .secret(PROXY_PASSWORD)
        .run();
    assert_eq!(
        output.json()["auth"][IMAGE.split('/').next().unwrap()]["password"],
        "pw"
    );
    let through = proxy.seen();
    assert_eq!(
        operations(&through),
        ["AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"]
    );
    assert!(
        through[0].target.starts_with(&ecr.url),
        "{:?}",
        through[0].target
    );
    assert_eq!(
        through[0]
            .headers
            .get("proxy-authorization")
            .map(String::as_str),
        Some(format!("Basic {}", b64(&format!("node:{PROXY_PASSWORD}"))).as_str())
    );
    let direct: Vec<_> = metadata.seen().iter().map(|s| s.target.clone()).collect();
    assert!(
        direct.contains(&"/latest/api/token".to_owned()),
        "{direct:?}"
    );
}

#[test]
fn container_credentials_never_go_through_the_proxy() {
    let credentials = FakeAws::start(|_| container_credentials(KEY, SECRET, SESSION));
    let ecr = ecr();
    let proxy = RecordingProxy::start(&ecr.url, "");
    let output = exec()
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials", credentials.url),
        )
        .env("HTTP_PROXY", &proxy.url)
        .endpoint(&ecr.url)
        .stdin(request(V1, IMAGE))
        .secret(SECRET)
        .secret(SESSION)
        .run();
    output.json();
    assert_eq!(credentials.seen().len(), 1);
    assert_eq!(operations(&proxy.seen()).len(), 1);
    assert!(
        proxy
            .seen()
            .iter()
            .all(|s| !s.target.contains("/v1/credentials"))
    );
    let (key, _, _) = ecr.calls("GetAuthorizationToken")[0]
        .signed_scope()
        .unwrap();
    assert_eq!(key, KEY);
}

/// Each form of `NO_PROXY`: does the token call go through the proxy (true) or directly?
#[test]
fn no_proxy_forms() {
    let ecr = ecr();
    let port = ecr.url.rsplit(':').next().unwrap().to_owned();
    let by_ip = ecr.url.clone();
    let by_name = format!("http://localhost:{port}");
    let table: [(&str, &str, &str, bool); 14] = [
        ("NO_PROXY", "", &by_ip, true),
        ("NO_PROXY", "*", &by_ip, false),
        ("NO_PROXY", "127.0.0.1", &by_ip, false),
        ("NO_PROXY", "127.0.0.1:{port}", &by_ip, false),
        ("NO_PROXY", "127.0.0.1:1", &by_ip, true),
        ("NO_PROXY", "127.0.0.0/8", &by_ip, false),
        ("NO_PROXY", "10.0.0.0/8", &by_ip, true),
        ("NO_PROXY", "example.com, 127.0.0.1", &by_ip, false),
        ("no_proxy", "127.0.0.1", &by_ip, false),
        ("NO_PROXY", "localhost", &by_name, false),
        ("NO_PROXY", "localhost:{port}", &by_name, false),
        ("NO_PROXY", "LOCALHOST", &by_name, false),
        // A leading dot (or *.) means subdomains only; a suffix matches at a dot only.
        ("NO_PROXY", ".localhost", &by_name, true),
        ("NO_PROXY", "calhost", &by_name, true),
    ];
    for (variable, value, endpoint, proxied) in table {
        let value = value.replace("{port}", &port);
        let proxy = RecordingProxy::start(&ecr.url, "");
        let before = ecr.calls("GetAuthorizationToken").len();
        let output = exec()
            .keys()
            .env("HTTP_PROXY", &proxy.url)
            .env(variable, &value)
            .endpoint(endpoint)
            .stdin(request(V1, IMAGE))
            .run();
        output.json();
        assert_eq!(ecr.calls("GetAuthorizationToken").len(), before + 1);
        assert_eq!(
            !proxy.seen().is_empty(),
            proxied,
            "{variable}={value:?} {endpoint}: {:?}",
            proxy.seen()
        );
    }
}

/// A proxy that answers CONNECT itself: its answer is named as the proxy's, with its address
/// and never its user:password.
#[test]
fn a_proxys_own_refusal_is_named_as_the_proxys() {
    let table = [
        (
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
            "CONNECT with 502 Bad Gateway",
            "allow the AWS endpoints",
        ),
        (
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n",
            "407 Proxy Authentication Required",
            "USER:PASSWORD",
        ),
    ];
    for (reply, status, fix) in table {
        let proxy = RecordingProxy::start("127.0.0.1:9", reply);
        let address = proxy.url.trim_start_matches("http://");
        let output = exec()
            .keys()
            .env(
                "HTTPS_PROXY",
                format!("http://node:{PROXY_PASSWORD}@{address}"),
            )
            .env("AWS_REGION", "us-west-2")
            .stdin(request(V1, IMAGE))
            .secret(PROXY_PASSWORD)
            .run();
        let line = output.error_line();
        assert!(
            line.contains(&format!("the proxy {} from HTTPS_PROXY", proxy.url))
                && line.contains("api.ecr.us-west-2.amazonaws.com:443")
                && line.contains(status),
            "{line}"
        );
        assert!(output.stderr.contains(fix), "{}", output.stderr);
        let seen = proxy.seen();
        assert_eq!(seen[0].method, "CONNECT");
        assert!(
            seen[0].headers.contains_key("proxy-authorization"),
            "{seen:?}"
        );
        // Not retried: the proxy would say the same again.
        assert!(seen.len() <= 2, "{seen:?}");
    }
}

#[test]
fn a_proxy_that_is_not_there_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let output = exec()
        .keys()
        .env("HTTPS_PROXY", format!("http://{address}"))
        .env("AWS_REGION", "us-west-2")
        .env("AWS_MAX_ATTEMPTS", "1")
        .stdin(request(V1, IMAGE))
        .run();
    let line = output.error_line();
    assert!(
        line.contains(&format!(
            "could not reach the proxy http://{address} from HTTPS_PROXY"
        )),
        "{line}"
    );
}

#[test]
fn a_malformed_proxy_url_is_an_error_naming_the_variable() {
    for (variable, value) in [
        (
            "HTTPS_PROXY",
            format!("http://node:{PROXY_PASSWORD}@proxy:port"),
        ),
        ("https_proxy", "socks5://proxy:1080".to_owned()),
        ("HTTP_PROXY", "http://pro xy:3128".to_owned()),
    ] {
        let output = exec()
            .keys()
            .env(variable, &value)
            .stdin(request(V1, IMAGE))
            .secret(PROXY_PASSWORD)
            .run();
        let line = output.error_line();
        assert!(
            line.contains(&format!("{variable}=")) && line.contains("is not a usable proxy URL"),
            "{line}"
        );
        assert!(output.elapsed < Duration::from_secs(5), "{output:?}");
    }
}
