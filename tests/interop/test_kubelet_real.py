"""The kubelet's own credential-provider code (k8s.io/kubernetes v1.37.2, tests/kubelet, built by
scripts/peers) running upstream's binary and ours: what the kubelet keeps for each image.

The harness registers the providers from a CredentialProviderConfig with the kubelet's own
validation, then looks images up as the image puller does, in one process, so its in-memory
cache carries from one image to the next; it prints the credentials each image gets (user name,
password length, service-account coordinates), the cache entries (base key, service-account
part, seconds to expiry), the TokenRequests it made and the errors it logged. The provider it
execs talks to the same stand-in as the differential suite (test_differential.StandIn).
"""

import json
import subprocess
import tempfile
from dataclasses import dataclass, field

import pytest

import aws
import peers
import provider
from recorder import Recorder
from test_differential import ECR_ROLE, ROLE, TOKEN, StandIn, calls, ecr
from tunnel import Tunnel, TunnelCA

NAME = "ecr-credential-provider"
HOST = ecr("eu-west-1")
AUDIENCE = "sts.amazonaws.com"
SIX_HOURS, TWELVE_HOURS = 6 * 3600, 12 * 3600


@dataclass(frozen=True)
class Scenario:
    id: str
    images: tuple
    match_images: tuple = ("*.dkr.ecr.*.amazonaws.com",)
    api_version: str = provider.V1
    stand_in: str = "fresh"
    token_attributes: dict = None
    service_account: dict = field(default_factory=dict)  # harness flags: name, annotations


def config(scenario, default_cache="12h"):
    entry = {"name": NAME, "matchImages": list(scenario.match_images), "defaultCacheDuration": default_cache,
             "apiVersion": scenario.api_version}
    if scenario.token_attributes:
        entry["tokenAttributes"] = scenario.token_attributes
    return {"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [entry]}


def run_kubelet(binary, scenario, moto, tmp_path):
    """The harness over `binary` as the config's provider; returns its report and the calls the
    stand-in received."""
    bin_dir = tmp_path / f"bin-{binary.parent.name}"
    bin_dir.mkdir()
    (bin_dir / NAME).symlink_to(binary)
    path = tmp_path / f"config-{binary.parent.name}.json"
    path.write_text(json.dumps(config(scenario)))
    stand_in = StandIn(scenario.stand_in)
    recorder = Recorder(moto.port, answer=stand_in.answer, rewrite=stand_in.rewrite)
    net = Tunnel(TunnelCA(), recorder, relay=False)  # anything not for the stand-in stops here
    argv = [str(peers.kubelet_harness()), "--config", str(path), "--bin-dir", str(bin_dir)]
    for image in scenario.images:
        argv += ["--image", image]
    sa = scenario.service_account
    if sa:
        argv += ["--sa-name", sa["name"], "--sa-namespace", "apps", "--sa-token", TOKEN]
        argv += [arg for key, value in sa.get("annotations", {}).items() for arg in ("--sa-annotation", f"{key}={value}")]
    try:
        with tempfile.TemporaryDirectory(prefix="kubelet-home-") as home:
            env = {**provider.base_env(home), "AWS_ENDPOINT_URL": recorder.url, "HTTPS_PROXY": net.url,
                   "HTTP_PROXY": net.url, "NO_PROXY": "127.0.0.1"}
            if not (sa and scenario.token_attributes):
                env.update(AWS_ACCESS_KEY_ID=aws.NODE_KEYS.access_key_id,
                           AWS_SECRET_ACCESS_KEY=aws.NODE_KEYS.secret_access_key)
            completed = subprocess.run(argv, capture_output=True, timeout=180, env=env)
    finally:
        net.close()
        recorder.close()
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    assert net.connects == [], f"a provider tried to leave loopback: {net.connects}"
    report = json.loads(completed.stdout)
    text = completed.stdout.decode()
    provider.assert_no_secrets(text, [*aws.NODE_KEYS.secrets, TOKEN, "123456789012-auth-token"], "the harness' report")
    return report, calls(recorder.exchanges, "endpoint")


BINARIES = {"upstream": peers.upstream, "ours": provider.binary}


@pytest.fixture(params=list(BINARIES))
def binary(request):
    return request.param, BINARIES[request.param]()


def only_entry(lookup):
    assert len(lookup["cache"]) == 1, lookup
    return lookup["cache"][0]


def test_a_private_ecr_image_is_cached_per_registry_for_half_the_tokens_life(binary, moto, tmp_path):
    """Both: cacheKeyType Registry, so a second repository on the same registry is answered from
    the kubelet's cache without an exec."""
    name, path = binary
    scenario = Scenario("registry", (f"{HOST}/team/app:v1", f"{HOST}/other/tool@sha256:{'b' * 64}"))
    report, seen = run_kubelet(path, scenario, moto, tmp_path)
    assert report["registerError"] is None
    first, second = report["lookups"]
    for lookup in (first, second):
        assert lookup["auth"] == [{"username": "AWS", "passwordLength": len("123456789012-auth-token"),
                                   "serviceAccount": None}], lookup
        assert lookup["errors"] == []
    entry = only_entry(second)
    assert (entry["key"], entry["serviceAccount"], entry["registries"]) == (HOST, None, [HOST]), entry
    assert abs(entry["seconds"] - SIX_HOURS) <= 30, entry
    assert [call[1] for call in seen] == ["GetAuthorizationToken"], f"{name}: one exec for both images"


def test_an_image_with_a_port_gets_credentials_only_from_ours(binary, moto, tmp_path):
    """The kubelet matches auth keys like matchImages: the port must be equal. Upstream keys its
    answer by the host alone, so the kubelet keeps it but finds nothing for host:5000/app
    (README: "keyed by host:port … which is what the kubelet matches")."""
    name, path = binary
    scenario = Scenario("port", (f"{HOST}:5000/team/app",), match_images=("*.dkr.ecr.*.amazonaws.com:5000",))
    report, seen = run_kubelet(path, scenario, moto, tmp_path)
    [lookup] = report["lookups"]
    assert [call[1] for call in seen] == ["GetAuthorizationToken"]
    entry = only_entry(lookup)
    assert entry["key"] == f"{HOST}:5000"  # the kubelet's parseRegistry keeps the port
    if name == "ours":
        assert entry["registries"] == [f"{HOST}:5000"] and len(lookup["auth"]) == 1, lookup
    else:
        assert entry["registries"] == [HOST] and lookup["auth"] == [], lookup


def test_an_expired_token_is_cached_for_default_cache_duration_from_upstream_and_not_at_all_from_ours(
        binary, moto, tmp_path):
    """README's row on expiresAt in the past: upstream sends no cacheDuration, so the kubelet uses
    the config's defaultCacheDuration (12h here); ours sends 0s, which the kubelet does not cache."""
    name, path = binary
    report, _ = run_kubelet(path, Scenario("expired", (f"{HOST}/app",), stand_in="past"), moto, tmp_path)
    [lookup] = report["lookups"]
    assert len(lookup["auth"]) == 1, lookup
    if name == "ours":
        assert lookup["cache"] == [], lookup
    else:
        assert abs(only_entry(lookup)["seconds"] - TWELVE_HOURS) <= 30, lookup


def test_a_failed_exec_is_logged_with_the_providers_stderr_and_nothing_is_kept(binary, moto, tmp_path):
    name, path = binary
    report, seen = run_kubelet(path, Scenario("denied", (f"{HOST}/app",), stand_in="denied"), moto, tmp_path)
    [lookup] = report["lookups"]
    assert lookup["auth"] == [] and lookup["cache"] == [], lookup
    [error] = lookup["errors"]
    assert "exit status 1" in error and "AccessDeniedException" in error, error
    assert [call[1] for call in seen] == ["GetAuthorizationToken"]


def test_an_image_matchimages_does_not_cover_never_execs_the_provider(binary, moto, tmp_path):
    _, path = binary
    report, seen = run_kubelet(path, Scenario("unmatched", ("docker.io/library/busybox",
                                                            f"{HOST.upper()}/app")), moto, tmp_path)
    for lookup in report["lookups"]:  # matchImages globs do not fold case either
        assert lookup["auth"] == [] and lookup["cache"] == [] and lookup["errors"] == [], lookup
    assert seen == []


def test_a_v1beta1_config_works_only_with_ours(binary, moto, tmp_path):
    name, path = binary
    scenario = Scenario("v1beta1", (f"{HOST}/app",), api_version=provider.V1BETA1)
    report, seen = run_kubelet(path, scenario, moto, tmp_path)
    [lookup] = report["lookups"]
    if name == "ours":
        assert len(lookup["auth"]) == 1 and lookup["errors"] == [], lookup
    else:
        assert lookup["auth"] == [] and seen == [], lookup
        assert "group version credentialprovider.kubelet.k8s.io/v1beta1 is not supported" in lookup["errors"][0]


TOKEN_ATTRIBUTES = {"serviceAccountTokenAudience": AUDIENCE, "cacheType": "ServiceAccount",
                    "requireServiceAccount": True, "requiredServiceAccountAnnotationKeys": [ECR_ROLE]}


def test_a_service_account_pull_is_cached_per_service_account(binary, moto, tmp_path):
    """KEP-4412 through the kubelet: it asks for a token with the configured audience, passes the
    required annotation, and keys the cache by registry and service account (namespace, name,
    UID, annotations); the credentials carry the service account's coordinates."""
    name, path = binary
    scenario = Scenario("service-account", (f"{HOST}/app", f"{HOST}/other"), token_attributes=TOKEN_ATTRIBUTES,
                        service_account={"name": "puller", "annotations": {ECR_ROLE: ROLE, "unrelated": "x"}})
    report, seen = run_kubelet(path, scenario, moto, tmp_path)
    assert report["registerError"] is None, report
    first, second = report["lookups"]
    assert first["tokenRequests"] == [{"namespace": "apps", "name": "puller", "audiences": [AUDIENCE], "pod": "pod"}]
    for lookup in (first, second):
        [credential] = lookup["auth"]
        assert credential["serviceAccount"] == {"namespace": "apps", "name": "puller",
                                                "uid": "00000000-0000-0000-0000-0000000000aa"}, lookup
    entry = only_entry(second)
    assert entry["key"] == HOST
    assert entry["serviceAccount"] == {"namespace": "apps", "name": "puller", "uid": "00000000-0000-0000-0000-0000000000aa",
                                       "annotations": {ECR_ROLE: ROLE}}, entry
    assert [(call[1], call[3]) for call in seen] == [("AssumeRoleWithWebIdentity", "unsigned"),
                                                     ("GetAuthorizationToken", "role")], name


def test_without_the_required_annotation_the_kubelet_does_not_exec(binary, moto, tmp_path):
    _, path = binary
    scenario = Scenario("no-annotation", (f"{HOST}/app",), token_attributes=TOKEN_ATTRIBUTES,
                        service_account={"name": "plain", "annotations": {}})
    report, seen = run_kubelet(path, scenario, moto, tmp_path)
    [lookup] = report["lookups"]
    assert lookup["auth"] == [] and lookup["cache"] == [] and lookup["tokenRequests"] == [], lookup
    assert any(f"required annotation {ECR_ROLE} not found" in error for error in lookup["errors"]), lookup
    assert seen == []


def test_the_kubelet_refuses_a_config_it_cannot_validate(moto, tmp_path):
    """The harness runs the kubelet's own start-up validation: a port glob is not a port."""
    scenario = Scenario("bad-config", (f"{HOST}/app",), match_images=("*.dkr.ecr.*.amazonaws.com:*",))
    report, seen = run_kubelet(provider.binary(), scenario, moto, tmp_path)
    assert "invalid port" in report["registerError"] and report["lookups"] == [], report
    assert seen == []
