"""The harness itself: a harness that accepts anything proves nothing."""

import pytest

import kubelet

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize("glob, image, expected", [
    ("*.dkr.ecr.*.amazonaws.com", f"{ECR}/app", True),
    ("*.dkr.ecr.*.amazonaws.com", f"{ECR}", True),
    ("*.amazonaws.com", f"{ECR}/app", False),
    ("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", False),
    ("*.dkr.ecr.*.amazonaws.com.cn", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", True),
    ("public.ecr.aws", "public.ecr.aws/nginx/nginx", True),
    ("public.ecr.aws", "docker.io/library/busybox", False),
    ("registry.example:5000", "registry.example/app", False),
    ("registry.example:5000", "registry.example:5000/app", True),
    ("registry.example/team", "registry.example/team/app", True),
    ("registry.example/team", "registry.example/other/app", False),
    ("123456789012.dkr.ecr.us-*.amazonaws.com", f"{ECR}/app", True),
    ("123456789012.dkr.ecr.eu-*.amazonaws.com", f"{ECR}/app", False),
])
def test_match_images_per_label(glob, image, expected):
    assert kubelet.urls_match(glob, image) is expected


@pytest.mark.parametrize("text, seconds", [
    ("6h0m0s", 21600), ("59m59.5s", 3599.5), ("0s", 0), ("0", 0), ("1.5h", 5400), ("300ms", 0.3), ("2h45m", 9900),
])
def test_go_durations(text, seconds):
    assert kubelet.parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["3600", "", "s", "6 h", "1e3s", "h1", 3600])
def test_not_go_durations(text):
    with pytest.raises(ValueError):
        kubelet.parse_go_duration(text)


V1 = "credentialprovider.kubelet.k8s.io/v1"
GOOD = {"kind": "CredentialProviderResponse", "apiVersion": V1, "cacheKeyType": "Registry",
        "cacheDuration": "6h0m0s", "auth": {ECR: {"username": "AWS", "password": "p"}}}


def test_a_good_response_decodes():
    import json
    assert kubelet.decode_response(json.dumps(GOOD), V1)["auth"][ECR]["username"] == "AWS"


@pytest.mark.parametrize("text", [
    "",
    "not json",
    '{"kind":"CredentialProviderResponse","kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"Registry"}' % V1,
    '{"Kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"Registry"}' % V1,
    '{"kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"Registry","extra":1}' % V1,
    '{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","cacheKeyType":"Registry"}',
    '{"kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"registry"}' % V1,
    '{"kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"Registry","cacheDuration":3600}' % V1,
    '{"kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"Registry","auth":{"h":{"username":"a","token":"t"}}}' % V1,
    '{"kind":"CredentialProviderRequest","apiVersion":"%s","cacheKeyType":"Registry"}' % V1,
])
def test_the_kubelet_refuses(text):
    with pytest.raises(kubelet.Rejected):
        kubelet.decode_response(text, V1)


def test_configs_are_decoded_strictly(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n"
                    "  - name: p\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    matchImages: ['*.x']\n"
                    "    defaultCacheDuration: 12h\n    matchImage: typo\n")
    with pytest.raises(kubelet.Rejected, match="matchImage"):
        kubelet.load_config(path)


def test_repository_drops_tag_and_digest():
    assert kubelet.repository(f"{ECR}/team/app:v1") == f"{ECR}/team/app"
    assert kubelet.repository(f"{ECR}/app@sha256:{'a' * 64}") == f"{ECR}/app"
    assert kubelet.repository("localhost:5000/app:v1") == "localhost:5000/app"
