"""The provider against moto, a real implementation of ECR and STS that nobody here wrote.
moto has no ECR Public: that API is covered by the Rust suite's stand-in (tests/it)."""

import re

import pytest

import provider
from conftest import provider_env

KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize("version", [provider.V1, provider.V1BETA1, provider.V1ALPHA1])
def test_each_request_version_is_answered_in_kind(moto, version):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app"
    response = provider.run(provider.request(image, version), env=provider_env(moto, KEY, SECRET), secrets=[SECRET]).response()
    assert response["apiVersion"] == version
    assert response["cacheKeyType"] == "Registry"
    auth = response["auth"]["123456789012.dkr.ecr.us-east-1.amazonaws.com"]
    assert auth["username"] == "AWS" and auth["password"]
    # moto's tokens expired in 2015: an already-expired token must not be cached.
    assert response["cacheDuration"] == "0s"


@pytest.mark.parametrize("host, region", [
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "us-east-1"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "eu-west-1"),
    ("123456789012.dkr.ecr.ap-southeast-2.amazonaws.com", "ap-southeast-2"),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1"),
    ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "us-east-1"),
    ("123456789012.dkr-ecr.us-west-2.on.aws", "us-west-2"),
])
def test_the_region_comes_from_the_host(recorded, host, region):
    env = provider_env(recorded.url, KEY, SECRET, AWS_REGION="sa-east-1")
    response = provider.run(provider.request(f"{host}/app"), env=env, secrets=[SECRET]).response()
    assert set(response["auth"]) == {host}
    [call] = recorded.calls("GetAuthorizationToken")
    assert call.scope() == (KEY, region, "ecr")


ROLE = "arn:aws:iam::123456789012:role/pull"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwczpwdWxsZXIifQ.c2lnbmF0dXJl"


def _returned_key(sts_call):
    return re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", sts_call.response).group(1)


@pytest.mark.parametrize("annotations, env", [
    ({"eks.amazonaws.com/ecr-role-arn": ROLE}, {}),
    ({}, {"AWS_ECR_ROLE_ARN": ROLE}),
])
def test_service_account_token_is_traded_for_the_role(recorded, annotations, env):
    stdin = provider.request("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app",
                             serviceAccountToken=JWT, serviceAccountAnnotations=annotations)
    response = provider.run(stdin, env={"AWS_ENDPOINT_URL": recorded.url, **env}, secrets=[JWT]).response()
    assert response["auth"]["123456789012.dkr.ecr.eu-west-1.amazonaws.com"]["password"]
    [sts] = recorded.calls("AssumeRoleWithWebIdentity")
    form = sts.form()
    assert (form["WebIdentityToken"], form["RoleArn"], form["RoleSessionName"]) == (JWT, ROLE, "ecr-credential-provider")
    [ecr] = recorded.calls("GetAuthorizationToken")
    assert ecr.scope() == (_returned_key(sts), "eu-west-1", "ecr")
    assert "x-amz-security-token" in ecr.headers


def test_a_host_that_is_not_ecr_needs_a_default_region(moto):
    env = provider_env(moto, KEY, SECRET)
    run = provider.run(provider.request("docker.io/library/busybox"), env=env, secrets=[SECRET])
    assert "no AWS region for docker.io" in run.error_line()
    env["AWS_REGION"] = "eu-central-1"
    response = provider.run(provider.request("docker.io/library/busybox"), env=env, secrets=[SECRET]).response()
    assert set(response["auth"]) == {"docker.io"}
