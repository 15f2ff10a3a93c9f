//! `config` and `config check`: the printed config passes the check, every shipped example
//! passes it, and a broken config fails it naming the field and the fix.

use std::path::{Path, PathBuf};

use crate::support::{TempDir, exec};

const ECR_IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app:v1";

fn run(args: &[&str]) -> crate::support::Output {
    // `config check` prints its report whatever the verdict.
    let mut run = exec().report();
    for arg in args {
        run = run.arg(*arg);
    }
    run.run()
}

/// Every CredentialProviderConfig under examples/ (the recipes' too).
fn example_configs() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(&path, found);
            } else if name.starts_with("credential-provider-config") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &mut found,
    );
    found.sort();
    found
}

#[test]
fn every_example_config_passes_the_check_and_serves_an_ecr_image() {
    let configs = example_configs();
    assert!(configs.len() >= 11, "{configs:?}");
    for config in configs {
        let path = config.display().to_string();
        let output = run(&["config", "check", &path, "--image", ECR_IMAGE]);
        assert_eq!(output.code, Some(0), "{path}: {output:#?}");
        assert!(output.stderr.is_empty(), "{path}: {output:#?}");
        assert!(
            output.stdout.contains(": 0 errors, 0 warnings"),
            "{path}: {}",
            output.stdout
        );
        assert!(
            output.stdout.contains("the kubelet execs 1 provider"),
            "{path}: {}",
            output.stdout
        );
    }
}

#[test]
fn the_printed_config_passes_the_check_in_both_formats() {
    let dir = TempDir::new();
    for (format, file) in [("yaml", "c.yaml"), ("json", "c.json")] {
        let output = run(&[
            "config",
            "--format",
            format,
            "--service-account",
            "--arg",
            "get-credentials",
        ]);
        assert_eq!(output.code, Some(0), "{output:#?}");
        let path = dir.0.join(file);
        std::fs::write(&path, &output.stdout).unwrap();
        let path = path.display().to_string();
        let checked = run(&[
            "config",
            "check",
            &path,
            "--image",
            "public.ecr.aws/nginx/nginx:1",
        ]);
        assert_eq!(checked.code, Some(0), "{checked:#?}");
        assert!(
            checked.stdout.contains("0 errors, 0 warnings, 0 notes"),
            "{}",
            checked.stdout
        );
        assert!(
            checked
                .stdout
                .contains("exec:    BIN_DIR/ecr-credential-provider get-credentials"),
            "{}",
            checked.stdout
        );
    }
}

#[test]
fn a_broken_config_fails_naming_the_field_and_the_fix() {
    let dir = TempDir::new();
    let path = dir.0.join("config.yaml");
    std::fs::write(
        &path,
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: ecr-credential-provider\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    matchImages: [\"*.amazonaws.com\"]\n    defaultcacheDuration: 12h\n",
    )
    .unwrap();
    let path = path.display().to_string();
    let output = run(&["config", "check", &path, "--image", ECR_IMAGE]);
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert!(output.stderr.is_empty(), "{output:#?}");
    for needle in [
        ":7: error: providers[0].defaultcacheDuration: unknown field \"defaultcacheDuration\": field names are case-sensitive",
        "fix: write \"defaultCacheDuration\"",
        "error: providers[0].matchImages[0]: \"*.amazonaws.com\" never matches an ECR host",
        "fix: use \"*.dkr.ecr.*.amazonaws.com\"",
        "no provider matches",
        "the pattern's host has 3 DNS labels and the image's 6",
    ] {
        assert!(
            output.stdout.contains(needle),
            "{needle:?} not in\n{}",
            output.stdout
        );
    }
}

#[test]
fn the_directory_form_and_the_bin_dir() {
    let dir = TempDir::new();
    let configs = dir.0.join("configs");
    let bin = dir.0.join("bin");
    std::fs::create_dir_all(&configs).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let printed = run(&["config"]).stdout;
    std::fs::write(configs.join("10-ecr.yaml"), &printed).unwrap();
    std::fs::write(configs.join("README.md"), "not read").unwrap();
    let configs_arg = configs.display().to_string();
    let bin_arg = bin.display().to_string();

    let output = run(&["config", "check", &configs_arg, "--bin-dir", &bin_arg]);
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert!(
        output
            .stdout
            .contains(&format!("no {bin_arg}/ecr-credential-provider")),
        "{}",
        output.stdout
    );

    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_ecr-credential-provider"),
        bin.join("ecr-credential-provider"),
    )
    .unwrap();
    let output = run(&[
        "config",
        "check",
        &configs_arg,
        "--bin-dir",
        &bin_arg,
        "--image",
        ECR_IMAGE,
    ]);
    assert_eq!(output.code, Some(0), "{output:#?}");
    assert!(
        output
            .stdout
            .contains(&format!("exec:    {bin_arg}/ecr-credential-provider")),
        "{}",
        output.stdout
    );

    std::fs::write(
        configs.join("20-again.json"),
        run(&["config", "--format", "json"]).stdout,
    )
    .unwrap();
    let output = run(&["config", "check", &configs_arg]);
    assert_eq!(output.code, Some(1), "{output:#?}");
    assert!(output.stdout.contains("20-again.json:6: error: providers[0].name: duplicate provider name \"ecr-credential-provider\", also in 10-ecr.yaml"), "{}", output.stdout);
}

#[test]
fn bad_command_lines_and_unreadable_paths_are_one_line_on_stderr() {
    let empty = TempDir::new();
    let empty_arg = empty.0.display().to_string();
    for (args, code, needle) in [
        (&["config", "--format", "toml"][..], 2, "yaml or json"),
        (
            &["config", "--env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI"],
            2,
            "readable by anyone",
        ),
        (&["config", "check"], 2, "needs a FILE"),
        (
            &["config", "check", "/no/such/config.yaml"],
            1,
            "could not read the credential provider config /no/such/config.yaml",
        ),
        (
            &["config", "check", &empty_arg],
            1,
            "no *.json, *.yaml or *.yml file",
        ),
        (
            &["config", "check", "/dev/null"],
            1,
            "not a regular file or a directory",
        ),
    ] {
        let output = run(args);
        assert_eq!(output.code, Some(code), "{args:?}: {output:#?}");
        assert!(output.stdout.is_empty(), "{args:?}: {output:#?}");
        assert_eq!(output.stderr.lines().count(), 1, "{args:?}: {output:#?}");
        assert!(
            output.error_line().contains(needle),
            "{args:?}: {output:#?}"
        );
        assert!(!output.stderr.contains("wJalrXUtnFEMI"));
    }
    let help = run(&["config", "--help"]);
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("--service-account") && help.stdout.contains("Exit codes"));
}

/// Issue 19: `config check --image` and `check --config` echo a provider's `env`; no credential
/// in it reaches stdout or stderr: values of secret names, nor a proxy URL's user:password,
/// however its password is spelt.
#[test]
fn a_configs_env_credentials_are_never_echoed() {
    const SECRETS: [(&str, &str); 5] = [
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "container-auth-token-EXAMPLE-0123",
        ),
        ("AWS_SESSION_TOKEN", "config-session-token-EXAMPLE-0123"),
        ("DB_PASSWORD", "db-password-EXAMPLE-0123"),
        ("my_client_secret", "client-secret-EXAMPLE-0123"),
        ("GITHUB_TOKEN", "ghp_github-token-EXAMPLE-0123"),
    ];
    let dir = TempDir::new();
    for (form, password) in [
        ("@", "pr0xy@pa55-EXAMPLE"),
        ("/", "pr0xy/pa55-EXAMPLE"),
        ("#", "pr0xy#pa55-EXAMPLE"),
    ] {
        let mut env: Vec<serde_json::Value> = SECRETS
            .iter()
            .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
            .collect();
        env.push(serde_json::json!({"name": "HTTPS_PROXY", "value": format!("http://node:{password}@127.0.0.1:9")}));
        env.push(serde_json::json!({"name": "AWS_REGION", "value": "us-west-2"}));
        let config = serde_json::json!({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
            "providers": [{"name": "ecr-credential-provider", "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
                "matchImages": ["*.dkr.ecr.*.amazonaws.com"], "defaultCacheDuration": "12h", "env": env}]});
        let path = dir.0.join("config.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let path = path.display().to_string();
        let mut secrets: Vec<&str> = SECRETS.iter().map(|(_, value)| *value).collect();
        // The password whole, and either side of the character that ends a URL's authority.
        secrets.extend([password, &password[..5], &password[6..]]);
        let with_args = |run: crate::support::Exec, args: &[&str]| {
            args.iter().fold(run, |run, arg| run.arg(*arg))
        };
        let lint = with_args(
            exec().report(),
            &["config", "check", &path, "--image", ECR_IMAGE],
        );
        let check = with_args(
            exec()
                .report()
                .keys()
                .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
                .env("AWS_MAX_ATTEMPTS", "1"),
            &["check", ECR_IMAGE, "--config", &path, "--timeout=5s"],
        );
        for run in [lint, check] {
            let output = secrets
                .iter()
                .fold(run, |run, secret| run.secret(*secret))
                .run();
            for secret in &secrets {
                assert!(
                    !output.stdout.contains(secret),
                    "{form}: {secret} on stdout: {output:#?}"
                );
            }
            assert!(
                output.stdout.contains("HTTPS_PROXY=") || output.stderr.contains("HTTPS_PROXY="),
                "{form}: {output:#?}"
            );
        }
    }
}
