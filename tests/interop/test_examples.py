"""The sample configs in examples/ (and each distribution's recipe there) work as shipped, through
the kubelet harness: each config's provider matches an ECR image, runs from a bin dir under its
configured name with its args and env, and answers with a response the kubelet decodes strictly.
Configs that point the SDK at a profile file (EKS Hybrid Nodes, kind) get that file written
where a test can put it, as the distribution would write it. The pull-secret CronJob's script
runs as shipped, with kubectl stood in for. The scripts that install the binary on a node (EKS
AL2023's user-data, the DaemonSet's installer) run unchanged against a temporary directory
standing in for the node's / (their ROOT), with the tools they call stood in for on PATH: a
good binary is swapped in, and a binary that does not run here or fails its check leaves the
node's binary and config as they were. No PowerShell is installable here, so install.ps1 is
checked for its structure: every native command's exit code checked before the kubelet restarts."""

import base64
import email
import json
import os
import re
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


# --- The recipes that install the binary on a node -------------------------------------------

NAME = "ecr-credential-provider"
DIST_BINARY = "#!/bin/sh\necho the distribution's build\n"
OTHER_ARCH = {"x86_64": "aarch64", "aarch64": "x86_64"}


def release_assets():
    """The asset names scripts/release gives each target: {target: name}."""
    text = (provider.ROOT / "scripts" / "release").read_text()
    return dict(re.findall(r"^\s+([\w-]+)\) echo (ecr-credential-provider-[\w.-]+) ;;$", text, re.M))


def executable(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


def good_binary(path):
    """A stand-in for a release asset that works here: it runs the binary under test (a copy
    of the debug build would be 190 MB per case)."""
    return executable(path, f'#!/bin/sh\nexec "{provider.binary()}" "$@"\n')


def wrong_arch_binary(path):
    """An ELF header for the other architecture: the kernel refuses to exec it (ENOEXEC), as
    it refuses an arm64 download on an x86_64 node."""
    machine = {"x86_64": 0xB7, "aarch64": 0x3E}[OTHER_ARCH.get(os.uname().machine, "aarch64")]
    header = bytearray(64)
    header[:7] = b"\x7fELF\x02\x01\x01"
    header[16:20] = (2).to_bytes(2, "little") + machine.to_bytes(2, "little")
    path.write_bytes(bytes(header) + b"\0" * 4096)
    path.chmod(0o755)
    return path


def failing_check_binary(path):
    """Runs, prints a config, and fails `config check`: as a build with a bug would."""
    return executable(path, '#!/bin/sh\ncase "$1 $2" in\n  "--version "*) echo "v0.0.0" ;;\n'
                            '  "config check") echo "config.json:1: error: broken" >&2; exit 1 ;;\n'
                            '  "config "*) echo "{}" ;;\nesac\n')


def snapshot(directory):
    """Everything under `directory`, by relative path: a file's mode and bytes, a directory's mode."""
    return {str(path.relative_to(directory)): (path.lstat().st_mode, None if path.is_dir() else path.read_bytes())
            for path in sorted(directory.rglob("*"))}


FAKE_AWS = """#!/bin/sh
# `aws s3 cp [--only-show-errors] s3://BUCKET/KEY DEST`: the object is the file named after the
# key's last part in $FAKE_S3, else $FAKE_S3_ANY if set (a bucket of bad builds, whatever the
# key); S3 answers 404 (exit 1) for a key it does not hold.
echo "$*" >> "$FAKE_RECORD"
[ "$1 $2" = "s3 cp" ] || exit 2
shift 2
[ "$1" = "--only-show-errors" ] && shift
object="$FAKE_S3/${1##*/}"
[ -f "$object" ] || object="${FAKE_S3_ANY:-/nonexistent}"
[ -f "$object" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key \\"${1#s3://*/}\\" does not exist" >&2; exit 1; }
cp "$object" "$2"
"""

FAKE_UNAME = """#!/bin/sh
[ "$1" = "-m" ] && { echo "$FAKE_ARCH"; exit 0; }
exec /usr/bin/uname "$@"
"""


def user_data_script():
    """The shell part of the EKS AL2023 user-data, as cloud-init runs it."""
    message = email.message_from_string((EXAMPLES / "eks-al2023" / "user-data.txt").read_text())
    [part] = [part for part in message.walk() if part.get_content_type() == "text/x-shellscript"]
    return part.get_payload()


class Node:
    """A temporary directory standing in for a node's /, tools stood in for on PATH."""

    def __init__(self, tmp_path, arch):
        self.root = tmp_path / "root"
        self.s3 = tmp_path / "s3"
        self.s3.mkdir()
        self.tools = tmp_path / "tools"
        self.tools.mkdir()
        executable(self.tools / "aws", FAKE_AWS)
        executable(self.tools / "uname", FAKE_UNAME)
        self.record = tmp_path / "aws-calls"
        self.record.touch()
        self.env = {**provider.base_env(tmp_path), "PATH": f"{self.tools}{os.pathsep}{BASE_PATH}",
                    "ROOT": str(self.root), "FAKE_ARCH": arch, "FAKE_S3": str(self.s3),
                    "FAKE_RECORD": str(self.record)}

    def run(self, command, **env):
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env={**self.env, **env})

    def run_user_data(self, **env):
        """As cloud-init runs a user-data script: a file, executed (its #! names bash)."""
        path = executable(self.root.parent / "user-data", user_data_script())
        return self.run([str(path)], **env)


@pytest.fixture
def al2023_node(tmp_path):
    """What nodeadm leaves on an AL2023 node before user-data runs: its binary and config.json."""
    def make(arch=os.uname().machine):
        node = Node(tmp_path, arch)
        node.dir = node.root / "etc/eks/image-credential-provider"
        node.dir.mkdir(parents=True)
        executable(node.dir / NAME, DIST_BINARY)
        (node.dir / "config.json").write_text((EXAMPLES / "eks-al2023/credential-provider-config.json").read_text())
        return node
    return make


def check_config(path, bin_dir):
    return subprocess.run([str(provider.binary()), "config", "check", str(path), "--bin-dir", str(bin_dir)],
                          capture_output=True, text=True, env=kubelet.minimal_environ(), timeout=30)


@pytest.mark.parametrize("arch, asset", [("x86_64", "linux-amd64"), ("aarch64", "linux-arm64")])
def test_al2023_user_data_swaps_in_the_asset_of_the_nodes_architecture(al2023_node, arch, asset):
    node = al2023_node(arch)
    assets = set(release_assets().values())
    for other in ("linux-amd64", "linux-arm64"):
        assert f"{NAME}-{other}" in assets, "the user-data names an asset scripts/release does not make"
        (wrong_arch_binary if other != asset else good_binary)(node.s3 / f"{NAME}-{other}")

    first = node.run_user_data()
    assert first.returncode == 0, first.stderr
    assert (node.dir / NAME).read_bytes() == (node.s3 / f"{NAME}-{asset}").read_bytes()
    assert (node.dir / f"{NAME}.dist").read_text() == DIST_BINARY
    config = json.loads((node.dir / "config.json").read_text())
    assert config["providers"][0]["name"] == NAME
    checked = check_config(node.dir / "config.json", node.dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [call] = node.record.read_text().splitlines()
    assert call.split()[-2].endswith(f"/{NAME}-{asset}"), call
    assert sorted(path.name for path in node.dir.iterdir()) == ["config.json", NAME, f"{NAME}.dist"]

    # Run again (user-data runs once per instance, but a rerun must not lose the first build).
    again = node.run_user_data()
    assert again.returncode == 0, again.stderr
    assert (node.dir / f"{NAME}.dist").read_text() == DIST_BINARY


@pytest.mark.parametrize("download", ["wrong-arch", "failing-check", "missing", "unknown-machine"])
def test_al2023_user_data_that_fails_leaves_the_node_as_it_was(al2023_node, download):
    machine = os.uname().machine
    node = al2023_node("s390x" if download == "unknown-machine" else machine)
    served = {}
    if download in ("wrong-arch", "failing-check"):
        # Whatever the key: the bucket holds only this bad build.
        bad = node.root.parent / "bad-build"
        (wrong_arch_binary if download == "wrong-arch" else failing_check_binary)(bad)
        served = {"FAKE_S3_ANY": str(bad)}
    elif download == "unknown-machine":
        good_binary(node.s3 / f"{NAME}-linux-amd64")
        good_binary(node.s3 / f"{NAME}-linux-arm64")
    before = snapshot(node.root)

    completed = node.run_user_data(**served)

    assert completed.returncode != 0, completed.stdout
    assert snapshot(node.root) == before, "the node's binary or config changed (or a temporary file was left)"
    if download == "unknown-machine":
        assert "no ecr-credential-provider build for s390x" in completed.stderr
        assert node.record.read_text() == ""


def daemonset():
    documents = list(yaml.safe_load_all((EXAMPLES / "daemonset" / "daemonset.yaml").read_text()))
    [daemonset] = [doc for doc in documents if doc["kind"] == "DaemonSet"]
    return daemonset["spec"]["template"]["spec"]


def test_the_daemonset_installs_into_existing_directories_on_machines_its_image_serves():
    pod = daemonset()
    host_paths = {volume["name"]: volume["hostPath"] for volume in pod["volumes"] if "hostPath" in volume}
    assert set(host_paths) == {"bin-dir", "config-dir"}
    assert {path["type"] for path in host_paths.values()} == {"Directory"}, "a wrong path must fail, not be created"
    [install] = pod["initContainers"]
    mounts = {mount["name"]: mount["mountPath"] for mount in install["volumeMounts"]}
    assert mounts["bin-dir"] == "/host/bin-dir" and mounts["config-dir"] == "/host/config-dir"
    [term] = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    [arch] = term["matchExpressions"]
    assert arch["key"] == "kubernetes.io/arch" and sorted(arch["values"]) == ["amd64", "arm64"]
    dockerfile = (EXAMPLES / "daemonset" / "Dockerfile").read_text()
    assert "ARG TARGETARCH" in dockerfile and f"COPY {NAME}-linux-${{TARGETARCH}} /{NAME}" in dockerfile
    assert {f"{NAME}-linux-amd64", f"{NAME}-linux-arm64"} <= set(release_assets().values())


@pytest.fixture
def daemonset_pod(tmp_path):
    """The installer container's filesystem: the image's binary, the ConfigMap, and the node's
    bin dir and config dir (AL2023's, as the recipe ships) holding what the node had."""
    def make(binary=good_binary, config=EXAMPLES / "daemonset/credential-provider-config.yaml"):
        node = Node(tmp_path, os.uname().machine)
        for part in ("config", "host/bin-dir", "host/config-dir"):
            (node.root / part).mkdir(parents=True)
        binary(node.root / NAME)
        (node.root / "config/config.yaml").write_text(config.read_text())
        executable(node.root / "host/bin-dir" / NAME, DIST_BINARY)
        (node.root / "host/config-dir/config.json").write_text("the node's config\n")
        [install] = daemonset()["initContainers"]
        node.command = install["command"]
        node.container_env = {entry["name"]: entry["value"] for entry in install["env"]}
        return node
    return make


@pytest.mark.parametrize("config_name", ["config.json", ""])
def test_the_daemonset_installer_swaps_in_a_binary_that_runs_here(daemonset_pod, config_name):
    node = daemonset_pod()
    assert node.container_env == {"CONFIG_NAME": "config.json"}, "AL2023's config is config.json"
    completed = node.run(node.command, CONFIG_NAME=config_name)
    assert completed.returncode == 0, completed.stderr
    bin_dir, config_dir = node.root / "host/bin-dir", node.root / "host/config-dir"
    assert (bin_dir / NAME).read_bytes() == (node.root / NAME).read_bytes()
    assert (bin_dir / f"{NAME}.dist").read_text() == DIST_BINARY
    assert sorted(path.name for path in bin_dir.iterdir()) == [NAME, f"{NAME}.dist"]
    assert sorted(path.name for path in config_dir.iterdir()) == ["config.json"]
    if config_name:
        assert (config_dir / "config.json").read_text() == (node.root / "config/config.yaml").read_text()
        checked = check_config(config_dir / "config.json", bin_dir)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    else:
        assert (config_dir / "config.json").read_text() == "the node's config\n"


@pytest.mark.parametrize("fault", ["wrong-arch", "failing-check", "bad-config"])
def test_the_daemonset_installer_that_fails_leaves_the_node_as_it_was(daemonset_pod, tmp_path, fault):
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n"
                          f"  - name: {NAME}\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
                          "    matchImages: ['*.dkr.ecr.*.amazonaws.com']\n")  # no defaultCacheDuration
    node = daemonset_pod(**{"wrong-arch": {"binary": wrong_arch_binary},
                            "failing-check": {"binary": failing_check_binary},
                            "bad-config": {"config": bad_config}}[fault])
    before = snapshot(node.root / "host")
    completed = node.run(node.command, **node.container_env)
    assert completed.returncode != 0, completed.stdout
    assert snapshot(node.root / "host") == before, "the node's binary or config changed (or a temporary file was left)"


NATIVE_CHECK = re.compile(r"^\s*if \(\$LASTEXITCODE -ne 0\) \{ throw ")
STATEMENT_START = re.compile(r"^(#|\}|\{|\)|\$|\[|\(|&|if\b|try\b|param\b|function\b|throw\b|return\b|[A-Z][a-z]+-[A-Z]\w*\b)")


def test_the_windows_script_stops_on_every_native_failure_before_the_kubelet_restarts():
    """Windows PowerShell 5.1 runs on after a native command's non-zero exit even with
    $ErrorActionPreference = "Stop": each `& native` must be followed by its own check, and no
    line may run a native command any other way. (No PowerShell is installable here to run it.)"""
    script = (EXAMPLES / "windows" / "install.ps1").read_text()
    lines = [line for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]
    param_block = script[script.index("param("):script.index("\n)\n")]
    for parameter in ("$Binary", "$ConfigSource", "$BinDir", "$Config"):
        assert parameter in param_block
    windows_asset = release_assets()["x86_64-pc-windows-gnu"]
    assert f'[string]$Binary = ".\\{windows_asset}"' in param_block
    assert "--image-credential-provider-bin-dir" in script and "--image-credential-provider-config" in script

    native = [i for i, line in enumerate(lines) if line.strip().startswith("& ")]
    assert len(native) == 2, "the binary's --version and config check"
    for i in native:
        assert NATIVE_CHECK.match(lines[i + 1]), f"no $LASTEXITCODE check after: {lines[i].strip()}"
    for line in lines:
        stripped = line.strip()
        assert STATEMENT_START.match(stripped) or line.startswith("  [string]") or line == ")", \
            f"a statement that may run a native command unchecked: {stripped}"
    [restart] = [i for i, line in enumerate(lines) if "Restart-Service kubelet" in line]
    assert restart == len(lines) - 1 and restart > max(native)
    assert "DirectoryOrCreate" not in script and "New-Item -ItemType Directory -Force -Path $BinDir" not in script
