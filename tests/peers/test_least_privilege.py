"""The 403 users hit, reproduced with moto's IAM enforcement: an identity that may get a token
but not read the repository. The provider succeeds; the pull would not; `check` says why."""

import json

import boto3
import botocore.exceptions
import pytest

import provider
from conftest import IMAGE, REGION, REPOSITORY, TAG, provider_env


def batch_get_image(iam, user):
    key, secret = iam["keys"][user]
    ecr = boto3.client("ecr", endpoint_url=iam["url"], region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret)
    return ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": TAG}])


def test_a_token_only_identity_gets_a_token(iam):
    key, secret = iam["keys"]["token-only"]
    response = provider.run(provider.request(IMAGE), env=provider_env(iam["url"], key, secret), secrets=[secret]).response()
    assert next(iter(response["auth"].values()))["password"]


def test_but_is_denied_batch_get_image_while_a_puller_is_not(iam):
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        batch_get_image(iam, "token-only")
    # moto answers IAM denials in XML even for JSON-protocol ECR: boto3 sees code "403".
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "not authorized to perform: ecr:BatchGetImage" in str(denied.value)
    assert batch_get_image(iam, "puller")["images"], "the puller reads the image"


def check(iam, registry, user, *args):
    key, secret = iam["keys"][user]
    return provider.run(env=provider_env(iam["url"], key, secret), secrets=[secret], report=True,
                        args=["check", IMAGE, "--registry-endpoint", registry["url"], *args])


def test_check_names_the_missing_action_and_the_managed_policy(iam, registry, registry_password):
    run = check(iam, registry, "token-only")
    assert run.code == 1, run
    assert "✓ token" in run.stdout
    assert "✗ repository  BatchGetImage on arn:aws:ecr:us-east-1:123456789012:repository/team/app failed" in run.stdout
    assert "ecr:BatchGetImage" in run.stdout and "AmazonEC2ContainerRegistryPullOnly" in run.stdout
    assert "result: no: repository failed" in run.stdout
    assert registry_password not in run.stdout


def test_check_passes_for_a_puller_against_the_real_registry(iam, registry, image_layout):
    run = check(iam, registry, "puller", "--json")
    assert run.code == 0, run
    report = json.loads(run.stdout)
    steps = {step["name"]: step for step in report["steps"]}
    assert report["pullable"] is True
    # moto digests the manifest as it re-serialized it, so only the registry's digest is exact.
    assert steps["repository"]["status"] == "pass" and "BatchGetImage: v1 is sha256:" in steps["repository"]["detail"]
    assert steps["registry"]["status"] == "pass" and image_layout["digest"] in steps["registry"]["detail"]
    assert steps["download"]["status"] == "pass"
