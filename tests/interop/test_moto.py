"""The provider against moto, an implementation of ECR and STS that nobody here wrote.

moto has no ECR Public (its GetAuthorizationToken answers 500), so public.ecr.aws is not tested
here; the Rust suite's stand-in covers that API.
"""

import base64

import pytest

import aws
import kubelet
import provider
from aws import NODE_KEYS


def moto_password(moto_url):
    """The password moto itself hands out, decoded from its authorizationToken (AWS:<password>)."""
    data = aws.client("ecr", moto_url).get_authorization_token()["authorizationData"][0]
    username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    assert username == "AWS"
    return password


@pytest.mark.parametrize("version", provider.VERSIONS)
def test_each_request_version_is_answered_in_kind(moto, version):
    run = provider.run(provider.request(f"{aws.ecr_host()}/team/app", version),
                       env=provider.aws_env(moto.url, NODE_KEYS), secrets=NODE_KEYS.secrets)
    response = kubelet.decode_response(run.stdout, version)
    assert response["apiVersion"] == version
    assert response["cacheKeyType"] == "Registry"
    assert response["auth"] == {aws.ecr_host(): {"username": "AWS", "password": moto_password(moto.url)}}
    # moto's tokens expire on 2015-01-01: a token that is already expired must not be cached.
    assert response["cacheDuration"] == "0s"


@pytest.mark.parametrize("host, region", [
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "us-east-1"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "eu-west-1"),
    ("123456789012.dkr.ecr.ap-southeast-2.amazonaws.com", "ap-southeast-2"),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1"),
    ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "us-east-1"),
    ("123456789012.dkr-ecr.us-west-2.on.aws", "us-west-2"),  # dual-stack
    ("123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", "eusc-de-east-1"),  # European Sovereign Cloud
])
def test_the_request_is_signed_for_the_hosts_region(recorder, host, region):
    env = provider.aws_env(recorder.url, NODE_KEYS, AWS_REGION="sa-east-1")  # the host's region wins
    run = provider.run(provider.request(f"{host}/team/app"), env=env, secrets=NODE_KEYS.secrets)
    assert set(run.response()["auth"]) == {host}
    call = recorder.only("GetAuthorizationToken")
    assert call.status == 200
    assert (call.scope.access_key_id, call.scope.region, call.scope.service) == (NODE_KEYS.access_key_id, region, "ecr")


def test_no_credentials_at_all_is_a_clean_failure(moto):
    run = provider.run(provider.request(f"{aws.ecr_host()}/app"), env=provider.aws_env(moto.url))
    assert run.code != 0
    assert run.stdout == ""
    assert "credential" in run.stderr.lower(), run


def test_keys_moto_does_not_know_are_a_clean_failure(iam_world):
    stranger = aws.Keys("AKIASTRANGERSTRANGER", "stranger-secret-key-not-known-to-moto")
    run = provider.run(provider.request(iam_world.image), env=provider.aws_env(iam_world.url, stranger),
                       secrets=stranger.secrets)
    assert run.code != 0
    assert run.stdout == ""
    assert "InvalidClientTokenId" in run.stderr, run  # moto's answer, passed on to the kubelet's log
