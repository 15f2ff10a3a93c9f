"""`check IMAGE` on the least-privilege world: the identity that may get a token but not read
the repository is told which action is missing and how to grant it; the puller passes, down to
the manifest and the layer served by the real registry."""

import json
import subprocess

import pytest

import aws
import provider
from recorder import Recorder
from servers import require_tool


def check(iam_world, registry, user, *args):
    keys = iam_world.users[user]
    image = f"{iam_world.image}:{iam_world.tag}"
    return provider.run("", env=provider.aws_env(iam_world.url, keys), secrets=keys.secrets, report=True,
                        args=["check", image, "--registry-endpoint", f"http://{registry.address}", *args])


def test_check_names_the_missing_action_and_the_managed_policy(iam_world, registry, puller_credentials):
    run = check(iam_world, registry, "token-only")
    assert run.code == 1, run
    repository_arn = f"arn:aws:ecr:{iam_world.region}:{iam_world.account_id}:repository/{iam_world.repository}"
    for needle in ["✓ token", f"✗ repository  BatchGetImage on {repository_arn} failed: AccessDenied",
                   "a token does not grant pull rights", "AmazonEC2ContainerRegistryPullOnly",
                   "ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability",
                   "result: no: repository failed"]:
        assert needle in run.stdout, f"{needle!r} missing:\n{run}"
    assert puller_credentials[1] not in run.stdout, "the report shows the registry password"


def test_check_passes_for_a_puller_against_the_real_registry(iam_world, registry, image):
    run = check(iam_world, registry, "puller", "--json")
    assert run.code == 0, run
    report = json.loads(run.stdout)
    steps = {step["name"]: step for step in report["steps"]}
    assert report["pullable"] is True
    assert steps["identity"]["status"] == "pass" and f"user/puller" in steps["identity"]["detail"]
    assert steps["repository"]["status"] == "pass"
    # moto implements no GetDownloadUrlForLayer: check says it could not tell, not that it failed.
    assert steps["layers"]["status"] == "skip"
    assert steps["registry"]["status"] == "pass" and image.manifest_digest in steps["registry"]["detail"]
    assert steps["download"]["status"] == "pass" and image.layer_digest in steps["download"]["detail"]


def check_as_pod(iam_world, registry, role, tmp_path, *args):
    """`check --service-account-token-file` as a pod whose ecr-role-arn annotation names `role`;
    no node keys at all."""
    token_file = tmp_path / "token"
    token_file.write_text(aws.SERVICE_ACCOUNT_TOKEN + "\n")
    aws.let_one_unsigned_call_through(iam_world)
    image = f"{iam_world.image}:{iam_world.tag}"
    return provider.run("", env=provider.aws_env(iam_world.url), secrets=[aws.SERVICE_ACCOUNT_TOKEN], report=True,
                        args=["check", image, "--registry-endpoint", f"http://{registry.address}",
                              "--service-account-token-file", str(token_file), "--role-arn", iam_world.roles[role],
                              *args])


def test_check_as_a_pod_role_names_the_role_in_the_fix(iam_world, registry, tmp_path):
    """The pod's role may get a token but not pull: the fix names the role (not its session),
    and every step ran as the role."""
    run = check_as_pod(iam_world, registry, "pod-token-only", tmp_path)
    assert run.code == 1, run
    role = iam_world.roles["pod-token-only"]
    for needle in [f"✓ role        {role}, from annotation eks.amazonaws.com/ecr-role-arn",
                   "token for system:serviceaccount:apps:puller",
                   f"✓ credentials assumed role {role}",
                   f"✓ identity    arn:aws:sts::{iam_world.account_id}:assumed-role/pod-token-only/ecr-credential-provider",
                   "✓ token", "✗ repository", f"AmazonEC2ContainerRegistryPullOnly to {role}",
                   "result: no: repository failed"]:
        assert needle in run.stdout, f"{needle!r} missing:\n{run}"
    assert aws.SERVICE_ACCOUNT_TOKEN not in run.stdout


def test_check_as_a_pod_role_that_may_pull_passes(iam_world, registry, tmp_path):
    run = check_as_pod(iam_world, registry, "pod-puller", tmp_path, "--json")
    assert run.code == 0, run
    steps = {step["name"]: step for step in json.loads(run.stdout)["steps"]}
    assert steps["role"]["status"] == "pass" and iam_world.roles["pod-puller"] in steps["role"]["detail"]
    assert steps["identity"]["status"] == "pass" and "assumed-role/pod-puller/" in steps["identity"]["detail"]
    assert steps["repository"]["status"] == "pass"
    assert steps["registry"]["status"] == "pass" and "(Basic login)" in steps["registry"]["detail"]


@pytest.fixture(scope="module")
def registry_certificate(tmp_path_factory, iam_world):
    """A private CA and a certificate for the image's own registry host name."""
    openssl = require_tool("openssl", "apt-get install -y openssl")
    root = tmp_path_factory.mktemp("registry-ca")
    host = aws.ecr_host(iam_world.region, iam_world.account_id)

    def sh(*args):
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=root)

    sh("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
       "-subj", "/CN=interop registry CA")
    sh("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={host}")
    (root / "ext.cnf").write_text(f"subjectAltName=DNS:{host}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    sh("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem",
       "-days", "2", "-extfile", "ext.cnf")
    return host, root


def test_check_probes_the_images_own_host_over_tls(iam_world, registry, registry_certificate):
    """No --registry-endpoint: the real registry behind TLS under the image's own host name (the
    debug build's test-only host route resolves that name to loopback; TLS sees the real name),
    trusted through AWS_CA_BUNDLE — and refused, with the fix, without it."""
    host, ca = registry_certificate
    front = Recorder(int(registry.address.rsplit(":", 1)[1]), tls=(ca / "leaf.pem", ca / "leaf.key"))
    try:
        keys = iam_world.users["puller"]
        route = f"{host}=tls:127.0.0.1:{front.url.rsplit(':', 1)[1]}"
        image = f"{iam_world.image}:{iam_world.tag}"
        env = provider.aws_env(iam_world.url, keys, ECR_CREDENTIAL_PROVIDER_TEST_HOSTS=route)
        run = provider.run("", env={**env, "AWS_CA_BUNDLE": ca / "ca.pem"}, secrets=keys.secrets, report=True,
                           args=["check", image])
        assert run.code == 0, run
        assert f"✓ registry    GET https://{host}/v2/{iam_world.repository}/manifests/{iam_world.tag}: 200" in run.stdout, run
        assert "(Basic login)" in run.stdout
        assert front.exchanges and all(e.headers["host"] == host for e in front.exchanges)
        ping, manifest = front.exchanges[:2]
        assert (ping.path, manifest.path) == ("/v2/", f"/v2/{iam_world.repository}/manifests/{iam_world.tag}")
        assert "authorization" not in ping.headers and manifest.headers["authorization"].startswith("Basic ")

        untrusted = provider.run("", env=env, secrets=keys.secrets, report=True, args=["check", image])
        assert untrusted.code == 1, untrusted
        for needle in [f"✗ registry    GET https://{host}/v2/", "the registry's TLS certificate is not trusted",
                       "AWS_CA_BUNDLE"]:
            assert needle in untrusted.stdout, f"{needle!r} missing:\n{untrusted}"
    finally:
        front.close()
