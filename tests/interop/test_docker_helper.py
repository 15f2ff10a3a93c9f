"""Real consumers of the Docker credential helper (the provider as `docker-credential-ecr-login`):
skopeo (containers/image, which podman and buildah share) and the Docker CLI with a dockerd of
the suite's own, each with an auth file whose `credHelpers` names `ecr-login`.

The CNCF registry serves the image under an ECR host name (reached through a private hosts file,
hosts.py) and accepts moto's token; the helper gets that token from moto. A registry that is not
ECR is pulled anonymously, and the helper asks AWS nothing for it: every AWS request goes through
a recorder, which counts them. moto's tokens all expired on 2015-01-01; the recorder gives them the
12 hours a live token has, so that the helper's token cache (on by default) may keep them.
"""

import json
import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import aws
import hosts
import provider
from dockerd import Dockerd
from recorder import Recorder
from servers import BASE_PATH, require_tool

NAME = "docker-credential-ecr-login"
OTHER_HOST = "registry.interop.test"  # a registry that is not ECR


@dataclass
class World:
    ecr: str  # ECR-HOST:PORT, the registry that wants moto's token
    other: str  # OTHER_HOST:PORT, the anonymous registry
    repository: str
    other_repository: str
    tag: str
    hosts_file: Path
    bin_dir: Path
    recorder: Recorder
    keys: aws.Keys
    token: str  # the password moto hands out: a secret too

    def aws_calls_since(self, mark):
        return self.recorder.exchanges[mark:]


@pytest.fixture(scope="module")
def world(workdir, registry, anonymous_registry, iam_world, puller_credentials):
    bin_dir = workdir / "helper-bin"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / NAME
    if not link.exists():
        link.symlink_to(provider.binary())
    port = lambda address: address.rsplit(":", 1)[1]  # noqa: E731
    ecr_host = aws.ecr_host(iam_world.region, iam_world.account_id)
    hosts_file = hosts.write(workdir / "hosts", [ecr_host, OTHER_HOST])
    recorder = Recorder(int(port(iam_world.url)), rewrite=live_expiry)
    try:
        yield World(f"{ecr_host}:{port(registry.address)}", f"{OTHER_HOST}:{port(anonymous_registry.address)}",
                    registry.repository, anonymous_registry.repository, registry.tag, hosts_file, bin_dir, recorder,
                    iam_world.users["puller"], puller_credentials[1])
    finally:
        recorder.close()


def live_expiry(exchange, status, answer):
    """A GetAuthorizationToken answer whose tokens expire in 12 hours, as ECR's do."""
    if exchange.operation != "GetAuthorizationToken" or status != 200:
        return status, answer
    body = json.loads(answer)
    data = body["authorizationData"]
    for entry in data if isinstance(data, list) else [data]:
        entry["expiresAt"] = time.time() + 12 * 3600
    return status, json.dumps(body).encode()


def consumer_env(world, home, **extra):
    """The consumer's environment, which its helper inherits: our helper first on PATH (this
    machine may have amazon-ecr-credential-helper in /usr/bin), AWS at the recorder."""
    env = {**provider.base_env(home), **provider.aws_env(world.recorder.url, world.keys),
           "PATH": f"{world.bin_dir}{os.pathsep}{BASE_PATH}", **{k: str(v) for k, v in extra.items()}}
    assert shutil.which(NAME, path=env["PATH"]) == str(world.bin_dir / NAME)
    return env


def cred_helpers(*registries):
    return {"credHelpers": {registry: "ecr-login" for registry in registries}}


def run(world, home, argv, **extra):
    """`argv` in the private hosts namespace; no AWS secret and no token on its output. `home`
    is HOME, so the helper's token cache (`~/.ecr` by default) is the test's own."""
    completed = subprocess.run(hosts.private(argv, world.hosts_file), capture_output=True, text=True,
                               timeout=180, env=consumer_env(world, home, **extra))
    for stream in ("stdout", "stderr"):
        provider.assert_no_secrets(getattr(completed, stream), [*world.keys.secrets, world.token], stream)
    return completed


def skopeo(world, tmp_path, auth, *args):
    """skopeo with `auth` as its only auth file, --debug so that it says which helper it asked."""
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps(auth))
    return run(world, tmp_path, [require_tool("skopeo", "apt-get install -y skopeo"), "--debug",
                                 "--insecure-policy", "--registries-conf", os.devnull, "copy",
                                 "--authfile", auth_file, "--src-tls-verify=false", *args])


def assert_token_calls(calls, world, region=aws.REGION):
    """At least one GetAuthorizationToken, each signed by the puller's key for the host's region."""
    assert calls and all(call.operation == "GetAuthorizationToken" for call in calls), calls
    assert {(call.scope.access_key_id, call.scope.region) for call in calls} == {(world.keys.access_key_id, region)}


def test_skopeo_pulls_from_an_ecr_host_with_the_helpers_credentials(world, image, tmp_path):
    mark = len(world.recorder.exchanges)
    target = tmp_path / "pulled"
    copied = skopeo(world, tmp_path, cred_helpers(world.ecr),
                    f"docker://{world.ecr}/{world.repository}:{world.tag}", f"dir:{target}")
    assert copied.returncode == 0, copied.stderr
    assert "credential helper ecr-login" in copied.stderr
    assert (target / "manifest.json").read_bytes() == image.manifest
    assert_token_calls(world.aws_calls_since(mark), world)


def test_skopeo_without_the_helper_is_refused(world, tmp_path):
    refused = skopeo(world, tmp_path, {}, f"docker://{world.ecr}/{world.repository}:{world.tag}",
                     f"dir:{tmp_path / 'pulled'}")
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower(), refused.stderr


def test_skopeo_pulls_another_registry_anonymously_and_the_helper_asks_aws_nothing(world, image, tmp_path):
    mark = len(world.recorder.exchanges)
    target = tmp_path / "pulled"
    copied = skopeo(world, tmp_path, cred_helpers(world.ecr, world.other),
                    f"docker://{world.other}/{world.other_repository}:{world.tag}", f"dir:{target}")
    assert copied.returncode == 0, copied.stderr
    # containers/image's words when a helper answers "credentials not found in native keychain".
    assert f"Not logged in to {world.other} with credential helper ecr-login" in copied.stderr, copied.stderr
    assert (target / "manifest.json").read_bytes() == image.manifest
    assert world.aws_calls_since(mark) == []


@pytest.fixture(scope="module")
def docker_daemon(world):
    daemon = Dockerd(world.hosts_file, [world.ecr, world.other])
    yield daemon
    daemon.stop()


def docker(world, daemon, home, *args, **extra):
    config = home / "docker-config"
    config.mkdir(exist_ok=True)
    (config / "config.json").write_text(json.dumps(cred_helpers(world.ecr, world.other)))
    return run(world, home, [require_tool("docker", "apt-get install -y docker.io"), "--config", config,
                             "-H", daemon.host, *args], **extra)


@pytest.mark.parametrize("which", ["ecr", "other"])
def test_the_docker_cli_pulls_through_its_daemon(world, docker_daemon, image, tmp_path, which):
    registry, repository = (world.ecr, world.repository) if which == "ecr" else (world.other, world.other_repository)
    reference = f"{registry}/{repository}:{world.tag}"
    mark = len(world.recorder.exchanges)
    pulled = docker(world, docker_daemon, tmp_path, "pull", reference)
    assert pulled.returncode == 0, f"{pulled.stdout}\n{pulled.stderr}\n{docker_daemon.logs()}"
    inspected = docker(world, docker_daemon, tmp_path, "image", "inspect", "--format", "{{json .RepoDigests}}",
                       reference)
    # One image, so after both pulls it has both registries' digests.
    assert f"{registry}/{repository}@{image.manifest_digest}" in json.loads(inspected.stdout), inspected
    if which == "ecr":
        assert_token_calls(world.aws_calls_since(mark), world)
    else:
        assert world.aws_calls_since(mark) == []


@pytest.mark.parametrize("disabled", [False, True], ids=["cached", "AWS_ECR_DISABLE_CACHE"])
def test_docker_pulls_share_one_token_through_home_ecr(world, docker_daemon, tmp_path, disabled):
    """Issue 22: as amazon-ecr-credential-helper, the helper caches tokens in ~/.ecr by default,
    so three `docker pull`s make one GetAuthorizationToken; AWS_ECR_DISABLE_CACHE (any value, as
    ecr-login reads it) makes it one a pull and writes nothing."""
    reference = f"{world.ecr}/{world.repository}:{world.tag}"
    extra = {"AWS_ECR_DISABLE_CACHE": "false"} if disabled else {}
    mark = len(world.recorder.exchanges)
    for _ in range(3):
        pulled = docker(world, docker_daemon, tmp_path, "pull", reference, **extra)
        assert pulled.returncode == 0, f"{pulled.stdout}\n{pulled.stderr}\n{docker_daemon.logs()}"
        assert "ecr-credential-provider:" not in pulled.stderr, pulled.stderr
    calls = world.aws_calls_since(mark)
    assert_token_calls(calls, world)
    cache = tmp_path / ".ecr"
    if disabled:
        assert len(calls) == 3, calls
        assert not cache.exists()
    else:
        assert len(calls) == 1, calls
        assert stat.S_IMODE(cache.stat().st_mode) == 0o700
        files = list(cache.iterdir())
        assert any(f.name.endswith(".json") for f in files), files
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), files
