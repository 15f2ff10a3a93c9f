"""Exec the provider the way the kubelet does: fresh environment, one request on stdin."""

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
V1 = "credentialprovider.kubelet.k8s.io/v1"
V1BETA1 = "credentialprovider.kubelet.k8s.io/v1beta1"
V1ALPHA1 = "credentialprovider.kubelet.k8s.io/v1alpha1"


def binary():
    path = Path(os.environ.get("ECR_CREDENTIAL_PROVIDER_BIN", ROOT / "target/debug/ecr-credential-provider"))
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: run `cargo build` first (scripts/interop does)")
    return path


def base_env(home, **extra):
    """No instance metadata, no profile files, no CA or proxy settings from this machine."""
    env = {
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(Path(home) / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(Path(home) / "no-credentials"),
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


def request(image, api_version=V1, **fields):
    return json.dumps({"kind": "CredentialProviderRequest", "apiVersion": api_version, "image": image, **fields})


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def response(self):
        assert self.code == 0, f"provider failed: {self}"
        return json.loads(self.stdout)

    def error_line(self):
        assert self.code not in (0, None), f"provider should have failed: {self}"
        assert self.stdout == "", f"a failed run wrote to stdout: {self}"
        lines = self.stderr.strip().splitlines()
        assert lines, f"no error on stderr: {self}"
        return lines[-1]


def run(stdin=None, env=None, args=(), secrets=(), timeout=60, report=False):
    """Run once; assert no secret reached stderr and, unless `report`, nothing on stdout on failure."""
    with tempfile.TemporaryDirectory() as home:
        completed = subprocess.run(
            [str(binary()), *args], input=(stdin or "").encode(), capture_output=True,
            env=base_env(home, **(env or {})), timeout=timeout,
        )
    result = Run(completed.returncode, completed.stdout.decode(), completed.stderr.decode())
    for secret in secrets:
        assert secret and secret not in result.stderr, f"a secret reached stderr: {result}"
    if result.code != 0 and not report:
        assert result.stdout == "", f"a failed run wrote to stdout: {result}"
    return result
