"""The 403 users hit, reproduced with moto's IAM enforcement: an identity allowed only
ecr:GetAuthorizationToken gets a token from the provider, yet is denied the pull itself.

moto answers a denial in XML, code AccessDenied, even for JSON-protocol ECR where AWS says
AccessDeniedException: the tests look at the status and the message. moto checks IAM before it
dispatches, but implements neither GetDownloadUrlForLayer nor BatchCheckLayerAvailability (500).
"""

import botocore.exceptions
import pytest

import aws
import provider

PULL_CALLS = {
    "BatchGetImage": lambda ecr, world, image: ecr.batch_get_image(
        repositoryName=world.repository, imageIds=[{"imageTag": world.tag}]),
    "GetDownloadUrlForLayer": lambda ecr, world, image: ecr.get_download_url_for_layer(
        repositoryName=world.repository, layerDigest=image.layer_digest),
    "BatchCheckLayerAvailability": lambda ecr, world, image: ecr.batch_check_layer_availability(
        repositoryName=world.repository, layerDigests=[image.layer_digest]),
}


def answer(call):
    """The answer's metadata and error, whether the call succeeded or raised."""
    try:
        return call()
    except botocore.exceptions.ClientError as error:
        return error.response


def test_after_the_setup_moto_enforces_iam(iam_world):
    stranger = aws.Keys("AKIASTRANGERSTRANGER", "not-a-key-moto-issued")
    ecr = aws.client("ecr", iam_world.url, stranger, iam_world.region)
    refused = answer(lambda: ecr.describe_repositories())
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "InvalidClientTokenId" in str(refused["Error"])


@pytest.mark.parametrize("user", ["token-only", "puller"])
def test_both_identities_get_a_token_from_the_provider(iam_world, user):
    keys = iam_world.users[user]
    run = provider.run(provider.request(iam_world.image), env=provider.aws_env(iam_world.url, keys),
                       secrets=keys.secrets)
    host, username, password = run.only_auth()
    assert (host, username) == (aws.ecr_host(iam_world.region, iam_world.account_id), "AWS")
    assert password


@pytest.mark.parametrize("action", PULL_CALLS)
def test_a_token_only_identity_is_denied_each_pull_action(iam_world, image, action):
    denied = answer(lambda: PULL_CALLS[action](iam_world.ecr("token-only"), iam_world, image))
    assert denied["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "AccessDenied" in denied["Error"]["Message"]
    assert f"user/token-only is not authorized to perform: ecr:{action}" in denied["Error"]["Message"]


@pytest.mark.parametrize("action", PULL_CALLS)
def test_iam_lets_a_puller_through_for_each_pull_action(iam_world, image, action):
    allowed = answer(lambda: PULL_CALLS[action](iam_world.ecr("puller"), iam_world, image))
    assert allowed["ResponseMetadata"]["HTTPStatusCode"] != 403, allowed.get("Error")


def test_a_puller_gets_the_image(iam_world, image):
    pulled = PULL_CALLS["BatchGetImage"](iam_world.ecr("puller"), iam_world, image)
    assert pulled["failures"] == []
    [found] = pulled["images"]
    assert found["imageId"]["imageTag"] == iam_world.tag
    assert found["imageManifest"].encode() == image.manifest
