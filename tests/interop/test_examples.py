"""The sample configs in examples/ work as shipped, through the kubelet harness: each config's
provider matches an ECR image, runs from a bin dir under its configured name with its args and
env, and answers with a response the kubelet decodes strictly."""

import pytest

import aws
import kubelet
import provider

EXAMPLES = sorted((provider.ROOT / "examples").glob("*.yaml"))
REQUIRED = {"credential-provider-config.yaml", "credential-provider-config-kops.yaml",
            "credential-provider-config-service-account.yaml"}
ECR_IMAGE = f"{aws.ecr_host('us-east-1')}/team/app:v1"


def install(bin_dir, name):
    """The binary under test in a kubelet bin dir, under the name the config gives its provider."""
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).symlink_to(provider.binary())
    return bin_dir


def test_the_sample_configs_are_all_there():
    assert REQUIRED <= {path.name for path in EXAMPLES}


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda path: path.stem)
def test_each_sample_config_serves_an_ecr_pull(config, recorder, tmp_path):
    [chosen] = kubelet.matching(kubelet.load_config(config), ECR_IMAGE)
    bin_dir = install(tmp_path / "bin", chosen.name)
    environ = {**kubelet.minimal_environ(), **provider.base_env(tmp_path),
               **provider.aws_env(recorder.url, aws.NODE_KEYS)}
    account = None
    if chosen.token_attributes:  # the kubelet passes the pod's service-account token
        account = kubelet.ServiceAccount(aws.SERVICE_ACCOUNT_TOKEN, {aws.ROLE_ANNOTATION: aws.ROLE_ARN})

    result = kubelet.exec_provider(chosen, bin_dir, ECR_IMAGE, environ, service_account=account)

    entry = result.response["auth"][aws.ecr_host("us-east-1")]
    secrets = [*aws.NODE_KEYS.secrets, aws.SERVICE_ACCOUNT_TOKEN, entry["password"]]
    provider.assert_no_secrets(result.stderr, secrets, "stderr")
    assert result.request["image"] == kubelet.repository(ECR_IMAGE)
    assert entry["username"] == "AWS" and entry["password"]
    assert kubelet.parse_go_duration(result.response["cacheDuration"]) == 0  # moto's token expired in 2015
    assert recorder.only("GetAuthorizationToken").scope.region == "us-east-1"
    assert len(recorder.calls("AssumeRoleWithWebIdentity")) == (1 if account else 0)


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda path: path.stem)
def test_a_non_ecr_image_matches_no_provider(config):
    assert kubelet.matching(kubelet.load_config(config), "docker.io/library/busybox") == []
