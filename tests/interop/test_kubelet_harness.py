"""The kubelet harness itself: a harness that accepts anything proves nothing."""

import json
import sys
import textwrap
import time

import pytest

import kubelet
from kubelet import BadPattern, ExecFailed, Rejected

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
V1, V1BETA1 = kubelet.REQUEST_VERSIONS[:2]


@pytest.mark.parametrize("pattern, name, expected", [
    ("*", "anything", True),
    ("*", "", True),
    ("a*", "abc", True),
    ("a*c", "abc", True),
    ("a*c", "abd", False),
    ("a*b*c", "axxbyyc", True),
    ("dkr-ecr*", "dkr-ecr-fips", True),
    ("?", "a", True),
    ("?", "ab", False),
    ("us-?ast-1", "us-east-1", True),
    ("[a-c]", "b", True),
    ("[a-c]", "d", False),
    ("[^a-c]", "d", True),
    ("[^a-c]", "b", False),
    ("[\\]]", "]", True),
    ("\\*", "*", True),
    ("\\*", "x", False),
    ("*", "a/b", False),
    ("a?b", "a/b", False),
    ("ECR", "ecr", False),
])
def test_go_filepath_match(pattern, name, expected):
    assert kubelet.go_match(pattern, name) is expected


@pytest.mark.parametrize("pattern, name", [
    ("[", "a"), ("[]", "a"), ("[a-]", "a"), ("[^]", "a"), ("a\\", "a"), ("[z-", "a"),
    ("x[", "y"),  # Go checks the whole pattern even after the name failed to match
    ("*x[", "y"),
])
def test_go_filepath_match_bad_patterns(pattern, name):
    with pytest.raises(BadPattern):
        kubelet.go_match(pattern, name)


@pytest.mark.parametrize("glob, image, expected", [
    ("*.dkr.ecr.*.amazonaws.com", f"{ECR}/app", True),
    ("*.dkr.ecr.*.amazonaws.com", ECR, True),
    ("*.amazonaws.com", f"{ECR}/app", False),  # label counts differ
    ("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", False),
    ("*.dkr.ecr.*.amazonaws.com.cn", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", True),
    ("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app", False),
    ("*.dkr.ecr-fips.*.amazonaws.com", "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app", True),
    ("*.dkr-ecr.*.on.aws", "123456789012.dkr-ecr.us-east-1.on.aws/app", True),
    ("123456789012.dkr.ecr.us-*.amazonaws.com", f"{ECR}/app", True),
    ("123456789012.dkr.ecr.eu-*.amazonaws.com", f"{ECR}/app", False),
    ("*.DKR.ecr.*.amazonaws.com", f"{ECR}/app", False),  # no case folding
    ("public.ecr.aws", "public.ecr.aws/nginx/nginx", True),
    ("public.ecr.aws", "docker.io/library/busybox", False),
    ("registry.example:5000", "registry.example/app", False),  # the port must be equal
    ("registry.example", "registry.example:5000/app", False),
    ("registry.example:5000", "registry.example:5000/app", True),
    ("registry.example/team", "registry.example/team/app", True),  # the path is a prefix
    ("registry.example/team", "registry.example/other/app", False),
    ("*.dkr.ecr.us-east-?.amazonaws.com", f"{ECR}/app", False),  # to Go's url.Parse '?' starts a query
])
def test_urls_match(glob, image, expected):
    assert kubelet.urls_match(glob, image) is expected


def test_a_bad_pattern_is_an_error_for_urls_match_and_no_match_for_a_provider():
    with pytest.raises(BadPattern):
        kubelet.urls_match("123456789012[.dkr.ecr.us-east-1.amazonaws.com", f"{ECR}/app")
    provider = kubelet.Provider("p", ["123456789012[.dkr.ecr.us-east-1.amazonaws.com"], "1h", V1)
    assert not provider.matches(f"{ECR}/app")


@pytest.mark.parametrize("image, expected", [
    (f"{ECR}/team/app:v1", f"{ECR}/team/app"),
    (f"{ECR}/app@sha256:{'a' * 64}", f"{ECR}/app"),
    (f"{ECR}/app:v1@sha256:{'a' * 64}", f"{ECR}/app"),
    ("localhost:5000/app:v1", "localhost:5000/app"),
    ("docker.io/library/busybox", "docker.io/library/busybox"),
])
def test_requests_carry_the_repository_without_tag_or_digest(image, expected):
    assert kubelet.repository(image) == expected


@pytest.mark.parametrize("text, nanoseconds", [
    ("6h0m0s", 6 * 3600 * 10**9),
    ("59m59.5s", 3599_500_000_000),
    ("0s", 0),
    ("0", 0),
    ("1.5h", 5400 * 10**9),
    ("300ms", 300_000_000),
    (".5s", 500_000_000),
    ("5.s", 5 * 10**9),
    ("-1h", -3600 * 10**9),
    ("+2m", 120 * 10**9),
    ("1h2m3s4ms5us6ns", 3723_004_005_006),
    ("1\u00b5s", 1000),
    ("1\u03bcs", 1000),
    ("2562047h47m16.854775807s", 2**63 - 1),
    ("-9223372036854775808ns", -(2**63)),
])
def test_go_durations(text, nanoseconds):
    assert kubelet.parse_go_duration(text) == nanoseconds


@pytest.mark.parametrize("text", [
    "3600", "", "s", ".s", ".", "-", "6 h", " 1s", "1e3s", "1H", "1hh", "1h 2m", "9223372036854775808ns",
    "2562048h", 3600, None,
])
def test_not_go_durations(text):
    with pytest.raises(ValueError):
        kubelet.parse_go_duration(text)


GOOD = {"kind": "CredentialProviderResponse", "apiVersion": V1, "cacheKeyType": "Registry",
        "cacheDuration": "6h0m0s", "auth": {ECR: {"username": "AWS", "password": "p"}}}


def with_(**changes):
    return json.dumps({**GOOD, **changes})


@pytest.mark.parametrize("text", [
    json.dumps(GOOD),
    json.dumps({k: v for k, v in GOOD.items() if k != "cacheDuration"}),
    with_(auth={}),
    with_(cacheKeyType="Image", cacheDuration="0s"),
])
def test_the_kubelet_accepts(text):
    assert kubelet.decode_response(text, V1)["kind"] == "CredentialProviderResponse"


WITHOUT_DURATION = json.dumps({k: v for k, v in GOOD.items() if k != "cacheDuration"})


@pytest.mark.parametrize("text, reason", [
    pytest.param("", "not JSON", id="empty"),
    pytest.param("not json", "not JSON", id="not-json"),
    pytest.param("[]", "not a JSON object", id="array"),
    pytest.param(json.dumps(GOOD) + "\n" + json.dumps(GOOD), "not JSON", id="two-documents"),
    pytest.param(with_()[:-1] + ', "kind": "CredentialProviderResponse"}', "duplicate", id="duplicate-key"),
    pytest.param(with_().replace('"kind"', '"Kind"'), "unknown field", id="wrong-case-key"),
    pytest.param(with_(extra=1), "unknown field", id="unknown-key"),
    pytest.param(with_(kind="CredentialProviderRequest"), "kind", id="wrong-kind"),
    pytest.param(with_(apiVersion=V1BETA1), "apiVersion", id="other-api-version"),
    pytest.param(with_(cacheKeyType="registry"), "cacheKeyType", id="cache-key-type-case"),
    pytest.param(with_(cacheKeyType=None), "cacheKeyType", id="no-cache-key-type"),
    pytest.param(with_(cacheDuration=3600), "cacheDuration", id="duration-number"),
    pytest.param(with_(cacheDuration="3600"), "cacheDuration", id="duration-no-unit"),
    pytest.param(WITHOUT_DURATION[:-1] + ', "cacheDuration": NaN}', "NaN is not JSON", id="not-json-constant"),
    pytest.param(with_(auth=[]), "auth is not an object", id="auth-array"),
    pytest.param(with_(auth={ECR: {"username": "AWS", "token": "t"}}), "unknown field", id="auth-unknown-key"),
    pytest.param(with_(auth={ECR: {"username": "AWS", "password": 1}}), "not a string", id="auth-number"),
    pytest.param(with_(auth={ECR: "AWS:p"}), "not an object", id="auth-string"),
    pytest.param(with_()[:-3] + ', "password": "q"}}}', "duplicate", id="auth-duplicate-key"),
])
def test_the_kubelet_refuses(text, reason):
    with pytest.raises(Rejected, match=reason):
        kubelet.decode_response(text, V1)


CONFIG = textwrap.dedent("""\
    apiVersion: kubelet.config.k8s.io/v1
    kind: CredentialProviderConfig
    providers:
      - name: ecr-credential-provider
        apiVersion: credentialprovider.kubelet.k8s.io/v1
        matchImages: ["*.dkr.ecr.*.amazonaws.com"]
        defaultCacheDuration: 12h
        args: [get-credentials]
        env:
          - {name: AWS_REGION, value: us-east-1}
        tokenAttributes:
          serviceAccountTokenAudience: sts.amazonaws.com
          requireServiceAccount: false
          cacheType: ServiceAccount
          optionalServiceAccountAnnotationKeys: [eks.amazonaws.com/ecr-role-arn]
""")


def write(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_valid_config_loads(tmp_path):
    [provider] = kubelet.load_config(write(tmp_path, CONFIG))
    assert (provider.name, provider.args, provider.env) == (
        "ecr-credential-provider", ["get-credentials"], [("AWS_REGION", "us-east-1")])
    assert provider.token_attributes.optional_annotation_keys == ["eks.amazonaws.com/ecr-role-arn"]


def test_a_json_config_loads(tmp_path):
    import yaml
    document = yaml.safe_load(CONFIG)
    [provider] = kubelet.load_config(write(tmp_path, json.dumps(document), "config.json"))
    assert provider.match_images == ["*.dkr.ecr.*.amazonaws.com"]


def mutation(name, reason, old, new):
    """CONFIG with `old` replaced by `new`, refused with a message matching `reason`."""
    return pytest.param(old, new, reason, id=name)


REQUEST_V1 = "apiVersion: credentialprovider.kubelet.k8s.io/v1\n"


@pytest.mark.parametrize("old, new, reason", [
    mutation("unknown-top-field", "unknown field",
             "kind: CredentialProviderConfig", "kind: CredentialProviderConfig\nextra: 1"),
    mutation("unknown-provider-field", "unknown field", "    matchImages:", "    matchImage: [x]\n    matchImages:"),
    mutation("unknown-env-field", "unknown field", "value: us-east-1}", "value: us-east-1, from: x}"),
    mutation("unknown-token-field", "unknown field",
             "cacheType: ServiceAccount", "cacheType: ServiceAccount\n      audience: x"),
    mutation("duplicate-key", "duplicate field", "    args:", "    name: again\n    args:"),
    mutation("no-default-cache-duration", "defaultCacheDuration is required", "    defaultCacheDuration: 12h\n", ""),
    mutation("duration-without-unit", "missing unit", "defaultCacheDuration: 12h", "defaultCacheDuration: '43200'"),
    mutation("duration-number", "wrong type", "defaultCacheDuration: 12h", "defaultCacheDuration: 43200"),
    mutation("negative-duration", "greater than or equal to 0",
             "defaultCacheDuration: 12h", "defaultCacheDuration: -1h"),
    mutation("unknown-request-version", "is not one of", REQUEST_V1, REQUEST_V1.replace("v1", "v2")),
    mutation("token-attributes-before-v1", "only supported for", REQUEST_V1, REQUEST_V1.replace("v1", "v1beta1")),
    mutation("no-cache-type", "cacheType must be", "      cacheType: ServiceAccount\n", ""),
    mutation("unknown-cache-type", "cacheType must be", "cacheType: ServiceAccount", "cacheType: Pod"),
    mutation("no-require-service-account", "requireServiceAccount is required",
             "      requireServiceAccount: false\n", ""),
    mutation("slash-in-name", "invalid provider name",
             "name: ecr-credential-provider", "name: bin/ecr-credential-provider"),
    mutation("no-match-images", "matchImages is required", '["*.dkr.ecr.*.amazonaws.com"]', "[]"),
    mutation("bad-port", "invalid port", '["*.dkr.ecr.*.amazonaws.com"]', '["host:port"]'),
    mutation("unknown-config-version", "not a kubelet.config.k8s.io/v1",
             "apiVersion: kubelet.config.k8s.io/v1\n", "apiVersion: kubelet.config.k8s.io/v2\n"),
])
def test_configs_are_decoded_strictly(tmp_path, old, new, reason):
    assert old in CONFIG
    with pytest.raises(Rejected, match=reason):
        kubelet.load_config(write(tmp_path, CONFIG.replace(old, new, 1)))


def test_two_providers_with_one_name_are_refused(tmp_path):
    providers = CONFIG.split("providers:\n", 1)[1]
    with pytest.raises(Rejected, match="duplicate provider name"):
        kubelet.load_config(write(tmp_path, CONFIG + providers))


# --- exec: a stand-in provider that reports what it was given --------------------------------------

FAKE = f"""#!{sys.executable}
import json, os, sys, time
request = json.load(sys.stdin)
if os.environ.get("FAKE_MODE") == "hang":
    time.sleep(30)
if os.environ.get("FAKE_MODE") == "fail":
    sys.exit("fake: no credentials")
seen = {{"args": sys.argv[1:], "env": dict(os.environ), "request": request}}
print(json.dumps({{"kind": "CredentialProviderResponse", "apiVersion": request["apiVersion"],
                  "cacheKeyType": "Image", "auth": {{"seen": {{"username": "u", "password": json.dumps(seen)}}}}}}))
"""


@pytest.fixture
def fake(tmp_path):
    """(provider, bin dir): the stand-in installed under the config's provider name."""
    [provider] = kubelet.load_config(write(tmp_path, CONFIG))
    binary = tmp_path / provider.name
    binary.write_text(FAKE)
    binary.chmod(0o755)
    return provider, tmp_path


def seen(result):
    return json.loads(result.response["auth"]["seen"]["password"])


def test_exec_passes_args_env_and_request(fake):
    provider, bin_dir = fake
    environ = {"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1", "KUBELET_OWN": "kept"}
    got = seen(kubelet.exec_provider(provider, bin_dir, f"{ECR}/team/app:v1", environ))
    assert got["args"] == ["get-credentials"]
    assert got["env"]["AWS_REGION"] == "us-east-1", "the config's env wins over the kubelet's"
    assert got["env"]["KUBELET_OWN"] == "kept"
    assert got["request"] == {"kind": "CredentialProviderRequest", "apiVersion": V1, "image": f"{ECR}/team/app"}


def test_exec_sends_the_token_and_only_the_configured_annotations(fake):
    provider, bin_dir = fake
    account = kubelet.ServiceAccount("header.payload.sig", {"eks.amazonaws.com/ecr-role-arn": "arn:role", "other": "x"})
    got = seen(kubelet.exec_provider(provider, bin_dir, f"{ECR}/app", {}, service_account=account))
    assert got["request"]["serviceAccountToken"] == "header.payload.sig"
    assert got["request"]["serviceAccountAnnotations"] == {"eks.amazonaws.com/ecr-role-arn": "arn:role"}


def test_exec_kills_a_provider_at_the_timeout(fake):
    provider, bin_dir = fake
    started = time.monotonic()
    with pytest.raises(ExecFailed, match="deadline"):
        kubelet.exec_provider(provider, bin_dir, f"{ECR}/app", {"FAKE_MODE": "hang"}, timeout=0.5)
    assert time.monotonic() - started < 10


def test_a_failed_exec_is_an_error_carrying_stderr(fake):
    provider, bin_dir = fake
    with pytest.raises(ExecFailed, match="fake: no credentials"):
        kubelet.exec_provider(provider, bin_dir, f"{ECR}/app", {"FAKE_MODE": "fail"})
