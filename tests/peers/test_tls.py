"""HTTPS endpoints signed by a private CA: trusted only through AWS_CA_BUNDLE, as upstream."""

import subprocess

import pytest

import provider
import recorder
from conftest import require
from test_moto import KEY, SECRET

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app"


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory):
    openssl = require("openssl")
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


@pytest.fixture()
def https_moto(moto, private_ca):
    forwarder = recorder.start(int(moto.rsplit(":", 1)[1]), tls=(private_ca / "leaf.pem", private_ca / "leaf.key"))
    yield forwarder
    forwarder.server.shutdown()


def env(url, **extra):
    return {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, **extra}


def test_an_untrusted_endpoint_is_refused_with_a_hint(https_moto):
    line = provider.run(provider.request(IMAGE), env=env(https_moto.url), secrets=[SECRET]).error_line()
    assert "certificate" in line and "AWS_CA_BUNDLE" in line


def test_aws_ca_bundle_makes_it_trusted(https_moto, private_ca):
    run = provider.run(provider.request(IMAGE), env=env(https_moto.url, AWS_CA_BUNDLE=private_ca / "ca.pem"), secrets=[SECRET])
    assert run.response()["auth"]["123456789012.dkr.ecr.us-east-1.amazonaws.com"]["password"]
    assert https_moto.calls("GetAuthorizationToken")


def test_an_unreadable_bundle_is_a_clear_error(https_moto, tmp_path):
    line = provider.run(provider.request(IMAGE), env=env(https_moto.url, AWS_CA_BUNDLE=tmp_path / "missing.pem"),
                        secrets=[SECRET]).error_line()
    assert "could not read the CA bundle" in line
