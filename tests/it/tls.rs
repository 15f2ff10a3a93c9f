//! TLS handshakes through the provider's own connector, against servers with certificates
//! made in the test: each certificate it must refuse, directly and through proxies, refused
//! with its one line before any request is sent; and the same servers with their CA trusted
//! through AWS_CA_BUNDLE answered, so that each refusal is the certificate's doing.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::support::fake::{Reply, Seen, ecr_token};
use crate::support::tls::{Ca, TlsServer, Validity, https, inspecting_proxy};
use crate::support::{Output, TempDir, V1, exec, request};

const REGISTRY: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
/// The ECR API host the token call goes to, which a proxy is asked to tunnel to.
const ECR_API: &str = "api.ecr.us-west-2.amazonaws.com";
const TOKEN_CALL: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

fn ecr(_: &Seen) -> Reply {
    ecr_token("pw", Duration::from_secs(3600))
}

/// One kubelet-path run trusting the system's roots and `trusted`, with `env`.
fn run(trusted: &Ca, env: &[(&str, &str)]) -> Output {
    let dir = TempDir::new();
    let mut run = exec()
        .keys()
        .env(
            "AWS_CA_BUNDLE",
            trusted.bundle(&dir.0).display().to_string(),
        )
        .arg("--timeout=10s")
        .stdin(request(V1, &format!("{REGISTRY}/app")));
    for (key, value) in env {
        run = run.env(key, *value);
    }
    run.run()
}

/// The password answered, after checking the run succeeded.
#[track_caller]
fn password(output: &Output) -> String {
    output.json()["auth"][REGISTRY]["password"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A refused run's one line, with the server's port as `PORT` and the clock's seconds as `N`,
/// after checking it failed as a kubelet needs: exit 1, nothing on stdout (`exec` checks it),
/// one line on stderr, no request past the handshake.
#[track_caller]
fn refusal(output: &Output, server: &TlsServer) -> String {
    assert_eq!(output.code, Some(1), "{output:#?}");
    let line = output.error_line();
    assert_eq!(output.stderr.lines().count(), 1, "{output:#?}");
    assert!(
        server.seen().is_empty(),
        "a request got through: {output:#?}"
    );
    let port = server.url.rsplit_once(':').map_or("", |(_, port)| port);
    without_times(&line.replace(&format!(":{port}"), ":PORT"))
}

/// `line` without the clock's seconds: rustls names the time of a validity check.
fn without_times(line: &str) -> String {
    let clock =
        regex::Regex::new(r"verification time [0-9]+|\([0-9]+ seconds (ago|in future)\)").unwrap();
    clock
        .replace_all(line, |found: &regex::Captures| match found.get(1) {
            Some(when) => format!("(N seconds {})", when.as_str()),
            None => "verification time N".to_owned(),
        })
        .into_owned()
}

/// How the server's handshakes ended (each distinct end once): the client's alert says what
/// it refused. Waits for the first, which its thread may record after the client is gone.
fn handshake_ends(server: &TlsServer) -> String {
    let started = Instant::now();
    while server.handshakes().is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut ends = server.handshakes();
    ends.dedup();
    ends.join(", ")
}

/// The hint for a certificate out of its dates.
const CLOCK: &str =
    "hint: check the node's clock (timedatectl), then the server's certificate dates";

/// A certificate the provider must refuse: where it is, and what the line must say.
struct Refused {
    case: &'static str,
    server: TlsServer,
    /// `AWS_ENDPOINT_URL` for the endpoint itself, `HTTPS_PROXY` for a proxy.
    variable: &'static str,
    /// The cause, and the hint where it is right.
    says: &'static [&'static str],
    never: &'static [&'static str],
}

/// Each certificate to refuse, from `stranger` when it is untrusted, else from `trusted`.
fn refused_certificates(trusted: &Ca, stranger: &Ca) -> Vec<Refused> {
    let endpoint = |validity, ca: &Ca, names: &[&str]| https(ca.server(names, validity), ecr);
    vec![
        Refused {
            case: "untrusted CA",
            server: endpoint(Validity::Now, stranger, &["127.0.0.1"]),
            variable: "AWS_ENDPOINT_URL",
            says: &[
                "UnknownIssuer",
                "hint: the endpoint's TLS certificate is not trusted: point AWS_CA_BUNDLE at the CA that signed the endpoint's certificate",
            ],
            never: &[],
        },
        Refused {
            case: "a certificate for another name (localhost, not the address 127.0.0.1)",
            server: endpoint(Validity::Now, trusted, &["localhost"]),
            variable: "AWS_ENDPOINT_URL",
            says: &[
                "certificate not valid for name \"127.0.0.1\"",
                "localhost",
                "hint: the certificate is not issued for the name dialled: use a name it is issued for in AWS_ENDPOINT_URL*",
            ],
            never: &["not trusted", "AWS_CA_BUNDLE"],
        },
        Refused {
            case: "expired certificate",
            server: endpoint(Validity::Expired, trusted, &["127.0.0.1"]),
            variable: "AWS_ENDPOINT_URL",
            says: &["certificate expired", "not valid after 1609459200", CLOCK],
            never: &["not trusted", "AWS_CA_BUNDLE"],
        },
        Refused {
            case: "certificate not valid yet (a clock far behind)",
            server: endpoint(Validity::NotYet, trusted, &["127.0.0.1"]),
            variable: "AWS_ENDPOINT_URL",
            says: &["certificate not valid yet", CLOCK],
            never: &["not trusted", "AWS_CA_BUNDLE"],
        },
        Refused {
            case: "https proxy with an untrusted certificate",
            server: inspecting_proxy(
                trusted.clone(),
                Some(stranger.server(&["127.0.0.1"], Validity::Now)),
                ecr,
            ),
            variable: "HTTPS_PROXY",
            says: &[
                "could not reach the proxy https://127.0.0.1:PORT from HTTPS_PROXY to connect to api.ecr.us-west-2.amazonaws.com:443",
                "its TLS certificate is not trusted (invalid peer certificate: UnknownIssuer)",
                "point AWS_CA_BUNDLE at the CA certificate that signed the proxy's",
            ],
            never: &[],
        },
        Refused {
            case: "https proxy with an expired certificate",
            server: inspecting_proxy(
                trusted.clone(),
                Some(trusted.server(&["127.0.0.1"], Validity::Expired)),
                ecr,
            ),
            variable: "HTTPS_PROXY",
            says: &[
                "the proxy https://127.0.0.1:PORT from HTTPS_PROXY",
                "its TLS certificate has expired (invalid peer certificate: certificate expired",
                "hint: check the node's clock (timedatectl), then the proxy's certificate dates",
            ],
            never: &["not trusted", "AWS_CA_BUNDLE"],
        },
        Refused {
            case: "https proxy with a certificate for another name",
            server: inspecting_proxy(
                trusted.clone(),
                Some(trusted.server(&["localhost"], Validity::Now)),
                ecr,
            ),
            variable: "HTTPS_PROXY",
            says: &[
                "the proxy https://127.0.0.1:PORT from HTTPS_PROXY",
                "its TLS certificate is not issued for the proxy's name (invalid peer certificate: certificate not valid for name \"127.0.0.1\"",
                "hint: use a name the proxy's certificate is issued for in HTTPS_PROXY",
            ],
            never: &["not trusted", "AWS_CA_BUNDLE"],
        },
        Refused {
            case: "TLS-inspecting proxy whose CA is not trusted",
            server: inspecting_proxy(stranger.clone(), None, ecr),
            variable: "HTTPS_PROXY",
            says: &[
                "could not reach the endpoint at https://api.ecr.us-west-2.amazonaws.com",
                "UnknownIssuer",
                "behind a TLS-inspecting proxy, point AWS_CA_BUNDLE at the proxy's CA certificate",
            ],
            never: &["could not reach the proxy", "check HTTPS_PROXY"],
        },
    ]
}

#[test]
fn each_refused_certificate_has_its_line() {
    let trusted = Ca::new("trusted test CA");
    let cases = refused_certificates(&trusted, &Ca::new("untrusted test CA"));
    // Side by side, the runs take as long as the slowest.
    let lines: Vec<(String, String)> = std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|refused| {
                scope.spawn(|| {
                    let output = run(&trusted, &[(refused.variable, &refused.server.url)]);
                    (
                        refusal(&output, &refused.server),
                        handshake_ends(&refused.server),
                    )
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let mut table = String::new();
    for (refused, (line, ends)) in cases.iter().zip(lines) {
        for needle in refused.says {
            assert!(
                line.contains(needle),
                "{}: {needle:?} missing in {line}",
                refused.case
            );
        }
        for needle in refused.never {
            assert!(
                !line.contains(needle),
                "{}: {needle:?} in {line}",
                refused.case
            );
        }
        let _ = writeln!(
            table,
            "{}:\n  {line}\n  (the server's end: {ends})",
            refused.case
        );
    }
    insta::assert_snapshot!("tls_refusals", table);
}

/// A refused certificate is not a passing fault: the provider does not retry the handshake
/// (the SDK would, twice more, for a broken connection).
#[test]
fn a_refused_endpoint_certificate_is_tried_once() {
    let trusted = Ca::new("trusted test CA");
    let stranger = Ca::new("untrusted test CA");
    let servers = [
        (
            "untrusted CA",
            https(stranger.server(&["127.0.0.1"], Validity::Now), ecr),
        ),
        (
            "wrong name",
            https(trusted.server(&["localhost"], Validity::Now), ecr),
        ),
        (
            "expired",
            https(trusted.server(&["127.0.0.1"], Validity::Expired), ecr),
        ),
    ];
    std::thread::scope(|scope| {
        for (case, server) in &servers {
            let trusted = &trusted;
            scope.spawn(move || {
                let output = run(trusted, &[("AWS_ENDPOINT_URL", &server.url)]);
                refusal(&output, server);
                // The run is over, so every handshake was begun; the server records each end
                // on its own thread, a moment later.
                handshake_ends(server);
                std::thread::sleep(Duration::from_millis(200));
                let ends = server.handshakes();
                assert_eq!(ends.len(), 1, "{case}: {ends:?}");
            });
        }
    });
}

#[test]
fn an_endpoint_whose_ca_is_trusted_answers() {
    let ca = Ca::new("trusted test CA");
    let server = https(ca.server(&["127.0.0.1"], Validity::Now), ecr);
    let output = run(&ca, &[("AWS_ENDPOINT_URL", &server.url)]);
    assert_eq!(password(&output), "pw");
    let calls = server.calls("GetAuthorizationToken");
    assert_eq!(calls.len(), 1, "{:?}", server.seen());
    assert_eq!(calls[0].operation(), TOKEN_CALL);
}

#[test]
fn a_tls_inspecting_proxy_whose_ca_is_trusted_answers() {
    let ca = Ca::new("proxy's inspection CA");
    let proxy = inspecting_proxy(ca.clone(), None, ecr);
    let output = run(&ca, &[("HTTPS_PROXY", &proxy.url)]);
    assert_eq!(password(&output), "pw");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].headers.get("host").map(String::as_str),
        Some(ECR_API)
    );
}

#[test]
fn an_https_proxy_whose_ca_is_trusted_tunnels() {
    let ca = Ca::new("trusted test CA");
    let proxy = inspecting_proxy(
        ca.clone(),
        Some(ca.server(&["127.0.0.1"], Validity::Now)),
        ecr,
    );
    let output = run(&ca, &[("HTTPS_PROXY", &proxy.url)]);
    assert_eq!(password(&output), "pw");
    assert_eq!(proxy.calls("GetAuthorizationToken").len(), 1);
}
