"""The sample configs in examples/ (and each distribution's recipe there) work as shipped, through
the kubelet harness: each config's provider matches an ECR image, runs from a bin dir under its
configured name with its args and env, and answers with a response the kubelet decodes strictly.
Configs that point the SDK at a profile file (EKS Hybrid Nodes, kind) get that file written
where a test can put it, as the distribution would write it. The pull-secret CronJob's script
runs as shipped, with kubectl stood in for."""

import base64
import json
import os
import subprocess
import tomllib

import pytest
import yaml

import aws
import kubelet
import provider
from servers import BASE_PATH

EXAMPLES = provider.ROOT / "examples"
CONFIGS = sorted(path for path in EXAMPLES.rglob("credential-provider-config*") if path.suffix in (".yaml", ".json"))
RECIPES = sorted(path for path in EXAMPLES.rglob("*") if path.suffix in (".yaml", ".toml") and path not in CONFIGS)
REQUIRED = {"credential-provider-config.yaml", "credential-provider-config-service-account.yaml",
            "kops/credential-provider-config.yaml", "eks-al2023/credential-provider-config.json",
            "eks-hybrid-nodes/credential-provider-config-iam-roles-anywhere.yaml",
            "eks-hybrid-nodes/credential-provider-config-ssm.yaml", "kubeadm/credential-provider-config.yaml",
            "k3s/credential-provider-config.yaml", "kind/credential-provider-config.yaml",
            "daemonset/credential-provider-config.yaml", "windows/credential-provider-config.yaml"}
ECR_IMAGE = f"{aws.ecr_host('us-east-1')}/team/app:v1"


def name(path):
    return str(path.relative_to(EXAMPLES))


def install(bin_dir, name):
    """The binary under test in a kubelet bin dir, under the name the config gives its provider."""
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).symlink_to(provider.binary())
    return bin_dir


def write_profile_files(chosen, tmp_path):
    """The files the config's AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE name, written under
    tmp_path as the distribution writes them (the SSM agent's credentials file; a profile whose
    credential_process stands in for aws_signing_helper); the provider's env points there.
    True when the node's keys come from those files."""
    env = dict(chosen.env)
    profile = env.get("AWS_PROFILE", "default")
    keys = aws.NODE_KEYS
    if "AWS_SHARED_CREDENTIALS_FILE" in env:
        path = tmp_path / "credentials"
        path.write_text(f"[{profile}]\naws_access_key_id = {keys.access_key_id}\n"
                        f"aws_secret_access_key = {keys.secret_access_key}\n")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(path)
    if "AWS_CONFIG_FILE" in env:
        helper = tmp_path / "signing-helper"
        document = json.dumps({"Version": 1, "AccessKeyId": keys.access_key_id,
                               "SecretAccessKey": keys.secret_access_key})
        helper.write_text(f"#!/bin/sh\nprintf '%s' '{document}'\n")
        helper.chmod(0o755)
        section = "default" if profile == "default" else f"profile {profile}"
        path = tmp_path / "config"
        path.write_text(f"[{section}]\ncredential_process = {helper}\nregion = us-east-1\n")
        env["AWS_CONFIG_FILE"] = str(path)
    from_files = env != dict(chosen.env)
    chosen.env = list(env.items())
    return from_files


def test_the_sample_configs_are_all_there():
    assert REQUIRED <= {name(path) for path in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS, ids=name)
def test_each_sample_config_serves_an_ecr_pull(config, recorder, tmp_path):
    [chosen] = kubelet.matching(kubelet.load_config(config), ECR_IMAGE)
    bin_dir = install(tmp_path / "bin", chosen.name)
    from_files = write_profile_files(chosen, tmp_path)
    environ = {**kubelet.minimal_environ(), **provider.base_env(tmp_path),
               **provider.aws_env(recorder.url, None if from_files else aws.NODE_KEYS)}
    account = None
    if chosen.token_attributes:  # the kubelet passes the pod's service-account token
        account = kubelet.ServiceAccount(aws.SERVICE_ACCOUNT_TOKEN, {aws.ROLE_ANNOTATION: aws.ROLE_ARN})

    result = kubelet.exec_provider(chosen, bin_dir, ECR_IMAGE, environ, service_account=account)

    entry = result.response["auth"][aws.ecr_host("us-east-1")]
    secrets = [*aws.NODE_KEYS.secrets, aws.SERVICE_ACCOUNT_TOKEN, entry["password"]]
    provider.assert_no_secrets(result.stderr, secrets, "stderr")
    assert result.request["image"] == kubelet.repository(ECR_IMAGE)
    assert entry["username"] == "AWS" and entry["password"]
    assert kubelet.parse_go_duration(result.response["cacheDuration"]) == 0  # moto's token expired in 2015
    call = recorder.only("GetAuthorizationToken")
    assert call.scope.region == "us-east-1"
    assert len(recorder.calls("AssumeRoleWithWebIdentity")) == (1 if account else 0)


@pytest.mark.parametrize("config", CONFIGS, ids=name)
def test_a_non_ecr_image_matches_no_provider(config):
    assert kubelet.matching(kubelet.load_config(config), "docker.io/library/busybox") == []


@pytest.mark.parametrize("config", CONFIGS, ids=name)
def test_config_check_passes_each_sample_and_agrees_with_the_harness(config):
    """Our linter and the harness agree on which provider the kubelet would exec."""
    completed = subprocess.run([str(provider.binary()), "config", "check", str(config), "--image", ECR_IMAGE],
                               capture_output=True, text=True, env=kubelet.minimal_environ(), timeout=30)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    [chosen] = kubelet.matching(kubelet.load_config(config), ECR_IMAGE)
    assert f"  {chosen.name} (" in completed.stdout


@pytest.mark.parametrize("recipe", RECIPES, ids=name)
def test_each_recipe_file_parses(recipe):
    if recipe.suffix == ".toml":
        settings = tomllib.loads(recipe.read_text())["settings"]["kubernetes"]["credential-providers"]
        assert settings["ecr-credential-provider"]["enabled"] is True
    else:
        assert [doc for doc in yaml.safe_load_all(recipe.read_text()) if doc]


FAKE_KUBECTL = """#!/usr/bin/env python3
# kubectl's part of the CronJob's script, recorded: each call's arguments, and what `create
# --dry-run` was handed in its --from-file, as the Secret's manifest the script applies next.
import json, os, sys
args = sys.argv[1:]
record = {"args": args}
for arg in args:
    if arg.startswith("--from-file="):
        key, path = arg.split("=", 1)[1].split("=", 1)
        record["from_file"] = {key: open(path).read()}
with open(os.environ["KUBECTL_RECORD"], "a") as out:
    out.write(json.dumps(record) + "\\n")
if args[:1] == ["create"]:
    print("kind: Secret  # the manifest kubectl would write")
"""


def test_the_pull_secret_cronjob_script_writes_a_dockerconfigjson_secret(moto, tmp_path):
    documents = list(yaml.safe_load_all((EXAMPLES / "pull-secret" / "cronjob.yaml").read_text()))
    [cronjob] = [doc for doc in documents if doc["kind"] == "CronJob"]
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {entry["name"]: entry["value"] for entry in container["env"]}
    assert container["command"] == ["/bin/sh", "-c"]

    bin_dir = tmp_path / "bin"
    install(bin_dir, "ecr-credential-provider")
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    record = tmp_path / "kubectl.jsonl"
    work = tmp_path / "tmp"
    work.mkdir()
    host = aws.ecr_host("us-east-1")
    completed = subprocess.run(
        ["/bin/sh", "-c", container["args"][0]], capture_output=True, text=True, timeout=60,
        env={**provider.base_env(tmp_path), **provider.aws_env(moto.url, aws.NODE_KEYS), **env,
             "ECR_IMAGE": f"{host}/team/app", "PATH": f"{bin_dir}{os.pathsep}{BASE_PATH}",
             "TMPDIR": str(work), "HOME": str(work), "KUBECTL_RECORD": str(record)})
    assert completed.returncode == 0, completed.stderr
    provider.assert_no_secrets(completed.stderr, aws.NODE_KEYS.secrets, "stderr")

    create, apply = [json.loads(line) for line in record.read_text().splitlines()]
    assert create["args"] == ["create", "secret", "generic", env["SECRET_NAME"], "--type=kubernetes.io/dockerconfigjson",
                              f"--from-file=.dockerconfigjson={work}/config.json", "--dry-run=client", "-o", "yaml"]
    config = json.loads(create["from_file"][".dockerconfigjson"])
    [(registry, entry)] = config["auths"].items()
    assert registry == host and entry["username"] == "AWS" and entry["password"]
    assert base64.b64decode(entry["auth"]).decode() == f"AWS:{entry['password']}"
    assert apply["args"] == ["apply", "--server-side", "--force-conflicts", "-f", f"{work}/secret.yaml"]
    assert (work / "config.json").stat().st_mode & 0o077 == 0, "the token is readable by others"
