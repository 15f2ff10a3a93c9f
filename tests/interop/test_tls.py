"""HTTPS endpoints signed by a private CA: trusted only through AWS_CA_BUNDLE, as upstream's Go
SDK trusts them (the Rust SDK alone ignores that variable)."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

import aws
import provider
from recorder import Recorder
from servers import require_tool

IMAGE = f"{aws.ecr_host()}/app"


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory):
    openssl = require_tool("openssl", "apt-get install -y openssl")
    root = tmp_path_factory.mktemp("ca")

    def sh(*args):
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=root)

    sh("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
       "-subj", "/CN=interop test CA")
    sh("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1")
    (root / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    sh("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem",
       "-days", "2", "-extfile", "ext.cnf")
    return root


@pytest.fixture
def https_moto(moto, private_ca):
    forwarder = Recorder(moto.port, tls=(private_ca / "leaf.pem", private_ca / "leaf.key"))
    yield forwarder
    forwarder.close()


def run(endpoint, **env):
    return provider.run(provider.request(IMAGE), env=provider.aws_env(endpoint, aws.NODE_KEYS, **env),
                        secrets=aws.NODE_KEYS.secrets)


def test_an_untrusted_endpoint_is_refused_with_a_hint(https_moto):
    result = run(https_moto.url)
    assert result.code == 1, result
    assert "certificate" in result.stderr and "AWS_CA_BUNDLE" in result.stderr, result
    assert not https_moto.exchanges, "no request got through the TLS handshake"


def test_aws_ca_bundle_makes_it_trusted(https_moto, private_ca):
    host, username, password = run(https_moto.url, AWS_CA_BUNDLE=private_ca / "ca.pem").only_auth()
    assert (host, username) == (aws.ecr_host(), "AWS") and password
    assert https_moto.only("GetAuthorizationToken").scope.region == aws.REGION


def test_an_unreadable_bundle_is_a_clear_error(https_moto, tmp_path):
    result = run(https_moto.url, AWS_CA_BUNDLE=tmp_path / "missing.pem")
    assert result.code == 1 and "could not read the CA bundle" in result.stderr, result


SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # the first bundle the provider looks for


def run_with_system_bundle(endpoint, bundle, mode, home, as_nobody=False):
    """The provider in a mount namespace of its own whose system CA bundle is `bundle` (with
    `mode`): a tmpfs over /etc/ssl/certs, so the host's files are never touched."""
    unshare = require_tool("unshare", "apt-get install -y util-linux mount")
    require_tool("mount", "apt-get install -y util-linux mount")
    assert os.path.isdir("/etc/ssl/certs"), "openssl's /etc/ssl/certs must exist to mount over it"
    user = [require_tool("setpriv", "apt-get install -y util-linux"), "--reuid=65534", "--regid=65534",
            "--clear-groups"] if as_nobody else []
    home.chmod(0o755)
    script = ('mount -t tmpfs -o mode=0755 tmpfs /etc/ssl/certs && cp "$0" ' + SYSTEM_BUNDLE +
              ' && chmod "$1" ' + SYSTEM_BUNDLE + ' && shift && exec "$@"')
    completed = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "--", "sh", "-c", script, str(bundle), mode,
         *user, str(provider.binary())],
        input=json.dumps(provider.request(IMAGE)), capture_output=True, text=True, timeout=60,
        env={**provider.base_env(home), **provider.aws_env(endpoint, aws.NODE_KEYS)})
    return completed


@pytest.mark.parametrize("fault", ["oversized", "unreadable", "no certificate"])
def test_a_system_bundle_that_gives_no_root_is_named_with_why(https_moto, tmp_path, fault):
    """The handshake can only say UnknownIssuer; the line also names the system's bundle and
    what is wrong with it."""
    bundle = tmp_path / "bundle.pem"
    if fault == "oversized":
        bundle.write_bytes(b"#" * (4 << 20) + b"#")
        why = f"the system's CA bundle {SYSTEM_BUNDLE} (from the distribution's CA bundles) is 4194305 bytes, more than"
    elif fault == "unreadable":
        bundle.write_bytes((provider.ROOT / "tests/data/isrg-root-x2.pem").read_bytes())
        why = f"could not read the system's CA bundle {SYSTEM_BUNDLE} (from the distribution's CA bundles): Permission denied"
    else:
        bundle.write_text("# nothing but a comment\n")
        why = f"the system's CA bundle {SYSTEM_BUNDLE} (from the distribution's CA bundles) holds no PEM certificate"
    # A home another user can reach: pytest's own tree is root's alone.
    with tempfile.TemporaryDirectory(prefix="provider-home-") as home:
        completed = run_with_system_bundle(https_moto.url, bundle, "0600" if fault == "unreadable" else "0644",
                                           Path(home), as_nobody=fault == "unreadable")
    assert completed.returncode == 1, completed
    [line] = completed.stderr.splitlines()
    assert "UnknownIssuer" in line, line
    assert f"; warning: {why}" in line and "none of the system's roots is trusted" in line, line
    assert not https_moto.exchanges
