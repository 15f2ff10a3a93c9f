"""The credentials the provider returned authenticate a real pull from a real registry (the CNCF
distribution registry, with skopeo as the client); other credentials are refused."""

import json

import pytest

import oci
from registry import skopeo


def test_the_returned_credentials_inspect_the_image(registry, puller_credentials, image, workdir):
    username, password = puller_credentials
    inspected = skopeo("inspect", "--creds", f"{username}:{password}", "--tls-verify=false",
                       registry.reference, home=workdir)
    assert json.loads(inspected.stdout)["Digest"] == image.manifest_digest


def test_the_returned_credentials_pull_the_image(registry, puller_credentials, image, workdir):
    username, password = puller_credentials
    target = workdir / "pulled"
    skopeo("copy", "--src-creds", f"{username}:{password}", "--src-tls-verify=false", registry.reference,
           f"dir:{target}", home=workdir)
    assert (target / "manifest.json").read_bytes() == image.manifest
    layer = (target / image.layer_digest.split(":", 1)[1]).read_bytes()
    assert oci.sha256(layer) == image.layer_digest


@pytest.mark.parametrize("credentials", [
    pytest.param("AWS:not-the-token", id="wrong-password"),
    pytest.param("AWS:", id="empty-password"),
    pytest.param("NOTAWS:{password}", id="wrong-user"),
    pytest.param(None, id="anonymous"),
])
def test_other_credentials_are_refused(registry, puller_credentials, workdir, credentials):
    creds = ["--creds", credentials.format(password=puller_credentials[1])] if credentials else []
    refused = skopeo("inspect", *creds, "--tls-verify=false", registry.reference, home=workdir, check=False)
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower(), refused.stderr
