"""The sample configs in examples/ work as shipped, through a kubelet-shaped harness."""

import os

import pytest

import kubelet
import provider
from servers import minimal_env

EXAMPLES = sorted((provider.ROOT / "examples").glob("*.yaml"))
ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1"
KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture()
def bin_dir(tmp_path):
    return tmp_path


def install(bin_dir, name):
    target = bin_dir / name
    if not target.exists():
        os.symlink(provider.binary(), target)


def test_there_are_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda path: path.name)
def test_each_example_config_serves_an_ecr_pull(config, bin_dir, moto, tmp_path):
    providers = kubelet.load_config(config)
    [chosen] = kubelet.matching(providers, ECR_IMAGE)
    assert not kubelet.matching(providers, "docker.io/library/busybox:latest")
    install(bin_dir, chosen.name)
    env = minimal_env(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=moto,
                      AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                      AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    extra = {}
    if chosen.token_attributes:
        extra = {"serviceAccountToken": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJleGFtcGxlIn0.c2ln",
                 "serviceAccountAnnotations": {"eks.amazonaws.com/ecr-role-arn": "arn:aws:iam::123456789012:role/pull"}}
    response, stderr = kubelet.exec_provider(chosen, bin_dir, ECR_IMAGE, env, **extra)
    assert SECRET not in stderr
    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert response["auth"][host]["username"] == "AWS"
    assert kubelet.parse_go_duration(response["cacheDuration"]) == 0  # moto's token expired in 2015


def test_the_kubelet_refuses_a_provider_that_fails(bin_dir, tmp_path):
    [chosen] = kubelet.load_config(EXAMPLES[0])
    install(bin_dir, chosen.name)
    env = minimal_env(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=str(tmp_path / "none"))
    with pytest.raises(kubelet.Rejected, match="could not load AWS credentials"):
        kubelet.exec_provider(chosen, bin_dir, ECR_IMAGE, env)
