"""Session fixtures: moto (plain and with IAM enforced), a recording forwarder, and the CNCF
registry with htpasswd auth. Every server binds 127.0.0.1 on a free port and is stopped at the
end of the session, whatever happened."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import oci  # noqa: E402
import provider  # noqa: E402
import recorder  # noqa: E402
from servers import Process, free_port, minimal_env  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"
REPOSITORY = "team/app"
TAG = "v1"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:{TAG}"
PULL_ACTIONS = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability"]


def require(tool):
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is not installed: .ci/run installs it (apt-get install docker-registry skopeo apache2-utils openssl)")
    return path


def start_moto(tmp, name, **env):
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.fail("moto is not installed: pip install -r tests/peers/requirements.txt")
    port = free_port()
    # Through this interpreter: a fresh pip install may have no shim for moto_server on PATH yet.
    server = Process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port, name,
                     env=minimal_env(**env), log=tmp / f"{name}.log")
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("interop")


@pytest.fixture(scope="session")
def moto(tmp):
    server, url = start_moto(tmp, "moto")
    yield url
    server.stop()


@pytest.fixture()
def recorded(moto):
    """A recording forwarder in front of moto, fresh for each test."""
    forwarder = recorder.start(int(moto.rsplit(":", 1)[1]))
    yield forwarder
    forwarder.server.shutdown()


def boto(service, url, key="setup", secret="setup"):
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret)


@pytest.fixture(scope="session")
def image_layout(tmp):
    manifest, manifest_digest, layer_digest = oci.build(tmp / "oci", TAG)
    return {"dir": tmp / "oci", "manifest": manifest, "digest": manifest_digest, "layer": layer_digest}


@pytest.fixture(scope="session")
def iam(tmp, image_layout):
    """moto with IAM enforced after setup: a user allowed only GetAuthorizationToken, and a
    user with the pull actions; the repository holds the image the registry serves."""
    users = {"token-only": ["ecr:GetAuthorizationToken"], "puller": PULL_ACTIONS}
    setup = []  # each entry is one AWS action, counted for moto's INITIAL_NO_AUTH_ACTION_COUNT
    keys = {}

    def plan(url):
        ecr, iam_client = boto("ecr", url), boto("iam", url)
        setup.append(lambda: ecr.create_repository(repositoryName=REPOSITORY))
        setup.append(lambda: ecr.put_image(repositoryName=REPOSITORY, imageTag=TAG,
                                           imageManifest=image_layout["manifest"].decode(),
                                           imageManifestMediaType=oci.MANIFEST_TYPE))
        for user, actions in users.items():
            # GetCallerIdentity needs no permission in AWS; moto enforces it like any action.
            policy = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": actions + ["sts:GetCallerIdentity"], "Resource": "*"}]}
            setup.append(lambda user=user: iam_client.create_user(UserName=user))
            setup.append(lambda user=user, policy=policy: iam_client.put_user_policy(
                UserName=user, PolicyName="ecr", PolicyDocument=json.dumps(policy)))
            setup.append(lambda user=user: keys.__setitem__(
                user, iam_client.create_access_key(UserName=user)["AccessKey"]))

    plan(None)
    count = len(setup)
    setup.clear()
    server, url = start_moto(tmp, "moto-iam", INITIAL_NO_AUTH_ACTION_COUNT=str(count))
    try:
        plan(url)
        for action in setup:
            action()
        yield {"url": url, "keys": {user: (k["AccessKeyId"], k["SecretAccessKey"]) for user, k in keys.items()}}
    finally:
        server.stop()


def provider_env(url, key, secret, **extra):
    return {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, **extra}


@pytest.fixture(scope="session")
def registry_password(iam):
    """The password the provider returns for the puller: the registry is set up to accept it."""
    key, secret = iam["keys"]["puller"]
    response = provider.run(provider.request(IMAGE), env=provider_env(iam["url"], key, secret), secrets=[secret]).response()
    return next(iter(response["auth"].values()))["password"]


@pytest.fixture(scope="session")
def registry(tmp, registry_password, image_layout):
    """docker-registry on loopback with htpasswd (bcrypt) for AWS:<the provider's password>,
    serving the image pushed with skopeo."""
    require("docker-registry")
    require("skopeo")
    htpasswd = require("htpasswd")
    root = tmp / "registry"
    root.mkdir()
    (root / "htpasswd").write_bytes(subprocess.run(
        [htpasswd, "-nbB", "AWS", registry_password], check=True, capture_output=True).stdout)
    port = free_port()
    (root / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: " + str(root / "data") +
        "\nhttp:\n  addr: 127.0.0.1:" + str(port) + "\nauth:\n  htpasswd:\n    realm: interop\n    path: " +
        str(root / "htpasswd") + "\n")
    server = Process(["docker-registry", "serve", str(root / "config.yml")], port, "docker-registry",
                     env=minimal_env(), log=tmp / "registry.log")
    try:
        address = f"127.0.0.1:{port}"
        skopeo("copy", f"oci:{image_layout['dir']}:{TAG}", f"docker://{address}/{REPOSITORY}:{TAG}",
               "--dest-creds", f"AWS:{registry_password}", "--dest-tls-verify=false", home=tmp)
        yield {"address": address, "url": f"http://{address}"}
    finally:
        server.stop()


def skopeo(*args, home, check=True):
    completed = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, timeout=60,
                               env=minimal_env(HOME=str(home)))
    if check and completed.returncode != 0:
        raise AssertionError(f"skopeo {args[0]} failed: {completed.stderr.decode()}")
    return completed
