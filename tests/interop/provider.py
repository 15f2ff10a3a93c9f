"""Exec the provider under test as the kubelet does: one request on stdin, an environment built
from scratch, and checks that hold for every exec (no secret on stderr, nothing on stdout when
it fails)."""

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
V1 = "credentialprovider.kubelet.k8s.io/v1"
V1BETA1 = "credentialprovider.kubelet.k8s.io/v1beta1"
V1ALPHA1 = "credentialprovider.kubelet.k8s.io/v1alpha1"
VERSIONS = (V1, V1BETA1, V1ALPHA1)


def binary():
    """$ECR_CREDENTIAL_PROVIDER_BIN, else target/debug/ecr-credential-provider."""
    path = Path(os.environ.get("ECR_CREDENTIAL_PROVIDER_BIN") or ROOT / "target/debug/ecr-credential-provider")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no provider binary at {path}: run `cargo build` (or set ECR_CREDENTIAL_PROVIDER_BIN)",
                    pytrace=False)
    return path.resolve()


def base_env(home):
    """What every exec gets: no instance metadata, no profile files, nothing from this machine."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(Path(home) / "no-such-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(Path(home) / "no-such-credentials"),
    }


def aws_env(endpoint, keys=None, **extra):
    """The SDK pointed at `endpoint` (moto or a recorder), with `keys` as the node's identity."""
    env = {"AWS_ENDPOINT_URL": endpoint, **extra}
    if keys is not None:
        env.update(AWS_ACCESS_KEY_ID=keys.access_key_id, AWS_SECRET_ACCESS_KEY=keys.secret_access_key)
        if keys.session_token:
            env["AWS_SESSION_TOKEN"] = keys.session_token
    return env


def request(image, api_version=V1, **fields):
    return {"kind": "CredentialProviderRequest", "apiVersion": api_version, "image": image, **fields}


@dataclass
class Exec:
    code: int
    stdout: str
    stderr: str

    def response(self):
        assert self.code == 0, f"the provider failed:\n{self}"
        return json.loads(self.stdout)

    def only_auth(self):
        """(host, username, password) of a successful response with exactly one registry."""
        auth = self.response()["auth"]
        assert len(auth) == 1, auth
        [(host, entry)] = auth.items()
        return host, entry["username"], entry["password"]

    def __str__(self):
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def assert_no_secrets(text, secrets, where):
    for secret in secrets:
        if secret:
            assert secret not in text, f"a secret ({secret[:4]}…) appeared on {where}:\n{text}"


def run(stdin, env=None, args=(), secrets=(), timeout=60, report=False):
    """One exec with `env` over the base environment. `secrets` must not reach stderr; the
    password the provider returns is added to them. `report`: the command prints a report on
    stdout whatever its verdict (`check`), so a failure may write to stdout."""
    with tempfile.TemporaryDirectory(prefix="provider-home-") as home:
        if isinstance(stdin, dict):
            stdin = json.dumps(stdin)
        completed = subprocess.run(
            [str(binary()), *args], input=stdin.encode(), capture_output=True, timeout=timeout,
            env={**base_env(home), **{k: str(v) for k, v in (env or {}).items()}},
        )
    result = Exec(completed.returncode, completed.stdout.decode(errors="replace"),
                  completed.stderr.decode(errors="replace"))
    check_exec(result, secrets, report)
    merged = {**base_env("/"), **(env or {})}
    if not traced(args, merged):
        check_message_style(result, report)
    return result


def traced(args, env):
    """Whether the exec asked for a trace, whose lines have a format of their own."""
    if str(env.get("ECR_CREDENTIAL_PROVIDER_TRACE", "")).strip() in ("1", "true", "text", "json"):
        return True
    return any(a.startswith("--trace") or a == "--v" or
               (a.startswith(("--v=", "-v=")) and a.split("=", 1)[1] != "0") for a in args)


def check_message_style(result, report=False):
    """Untraced, stderr speaks one style, and a failed exec says exactly one line (a report's
    verdict is on stdout)."""
    lines = result.stderr.splitlines()
    for line in lines:
        assert line.startswith(("ecr-credential-provider: error: ", "ecr-credential-provider: warning: ")), \
            f"a line in neither style: {line!r}\n{result}"
    if result.code != 0 and lines and not report:
        assert len(lines) == 1, f"a failed exec says one line:\n{result}"


def check_exec(result, secrets, report=False):
    """What must hold after any exec: no secret on stderr, and stdout empty when it failed."""
    returned = []
    if result.code == 0:
        try:
            returned = [entry.get("password") for entry in json.loads(result.stdout).get("auth", {}).values()]
        except (ValueError, AttributeError):
            pass  # the caller's strict decode reports it
    assert_no_secrets(result.stderr, [*secrets, *returned], "stderr")
    if result.code != 0 and not report:
        assert result.stdout == "", f"a failed exec wrote to stdout:\n{result}"
