"""Session fixtures for the interop suite: the real peers, each on a free 127.0.0.1 port, started
once and stopped whatever happens (see servers.py).

- `moto`: moto_server, any keys accepted.
- `recorder`: a fresh recording forwarder in front of `moto` for each test.
- `iam_world`: a second moto that enforces IAM after its setup (a repository with an image, the
  users `token-only` and `puller`); reusable by any suite that needs the least-privilege 403.
- `registry`: docker-registry with htpasswd auth for the credentials the provider returned to
  `puller`, holding the image built by `image` (pushed with skopeo).
- `anonymous_registry`: docker-registry without auth holding the same image: a registry that is
  not ECR.
"""

import os

import pytest

try:
    import bcrypt  # noqa: F401
    import boto3  # noqa: F401
    import moto.server  # noqa: F401
    import yaml  # noqa: F401
except ImportError as missing:
    raise ImportError(f"{missing}; install the suite's requirements: "
                      "python3 -m pip install -r tests/interop/requirements.txt") from missing

import aws
import oci
import provider
import registry as registry_peer
from recorder import Recorder


def pytest_configure(config):
    """boto3 runs in this process: keep it on loopback and off this machine's AWS settings and
    proxies (the provider and the peers get environments built from scratch anyway)."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            del os.environ[name]
    os.environ.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull,
                      AWS_SHARED_CREDENTIALS_FILE=os.devnull, NO_PROXY="127.0.0.1,localhost")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("interop")


@pytest.fixture(scope="session")
def moto(workdir):
    server = aws.start_moto("moto", workdir)
    yield server
    server.stop()


@pytest.fixture
def recorder(moto):
    forwarder = Recorder(moto.port)
    yield forwarder
    forwarder.close()


@pytest.fixture(scope="session")
def image(workdir):
    return oci.build(workdir / "oci-layout")


@pytest.fixture(scope="session")
def iam_world(workdir, image):
    """aws.IamWorld: url, account_id, region, repository, tag, users {name: Keys}."""
    world, server = aws.build_iam_world(workdir, image)
    yield world
    server.stop()


@pytest.fixture(scope="session")
def puller_credentials(iam_world):
    """(username, password) from the provider's stdout for the `puller` identity."""
    keys = iam_world.users["puller"]
    run = provider.run(provider.request(iam_world.image), env=provider.aws_env(iam_world.url, keys),
                       secrets=keys.secrets)
    host, username, password = run.only_auth()
    assert host == aws.ecr_host(iam_world.region, iam_world.account_id)
    return username, password


@pytest.fixture(scope="session")
def registry(workdir, puller_credentials, image, iam_world):
    """registry.Registry serving `image` as REPOSITORY:TAG, only to the puller's credentials."""
    username, password = puller_credentials
    server = registry_peer.start(workdir / "registry", username, password)
    try:
        served = registry_peer.Registry(f"127.0.0.1:{server.port}", iam_world.repository, image.tag)
        registry_peer.skopeo("copy", f"oci:{image.layout}:{image.tag}", served.reference,
                             "--dest-creds", f"{username}:{password}", "--dest-tls-verify=false", home=workdir)
        yield served
    finally:
        server.stop()


@pytest.fixture(scope="session")
def anonymous_registry(workdir, image):
    """registry.Registry serving `image` as library/hello:TAG to anyone."""
    server = registry_peer.start(workdir / "anonymous-registry")
    try:
        served = registry_peer.Registry(f"127.0.0.1:{server.port}", "library/hello", image.tag)
        registry_peer.skopeo("copy", f"oci:{image.layout}:{image.tag}", served.reference, "--dest-tls-verify=false",
                             home=workdir)
        yield served
    finally:
        server.stop()
