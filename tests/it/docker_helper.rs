//! The Docker credential-helper protocol (the binary as `docker-credential-ecr-login`) and
//! `get --format dockerconfigjson`: every action, every form of server URL, and no AWS call
//! for a host that is not ECR, counted at the loopback fake.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;

use crate::support::fake::{FakeAws, Reply, token_service};
use crate::support::{BIN, Exec, TempDir, exec};

const NAME: &str = "docker-credential-ecr-login";
const PRIVATE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const NOT_FOUND: &str = "credentials not found in native keychain\n";

fn failing() -> FakeAws {
    FakeAws::start(|_| Reply::aws_error(400, "AccessDeniedException", "not allowed"))
}

/// The helper as docker runs it: argv[0] is its name, one action, stdout read even on failure.
fn helper(action: &str, server: &FakeAws) -> Exec {
    exec()
        .arg0(NAME)
        .arg(action)
        .keys()
        .endpoint(&server.url)
        .secret("private-pass")
        .secret("public-pass")
        .report()
}

#[test]
fn get_answers_for_an_ecr_host_in_every_form_docker_and_containers_image_send() {
    for input in [
        PRIVATE.to_owned(),
        format!("{PRIVATE}\n"),
        format!("https://{PRIVATE}"),
        format!("https://{PRIVATE}/v2/\n"),
        format!("{PRIVATE}:5000"),
        format!("{PRIVATE}/team/app\r\n"),
    ] {
        let server = token_service();
        let output = helper("get", &server).stdin(input.clone()).run();
        assert_eq!(output.code, Some(0), "{input:?}: {output:#?}");
        assert_eq!(
            output.stdout,
            format!(
                "{{\"ServerURL\":\"{}\",\"Username\":\"AWS\",\"Secret\":\"private-pass\"}}\n",
                input.trim()
            ),
            "{input:?}"
        );
        assert!(output.stderr.is_empty(), "{input:?}: {output:#?}");
        let calls = server.calls("GetAuthorizationToken");
        assert_eq!(calls.len(), 1, "{input:?}");
        assert_eq!(calls[0].signed_scope().unwrap().1, "us-west-2", "{input:?}");
    }
}

#[test]
fn get_answers_for_ecr_public_from_the_public_api() {
    let server = token_service();
    let output = helper("get", &server)
        .stdin("https://public.ecr.aws/v2/\n")
        .run();
    assert_eq!(
        output.stdout,
        "{\"ServerURL\":\"https://public.ecr.aws/v2/\",\"Username\":\"AWS\",\"Secret\":\"public-pass\"}\n"
    );
    assert_eq!(
        server
            .calls("SpencerFrontendService.GetAuthorizationToken")
            .len(),
        1
    );
}

#[test]
fn any_other_host_is_not_found_without_asking_aws() {
    let server = token_service();
    for input in [
        "https://index.docker.io/v1/\n",
        "docker.io",
        "ghcr.io\n",
        "localhost:5000",
        "127.0.0.1:5000",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com.evil.example",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com@evil.example",
        "evil.example/123456789012.dkr.ecr.us-west-2.amazonaws.com",
        "not a server url",
    ] {
        let output = helper("get", &server).stdin(input).run();
        assert_eq!(
            (output.code, output.stdout.as_str(), output.stderr.as_str()),
            (Some(1), NOT_FOUND, ""),
            "{input:?}"
        );
    }
    assert!(
        server.seen().is_empty(),
        "AWS was asked: {:?}",
        server.seen()
    );
}

#[test]
fn an_empty_server_url_is_the_protocols_missing_url() {
    let server = token_service();
    for input in ["", "\n", "  \n\n"] {
        let output = helper("get", &server).stdin(input).run();
        assert_eq!(
            (output.code, output.stdout.as_str()),
            (Some(1), "no credentials server URL\n"),
            "{input:?}"
        );
    }
    assert!(server.seen().is_empty());
}

#[test]
fn a_private_ecr_failure_says_why_on_stdout_for_docker_and_on_stderr() {
    let server = failing();
    let output = helper("get", &server).stdin(PRIVATE).run();
    let line = output.error_line();
    assert!(line.contains("AccessDeniedException"), "{line}");
    assert_eq!(output.stdout, format!("{line}\n"));
}

#[test]
fn an_ecr_public_failure_falls_back_to_anonymous_pulls() {
    let server = failing();
    let output = helper("get", &server).stdin("public.ecr.aws").run();
    assert_eq!((output.code, output.stdout.as_str()), (Some(1), NOT_FOUND));
    assert!(
        output.stderr.contains("AccessDeniedException") && output.stderr.contains("anonymously"),
        "{output:#?}"
    );
}

#[test]
fn list_names_the_callers_registry_and_ecr_public() {
    let server = token_service();
    let output = helper("list", &server).env("AWS_REGION", "us-west-2").run();
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert_eq!(
        output.stdout,
        format!("{{\"https://{PRIVATE}\":\"AWS\",\"https://public.ecr.aws\":\"AWS\"}}\n")
    );
    let output = helper("list", &failing())
        .env("AWS_REGION", "us-west-2")
        .run();
    assert_eq!((output.code, output.stdout.as_str()), (Some(0), "{}\n"));
    let warnings = output
        .stderr
        .lines()
        .filter(|line| line.contains("list: ") && line.contains("AccessDeniedException"));
    assert_eq!(warnings.count(), 2, "{output:#?}");
}

/// `get` for `server_url` with `HOME` at `home` and `env` on top: the Secret it answered.
fn get_with(server: &FakeAws, home: &Path, env: &[(&str, &str)], server_url: &str) -> String {
    let mut run = helper("get", server)
        .env("HOME", home.display().to_string())
        .stdin(server_url);
    for (key, value) in env {
        run = run.env(key, *value);
    }
    let output = run.run();
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert!(output.stderr.is_empty(), "{output:#?}");
    output.json()["Secret"].as_str().unwrap().to_owned()
}

/// The names in `dir` with their modes, sorted; none when it does not exist.
fn listing(dir: &Path) -> Vec<(String, u32)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<(String, u32)> = entries
        .map(|entry| {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().mode() & 0o7777;
            (entry.file_name().into_string().unwrap(), mode)
        })
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Issue 22: as ecr-login, the helper caches by default in `~/.ecr`: three pulls, one call.
#[test]
fn gets_share_one_token_through_home_ecr_by_default() {
    let server = token_service();
    let home = TempDir::new();
    for _ in 0..3 {
        assert_eq!(get_with(&server, &home.0, &[], PRIVATE), "private-pass");
    }
    assert_eq!(server.calls("GetAuthorizationToken").len(), 1);
    let dir = home.0.join(".ecr");
    assert_eq!(mode(&dir), 0o700);
    let files = listing(&dir);
    // One entry, named by a hash: neither the registry nor the identity shows.
    let entries = files.iter().filter(|(name, _)| {
        name.strip_suffix(".json")
            .is_some_and(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    assert_eq!(entries.count(), 1, "{files:?}");
    assert!(files.iter().all(|(_, mode)| *mode == 0o600), "{files:?}");
    // A host that is not ECR still costs neither a call nor a file.
    let output = helper("get", &server)
        .env("HOME", home.0.display().to_string())
        .stdin("ghcr.io")
        .run();
    assert_eq!(output.stdout, NOT_FOUND);
    assert_eq!(listing(&dir), files);
}

/// Issue 22: `AWS_ECR_CACHE_DIR` names the directory, `~` and `~/` as ecr-login expands them.
#[test]
fn aws_ecr_cache_dir_names_the_directory_and_a_leading_tilde_is_home() {
    let server = token_service();
    let home = TempDir::new();
    let other = TempDir::new();
    let named = other.0.join("tokens");
    let named_text = named.display().to_string();
    for (value, dir) in [
        (named_text.as_str(), named.clone()),
        ("~/x", home.0.join("x")),
    ] {
        let before = server.calls("GetAuthorizationToken").len();
        for _ in 0..3 {
            get_with(&server, &home.0, &[("AWS_ECR_CACHE_DIR", value)], PRIVATE);
        }
        assert_eq!(
            server.calls("GetAuthorizationToken").len(),
            before + 1,
            "{value}"
        );
        assert_eq!(mode(&dir), 0o700, "{value}");
        assert!(!listing(&dir).is_empty(), "{value}");
    }
    assert!(!home.0.join(".ecr").exists());
}

/// Issue 22: any value of `AWS_ECR_DISABLE_CACHE` but the empty one turns the cache off, "false"
/// included (ecr-login tests `!= ""`): a call per pull, and nothing written.
#[test]
fn aws_ecr_disable_cache_with_any_value_means_a_call_per_pull_and_no_file() {
    for value in ["1", "false", "true"] {
        let server = token_service();
        let home = TempDir::new();
        let named = home.0.join("named");
        let named_text = named.display().to_string();
        for _ in 0..3 {
            let env = [
                ("AWS_ECR_DISABLE_CACHE", value),
                ("AWS_ECR_CACHE_DIR", named_text.as_str()),
            ];
            get_with(&server, &home.0, &env, PRIVATE);
        }
        assert_eq!(server.calls("GetAuthorizationToken").len(), 3, "{value}");
        assert!(!home.0.join(".ecr").exists() && !named.exists(), "{value}");
    }
    // Set but empty: as unset.
    let server = token_service();
    let home = TempDir::new();
    for _ in 0..2 {
        get_with(&server, &home.0, &[("AWS_ECR_DISABLE_CACHE", "")], PRIVATE);
    }
    assert_eq!(server.calls("GetAuthorizationToken").len(), 1);
}

/// Issue 22: ours first. `ECR_CREDENTIAL_PROVIDER_CACHE_DIR` (the node's shared cache) wins
/// over both of ecr-login's switches.
#[test]
fn our_cache_dir_wins_over_ecr_logins_switches() {
    let server = token_service();
    let home = TempDir::new();
    let ours = home.0.join("ours");
    let theirs = home.0.join("theirs");
    let (ours_text, theirs_text) = (ours.display().to_string(), theirs.display().to_string());
    let env = [
        ("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", ours_text.as_str()),
        ("AWS_ECR_DISABLE_CACHE", "1"),
        ("AWS_ECR_CACHE_DIR", theirs_text.as_str()),
    ];
    for _ in 0..2 {
        get_with(&server, &home.0, &env, PRIVATE);
    }
    assert_eq!(server.calls("GetAuthorizationToken").len(), 1);
    assert!(!listing(&ours).is_empty());
    assert!(!theirs.exists() && !home.0.join(".ecr").exists());
}

/// Issue 22: ecr-login keeps `cache.json` (and writes it through `.config.json.tmp*`) and its log
/// in the same `~/.ecr`: our cache reads, replaces and prunes its own names only, however old
/// theirs are.
#[test]
fn ecr_logins_own_files_in_home_ecr_are_left_as_they_are() {
    let server = token_service();
    let home = TempDir::new();
    let dir = home.0.join(".ecr");
    fs::create_dir_all(dir.join("log")).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let theirs = [
        (
            "cache.json",
            r#"{"Registries":{"us-west-2-abc-123456789012":{"AuthorizationToken":"QVdTOnRoZWlycw==","ProxyEndpoint":"https://123456789012.dkr.ecr.us-west-2.amazonaws.com","Service":"ecr"}},"Version":"1.0"}"#,
        ),
        (".config.json.tmp1234567", "{\"half"),
        (
            "log/ecr-login.log",
            "time=… level=debug msg=\"Checking file cache\"\n",
        ),
    ];
    let old = SystemTime::now() - Duration::from_secs(72 * 3600);
    for (name, text) in theirs {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    for _ in 0..3 {
        // Their cache holds another token for this registry: ours never reads it.
        assert_eq!(get_with(&server, &home.0, &[], PRIVATE), "private-pass");
    }
    assert_eq!(server.calls("GetAuthorizationToken").len(), 1);
    for (name, text) in theirs {
        let path = dir.join(name);
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "{name}");
        assert_eq!(
            fs::metadata(&path).unwrap().modified().unwrap(),
            old,
            "{name}"
        );
    }
    assert_eq!(mode(&dir), 0o700);
}

/// Issue 22: a directory named by a variable that cannot be used is one warning and an answer;
/// `~/.ecr`, which nobody asked for, costs docker's terminal (it shows a helper's stderr) no
/// line on every pull.
#[test]
fn an_unusable_cache_directory_is_a_warning_only_when_a_variable_named_it() {
    let server = token_service();
    let home = TempDir::new();
    let missing_parent = home.0.join("no/such/dir").display().to_string();
    for (name, value) in [
        ("AWS_ECR_CACHE_DIR", missing_parent.as_str()),
        ("AWS_ECR_CACHE_DIR", "~nobody/ecr"),
        ("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", missing_parent.as_str()),
    ] {
        let output = helper("get", &server)
            .env("HOME", home.0.display().to_string())
            .env(name, value)
            .stdin(PRIVATE)
            .run();
        assert_eq!(output.json()["Secret"], "private-pass", "{name}={value}");
        let lines: Vec<&str> = output.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{name}={value}: {output:#?}");
        assert!(
            lines[0].starts_with("ecr-credential-provider: warning: ")
                && lines[0].contains("without the")
                && lines[0].contains(if value.starts_with('~') {
                    "~nobody"
                } else {
                    "not usable"
                }),
            "{name}={value}: {}",
            lines[0]
        );
    }
    // ~/.ecr that cannot be made (its parent, HOME, is missing) or is a file: no line at all.
    let file_home = TempDir::new();
    fs::write(file_home.0.join(".ecr"), "").unwrap();
    for home in [home.0.join("missing"), file_home.0.clone()] {
        let before = server.calls("GetAuthorizationToken").len();
        for _ in 0..2 {
            assert_eq!(get_with(&server, &home, &[], PRIVATE), "private-pass");
        }
        assert_eq!(server.calls("GetAuthorizationToken").len(), before + 2);
        assert!(!home.join(".ecr").is_dir(), "{}", home.display());
    }
    assert!(!home.0.join("missing").exists());
    // The trace says why.
    let output = helper("get", &server)
        .env("HOME", file_home.0.display().to_string())
        .env("ECR_CREDENTIAL_PROVIDER_TRACE", "1")
        .stdin(PRIVATE)
        .run();
    assert!(output.stderr.contains("not usable"), "{output:#?}");
}

/// Issue 22: `list` as ecr-login's: it primes the cache with the caller's own registry (asked
/// every time) and ECR Public (through the cache), then names every registry the cache holds.
#[test]
fn list_names_every_registry_the_cache_holds() {
    const OTHER: &str = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
    let server = token_service();
    let home = TempDir::new();
    let list = |server: &FakeAws, home: &Path, env: &[(&str, &str)]| {
        let mut run = helper("list", server)
            .env("HOME", home.display().to_string())
            .env("AWS_REGION", "us-west-2");
        for (key, value) in env {
            run = run.env(key, *value);
        }
        let output = run.run();
        assert_eq!(output.code, Some(0), "{output:#?}");
        output
    };
    let calls = |server: &FakeAws| {
        (
            server
                .calls("Registry_V20150921.GetAuthorizationToken")
                .len(),
            server
                .calls("SpencerFrontendService.GetAuthorizationToken")
                .len(),
        )
    };
    let both = format!("{{\"https://{PRIVATE}\":\"AWS\",\"https://public.ecr.aws\":\"AWS\"}}\n");
    assert_eq!(list(&server, &home.0, &[]).stdout, both);
    assert_eq!(calls(&server), (1, 1));
    // The caller's token went to the cache as its registry's: a get for it needs no call.
    get_with(&server, &home.0, &[], PRIVATE);
    assert_eq!(calls(&server), (1, 1));
    get_with(&server, &home.0, &[], OTHER);
    assert_eq!(calls(&server), (2, 1));
    let all = format!(
        "{{\"https://{PRIVATE}\":\"AWS\",\"https://{OTHER}\":\"AWS\",\"https://public.ecr.aws\":\"AWS\"}}\n"
    );
    let output = list(&server, &home.0, &[]);
    assert_eq!(output.stdout, all);
    assert!(output.stderr.is_empty(), "{output:#?}");
    assert_eq!(
        calls(&server),
        (3, 1),
        "ECR Public was not answered from the cache"
    );
    // When AWS fails (another endpoint, so no entry is its), what the cache holds is still
    // listed.
    let output = list(&failing(), &home.0, &[]);
    assert_eq!(output.stdout, all);
    let warnings = output
        .stderr
        .lines()
        .filter(|line| line.contains("list: ") && line.contains("AccessDeniedException"));
    assert_eq!(warnings.count(), 2, "{output:#?}");

    // Without a cache, what was just fetched (ecr-login answers `{}`), and nothing written.
    let server = token_service();
    let home = TempDir::new();
    for _ in 0..2 {
        let output = list(&server, &home.0, &[("AWS_ECR_DISABLE_CACHE", "1")]);
        assert_eq!(output.stdout, both);
    }
    assert_eq!(calls(&server), (2, 2));
    assert!(!home.0.join(".ecr").exists());
}

#[test]
fn store_and_erase_store_nothing_and_never_ask_aws() {
    let server = token_service();
    let credentials = r#"{"ServerURL":"https://123456789012.dkr.ecr.us-west-2.amazonaws.com","Username":"AWS","Secret":"stored-secret"}"#;
    let cases = [
        ("store", credentials, None, Some(1), "not implemented\n"),
        ("store", credentials, Some("true"), Some(0), ""),
        (
            "store",
            r#"{"Username":"AWS","Secret":"stored-secret"}"#,
            Some("true"),
            Some(1),
            "no credentials server URL\n",
        ),
        (
            "store",
            r#"{"ServerURL":"h","Secret":"stored-secret"}"#,
            Some("true"),
            Some(1),
            "no credentials username\n",
        ),
        ("erase", PRIVATE, None, Some(1), "not implemented\n"),
        ("erase", PRIVATE, Some("true"), Some(0), ""),
        (
            "erase",
            "\n",
            Some("true"),
            Some(1),
            "no credentials server URL\n",
        ),
    ];
    let home = TempDir::new();
    for (action, input, ignore, code, stdout) in cases {
        let mut run = helper(action, &server)
            .env("HOME", home.0.display().to_string())
            .stdin(input)
            .secret("stored-secret");
        if let Some(value) = ignore {
            run = run.env("AWS_ECR_IGNORE_CREDS_STORAGE", value);
        }
        let output = run.run();
        assert_eq!(
            (output.code, output.stdout.as_str()),
            (code, stdout),
            "{action} {input}: {output:#?}"
        );
    }
    // Exactly "true", as ecr-login compares it.
    for value in ["1", "TRUE", "yes", ""] {
        for (action, input) in [("store", credentials), ("erase", PRIVATE)] {
            let output = helper(action, &server)
                .env("HOME", home.0.display().to_string())
                .env("AWS_ECR_IGNORE_CREDS_STORAGE", value)
                .stdin(input)
                .secret("stored-secret")
                .run();
            assert_eq!(
                (output.code, output.stdout.as_str()),
                (Some(1), "not implemented\n"),
                "{action} with {value:?}"
            );
        }
    }
    assert!(server.seen().is_empty());
    assert!(
        !home.0.join(".ecr").exists(),
        "store or erase touched the cache"
    );
}

#[test]
fn version_usage_and_unknown_actions_as_docker_credential_helpers_answers_them() {
    let server = token_service();
    let usage = format!("Usage: {NAME} <store|get|erase|list|version>\n");
    let version = format!(
        "{NAME} (ecr-credential-provider) v{}\n",
        env!("CARGO_PKG_VERSION")
    );
    let cases: [(&[&str], Option<i32>, &str); 6] = [
        (&["version"], Some(0), &version),
        (&["--version"], Some(0), &version),
        (&["--help"], Some(0), &usage),
        (&[], Some(1), &usage),
        (&["get", "extra"], Some(1), &usage),
        (
            &["login"],
            Some(1),
            "docker-credential-ecr-login: unknown action: login\n",
        ),
    ];
    for (args, code, stdout) in cases {
        let mut run = exec().arg0(NAME).endpoint(&server.url).report();
        for arg in args {
            run = run.arg(*arg);
        }
        let output = run.run();
        assert_eq!(
            (output.code, output.stdout.as_str()),
            (code, stdout),
            "{args:?}"
        );
    }
    assert!(server.seen().is_empty());
}

#[test]
fn a_symlink_named_docker_credential_ecr_login_is_the_helper() {
    let dir = TempDir::new();
    let link = dir.0.join(NAME);
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let server = token_service();
    let output = exec()
        .program(link)
        .arg("get")
        .keys()
        .endpoint(&server.url)
        .stdin(format!("{PRIVATE}\n"))
        .secret("private-pass")
        .run();
    assert_eq!(output.json()["Secret"], "private-pass");
    // Under Windows' name too.
    let output = helper("get", &server)
        .arg0("docker-credential-ecr-login.exe")
        .stdin("docker.io")
        .run();
    assert_eq!(output.stdout, NOT_FOUND);
}

#[test]
fn the_helper_keeps_the_runs_deadline() {
    let hanging = FakeAws::start(|_| Reply::Hang);
    let output = helper("get", &hanging)
        .env("ECR_CREDENTIAL_PROVIDER_TIMEOUT", "1s")
        .stdin(PRIVATE)
        .run();
    assert!(
        output.error_line().contains("gave up after 1s"),
        "{output:#?}"
    );
    assert!(output.elapsed < Duration::from_secs(10));
}

#[test]
fn a_writer_that_never_closes_stdin_meets_the_deadline() {
    let server = token_service();
    // No stdin given: the test leaves it open.
    let output = helper("get", &server)
        .env("ECR_CREDENTIAL_PROVIDER_TIMEOUT", "500ms")
        .run();
    let line = output.error_line();
    assert!(
        line.contains("waiting for the input of docker-credential-ecr-login on stdin; hint: docker, podman and skopeo write the registry's host"),
        "{line}"
    );
    // Nothing was sent: the network is not the trouble.
    assert!(!line.contains("route") && !line.contains("VPC"), "{line}");
    assert!(server.seen().is_empty());
}

#[test]
fn with_the_shared_cache_one_token_serves_the_kubelet_and_docker() {
    let server = token_service();
    let cache = TempDir::new();
    let dir = cache.0.join("tokens").display().to_string();
    let kubelet = exec()
        .keys()
        .endpoint(&server.url)
        .env("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", dir.clone())
        .stdin(crate::support::request(
            crate::support::V1,
            &format!("{PRIVATE}/team/app"),
        ))
        .secret("private-pass")
        .run();
    assert_eq!(kubelet.json()["auth"][PRIVATE]["password"], "private-pass");
    for input in [format!("https://{PRIVATE}"), format!("{PRIVATE}\n")] {
        let output = helper("get", &server)
            .env("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", dir.clone())
            .stdin(input)
            .run();
        assert_eq!(output.code, Some(0), "{output:#?}");
        assert!(output.stdout.contains("\"Secret\":\"private-pass\""));
    }
    assert_eq!(server.calls("GetAuthorizationToken").len(), 1);
    // A host that is not ECR touches neither AWS nor the cache.
    let before = std::fs::read_dir(&dir).unwrap().count();
    let output = helper("get", &server)
        .env("ECR_CREDENTIAL_PROVIDER_CACHE_DIR", dir.clone())
        .stdin("ghcr.io")
        .run();
    assert_eq!(output.stdout, NOT_FOUND);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), before);
    assert_eq!(server.calls("GetAuthorizationToken").len(), 1);
}

#[test]
fn a_pull_secret_is_docker_config_json_for_the_images_registry() {
    let server = token_service();
    let output = exec()
        .arg("get")
        .arg(format!("{PRIVATE}/team/app:v1"))
        .arg("--format")
        .arg("dockerconfigjson")
        .keys()
        .endpoint(&server.url)
        .secret("private-pass")
        .run();
    let auth = base64::engine::general_purpose::STANDARD.encode("AWS:private-pass");
    assert_eq!(
        output.json(),
        serde_json::json!({"auths": {PRIVATE: {"username": "AWS", "password": "private-pass", "auth": auth}}})
    );
}

#[test]
fn a_pull_secret_for_another_registry_is_refused_without_asking_aws() {
    let server = token_service();
    let output = exec()
        .arg("get")
        .arg("ghcr.io/team/app")
        .arg("--format=dockerconfigjson")
        .keys()
        .endpoint(&server.url)
        .env("AWS_REGION", "us-west-2")
        .run();
    assert!(
        output
            .error_line()
            .contains("would hand an ECR token to another registry"),
        "{output:#?}"
    );
    assert!(server.seen().is_empty());
}
