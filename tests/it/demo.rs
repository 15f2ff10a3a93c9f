//! The demo's output, as `scripts/demo` prints it, with the parts that change from run to run
//! (ports, paths, times, latencies) masked. A change shows up here for review.

// The example brings its own copy of the stand-in (tests/support/fake.rs).
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../examples/demo.rs"]
mod example;

use crate::support::{BIN, TempDir};

/// Masks what differs between runs and machines.
fn mask(text: &str, dir: &str) -> String {
    let text = text.replace(BIN, "[BIN]").replace(dir, "[DIR]");
    let rules = [
        (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:[PORT]"),
        (
            r"[0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](\.[0-9]+)?Z",
            "[TIME]",
        ),
        (r"latency_ms=[0-9]+", "latency_ms=[MS]"),
        (r"[0-9]+h[0-9]+m[0-9]+(\.[0-9]+)?s", "[DURATION]"),
    ];
    rules.iter().fold(text, |text, (pattern, with)| {
        regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, *with)
            .into_owned()
    })
}

#[test]
fn demo_output() {
    let world = example::stand_in();
    let dir = TempDir::new();
    let mut out = Vec::new();
    example::run_demo(std::path::Path::new(BIN), &world.url, &dir.0, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("  ecr-credential-provider"),
        "double space: {text}"
    );
    insta::assert_snapshot!("demo", mask(&text, &dir.0.display().to_string()));
}
