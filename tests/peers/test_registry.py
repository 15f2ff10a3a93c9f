"""The credentials the provider returns authenticate a real pull from a real registry."""

import json

import provider
from conftest import IMAGE, REPOSITORY, TAG, provider_env, skopeo


def test_the_returned_credentials_pull_from_the_registry(iam, registry, image_layout, tmp):
    key, secret = iam["keys"]["puller"]
    response = provider.run(provider.request(IMAGE), env=provider_env(iam["url"], key, secret), secrets=[secret]).response()
    auth = next(iter(response["auth"].values()))
    creds = f"{auth['username']}:{auth['password']}"
    source = f"docker://{registry['address']}/{REPOSITORY}:{TAG}"
    inspected = json.loads(skopeo("inspect", "--creds", creds, "--tls-verify=false", source, home=tmp).stdout)
    assert inspected["Digest"] == image_layout["digest"]
    target = tmp / "pulled"
    skopeo("copy", "--src-creds", creds, "--src-tls-verify=false", source, f"dir:{target}", home=tmp)
    assert (target / "manifest.json").read_bytes() == image_layout["manifest"]


def test_wrong_credentials_are_refused(registry, tmp):
    source = f"docker://{registry['address']}/{REPOSITORY}:{TAG}"
    refused = skopeo("inspect", "--creds", "AWS:not-the-token", "--tls-verify=false", source, home=tmp, check=False)
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.decode().lower()
