"""KEP-4412: the kubelet passes the pod's service-account token; the provider trades it with STS
AssumeRoleWithWebIdentity (moto implements it) and calls ECR with the role's credentials. The
recorder shows what went over the wire; no node keys are in the environment at all."""

import xml.etree.ElementTree as ElementTree

import pytest

import aws
import provider
from aws import Keys

ROLE, ANNOTATION, TOKEN = aws.ROLE_ARN, aws.ROLE_ANNOTATION, aws.SERVICE_ACCOUNT_TOKEN
OTHER_ROLE = f"arn:aws:iam::{aws.ACCOUNT}:role/node-default"


def returned_credentials(sts_exchange):
    """The credentials in moto's AssumeRoleWithWebIdentity answer (XML, any namespace)."""
    root = ElementTree.fromstring(sts_exchange.answer)
    values = {element.tag.rsplit("}", 1)[-1]: element.text for element in root.iter()}
    return Keys(values["AccessKeyId"], values["SecretAccessKey"], values["SessionToken"])


@pytest.mark.parametrize("trace", [None, "text", "json"])
@pytest.mark.parametrize("annotations, env", [
    pytest.param({ANNOTATION: ROLE}, {}, id="annotation"),
    pytest.param({}, {"AWS_ECR_ROLE_ARN": ROLE}, id="AWS_ECR_ROLE_ARN"),
    pytest.param({ANNOTATION: ROLE}, {"AWS_ECR_ROLE_ARN": OTHER_ROLE}, id="annotation-over-env"),
])
def test_the_token_is_traded_for_the_roles_credentials(recorder, annotations, env, trace):
    """Also with the provider's trace on: the most it ever writes to stderr, still without secrets."""
    host = aws.ecr_host("eu-west-1")
    if trace:
        env = {**env, "ECR_CREDENTIAL_PROVIDER_TRACE": trace}
    request = provider.request(f"{host}/team/app", serviceAccountToken=TOKEN, serviceAccountAnnotations=annotations)
    run = provider.run(request, env=provider.aws_env(recorder.url, **env), secrets=[TOKEN])
    assert ("GetAuthorizationToken" in run.stderr) == bool(trace), run

    sts = recorder.only("AssumeRoleWithWebIdentity")
    assert sts.scope is None, "AssumeRoleWithWebIdentity is an unsigned call"
    role = returned_credentials(sts)
    provider.assert_no_secrets(run.stderr, role.secrets, "stderr")
    assert set(run.response()["auth"]) == {host}
    form = sts.form()
    assert form["WebIdentityToken"] == TOKEN
    assert (form["RoleArn"], form["RoleSessionName"]) == (ROLE, "ecr-credential-provider")

    ecr = recorder.only("GetAuthorizationToken")
    assert recorder.exchanges.index(sts) < recorder.exchanges.index(ecr)
    assert (ecr.scope.access_key_id, ecr.scope.region) == (role.access_key_id, "eu-west-1")
    assert ecr.headers.get("x-amz-security-token") == role.session_token


def test_without_a_role_the_token_is_ignored(recorder):
    """No annotation and no AWS_ECR_ROLE_ARN: the default chain, which here has nothing."""
    request = provider.request(f"{aws.ecr_host()}/team/app", serviceAccountToken=TOKEN)
    run = provider.run(request, env=provider.aws_env(recorder.url), secrets=[TOKEN])
    assert run.code != 0 and run.stdout == ""
    assert "credential" in run.stderr.lower(), run
    assert recorder.calls("AssumeRoleWithWebIdentity") == []


def test_without_a_token_the_role_is_not_assumed(recorder):
    """AWS_ECR_ROLE_ARN on the node does not change pulls that carry no service-account token."""
    env = provider.aws_env(recorder.url, aws.NODE_KEYS, AWS_ECR_ROLE_ARN=ROLE)
    run = provider.run(provider.request(f"{aws.ecr_host()}/team/app"), env=env, secrets=aws.NODE_KEYS.secrets)
    assert run.only_auth()[0] == aws.ecr_host()
    assert recorder.calls("AssumeRoleWithWebIdentity") == []
    assert recorder.only("GetAuthorizationToken").scope.access_key_id == aws.NODE_KEYS.access_key_id
