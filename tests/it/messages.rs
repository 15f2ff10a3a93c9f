//! The messages a newcomer meets (issue 14): one style, one line per failed run, and a hint
//! that points the right way for each kind of trouble.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::support::fake::{FakeAws, Reply, b64, imds};
use crate::support::{V1, exec, request};

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app";
const VPC: &str = "security groups";
const NOT_ECR: &str = "the endpoint answered, but not like ECR";

/// A loopback server that reads a request's head, then does `answer` with the connection.
fn raw_server(answer: fn(&mut TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                // Read the body too: closing on unread bytes would reset the connection.
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .unwrap_or(0);
                let _ = std::io::copy(&mut (&mut stream).take(length), &mut std::io::sink());
                answer(&mut stream);
                std::thread::sleep(Duration::from_secs(5));
            });
        }
    });
    url
}

/// One failed run against `endpoint`: its one line.
#[track_caller]
fn failure(endpoint: &str) -> String {
    let output = exec()
        .keys()
        .endpoint(endpoint)
        .env("AWS_MAX_ATTEMPTS", "1")
        .arg("--timeout=4s")
        .stdin(request(V1, IMAGE))
        .run();
    assert_eq!(output.code, Some(1), "{output:?}");
    assert_eq!(output.stderr.lines().count(), 1, "{output:?}");
    assert!(output.elapsed < Duration::from_secs(10), "{output:?}");
    let line = output.error_line().to_owned();
    assert!(
        line.starts_with("ecr-credential-provider: error: "),
        "{line}"
    );
    line
}

#[test]
fn answers_that_are_not_ecr_get_the_not_ecr_hint() {
    let token = b64("AWS:pw");
    let cases: Vec<(&str, FakeAws)> = vec![
        (
            "a 200 that is not JSON",
            FakeAws::start(|_| Reply::Body(200, "text/html", "<html>portal</html>".into())),
        ),
        (
            "expiresAt NaN",
            FakeAws::start(move |_| {
                Reply::Body(
                    200,
                    "application/x-amz-json-1.1",
                    format!(
                        r#"{{"authorizationData":[{{"authorizationToken":"{token}","expiresAt":"NaN"}}]}}"#
                    ),
                )
            }),
        ),
        (
            "a 302",
            FakeAws::start(|_| {
                Reply::WithHeaders(
                    302,
                    vec![("Location", "http://127.0.0.1:9/".into())],
                    String::new(),
                )
            }),
        ),
        (
            "a 301",
            FakeAws::start(|_| {
                Reply::WithHeaders(
                    301,
                    vec![("Location", "http://127.0.0.1:9/".into())],
                    String::new(),
                )
            }),
        ),
    ];
    for (case, server) in cases {
        let line = failure(&server.url);
        assert!(line.contains(NOT_ECR), "{case}: {line}");
        assert!(!line.contains(VPC), "{case}: {line}");
    }
}

#[test]
fn a_huge_header_is_not_a_network_problem() {
    let url = raw_server(|stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nX-Big: ");
        let _ = stream.write_all(&vec![b'a'; 1 << 20]);
        let _ = stream.write_all(b"\r\n\r\n");
    });
    let line = failure(&url);
    assert!(line.contains(NOT_ECR), "{line}");
    assert!(!line.contains(VPC), "{line}");
}

/// An answer that starts and never ends is the server's trouble, not the route's. A server
/// whose head trickles in cannot be told from a dropped route: the hint names both.
#[test]
fn slow_and_endless_answers_say_the_server_may_not_be_ecr() {
    let endless = raw_server(|stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        while stream.write_all(b"400\r\n").is_ok()
            && stream.write_all(&[b' '; 0x400]).is_ok()
            && stream.write_all(b"\r\n").is_ok()
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let slow = raw_server(|stream| {
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" {
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    for (url, needle) in [
        (endless, "but did not finish"),
        (
            slow,
            "a server that accepts but answers slowly or without end is not ECR",
        ),
    ] {
        // Every attempt, or the deadline, may end it: the hint is the same either way.
        for attempts in ["1", "3"] {
            let output = exec()
                .keys()
                .endpoint(&url)
                .env("AWS_MAX_ATTEMPTS", attempts)
                .arg("--timeout=3s")
                .stdin(request(V1, IMAGE))
                .run();
            assert_eq!(output.stderr.lines().count(), 1, "{output:?}");
            let line = output.error_line();
            assert!(line.contains(needle), "{attempts} attempts: {line}");
        }
    }
}

/// A deadline too short for any call is the cause, whatever the call waited for: not the
/// route, which the hint would otherwise send a reader to check. (Below a millisecond the
/// run's deadline always passes before the SDK's own attempt timeout could.)
#[test]
fn a_deadline_too_short_for_any_call_is_named_as_the_cause() {
    let silent = raw_server(|_| std::thread::sleep(Duration::from_secs(5)));
    for timeout in ["1ns", "1µs"] {
        let output = exec()
            .keys()
            .endpoint(&silent)
            .arg(format!("--timeout={timeout}"))
            .stdin(request(V1, IMAGE))
            .run();
        assert_eq!(output.code, Some(1), "{output:?}");
        let line = output.error_line();
        assert!(
            line.starts_with(&format!("ecr-credential-provider: error: gave up after {timeout} waiting for "))
                && line.contains(&format!(
                    "; hint: a deadline of {timeout} is too short for a call to AWS, which takes tens to hundreds of milliseconds: give it seconds (the default is 30s)"
                )),
            "{line}"
        );
        assert!(!line.contains("VPC"), "{line}");
    }
    // From a second on, a silent endpoint is the endpoint's trouble.
    let output = exec()
        .keys()
        .endpoint(&silent)
        .env("AWS_MAX_ATTEMPTS", "1")
        .arg("--timeout=1s")
        .stdin(request(V1, IMAGE))
        .run();
    assert!(
        output.error_line().contains(&format!(
            "hint: nothing answered in time at the endpoint set by AWS_ENDPOINT_URL={silent}: "
        )),
        "{output:?}"
    );
}

#[test]
fn a_host_that_is_not_ecr_and_then_fails_is_still_one_line() {
    let output = exec()
        .keys()
        .endpoint("http://127.0.0.1:9")
        .stdin(request(V1, "docker.io/library/busybox"))
        .run();
    assert_eq!(output.stderr.lines().count(), 1, "{output:?}");
    let line = output.error_line();
    assert!(
        line.starts_with("ecr-credential-provider: error: no AWS region for docker.io")
            && line.contains("; warning: \"docker.io\" is not an ECR host"),
        "{line}"
    );
}

#[test]
fn hints_cite_no_repository_path_and_no_stray_period() {
    let output = exec().keys().stdin("{\"kind\":").run();
    let line = output.error_line();
    assert!(!line.contains("examples/"), "{line}");
    assert!(
        line.contains("`ecr-credential-provider get IMAGE`"),
        "{line}"
    );
    let server = FakeAws::start(|_| {
        Reply::aws_error(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    });
    let line = failure(&server.url);
    assert!(!line.contains(".;"), "{line}");
    assert!(line.contains("is invalid; hint: "), "{line}");
}

#[test]
fn a_deadline_spent_on_stdin_gets_its_own_hint() {
    let output = exec().keys().arg("--timeout=1s").run();
    let line = output.error_line();
    assert!(
        line.contains("waiting for the request on stdin; hint: the kubelet writes one request and closes stdin"),
        "{line}"
    );
    assert!(!line.contains(VPC), "{line}");
}

/// With instance metadata answering, a misspelt profile must still be named: the chain stops
/// at the profile instead of falling through to the node's role.
#[test]
fn a_misspelt_profile_is_named_whatever_instance_metadata_does() {
    let metadata = FakeAws::start(|seen| imds(seen, "ASIAEXAMPLE", "imds-secret-EXAMPLE", "s"));
    for metadata_disabled in ["true", "false"] {
        let output = exec()
            .env("AWS_EC2_METADATA_DISABLED", metadata_disabled)
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata.url)
            .env("AWS_PROFILE", "nodee")
            .endpoint("http://127.0.0.1:9")
            .secret("imds-secret-EXAMPLE")
            .stdin(request(V1, IMAGE))
            .run();
        let line = output.error_line();
        assert!(
            line.contains("profile \"nodee\" (AWS_PROFILE) is in none of the AWS config files"),
            "{output:?}"
        );
    }
}
