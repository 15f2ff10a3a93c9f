"""HTTPS endpoints signed by a private CA: trusted only through AWS_CA_BUNDLE, as upstream's Go
SDK trusts them (the Rust SDK alone ignores that variable)."""

import subprocess

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
