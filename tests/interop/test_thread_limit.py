"""The provider where no thread can be started: as another user (root is exempt) whose limit on
processes and threads (RLIMIT_NPROC, as a full pids cgroup would) leaves it none. The run reads
stdin, the CA bundle and the SDK's files on threads of their own; each failure names the real
cause, the thread, with the OS's error, and a hint about the limit, never the input it was for."""

import json
import os
import resource
import subprocess

import pytest

import provider

NOBODY = 65534
IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app"
LIMIT_HINT = "hint: the limit on processes and threads is reached: the pids cgroup's pids.max"


def no_threads():
    """In the child, before exec: another user, whose every new thread would exceed its limit.
    The uid changes first: setuid over the limit would make the exec itself fail."""
    os.setgid(NOBODY)
    os.setgroups([])
    os.setuid(NOBODY)
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


@pytest.fixture
def home(tmp_path):
    tmp_path.chmod(0o755)
    return tmp_path


@pytest.mark.parametrize("args, stdin, extra, work", [
    pytest.param([], json.dumps(provider.request(IMAGE)), {}, "read stdin", id="stdin"),
    pytest.param([], json.dumps(provider.request(IMAGE)), {"AWS_CA_BUNDLE": "BUNDLE"}, "read the CA bundle",
                 id="ca-bundle"),
    pytest.param(["get", IMAGE], "", {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x" * 40},
                 "check the files the AWS SDK reads", id="sdk-files"),
])
def test_a_thread_that_cannot_start_is_named_as_the_cause(home, args, stdin, extra, work):
    bundle = home / "bundle.pem"
    bundle.write_bytes((provider.ROOT / "tests/data/isrg-root-x2.pem").read_bytes())
    env = {**provider.base_env(home), **{key: str(bundle) if value == "BUNDLE" else value for key, value in extra.items()}}
    completed = subprocess.run([str(provider.binary()), *args], input=stdin, capture_output=True, text=True,
                               env=env, preexec_fn=no_threads, timeout=30)
    assert completed.returncode == 1, completed
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert line.startswith(f"ecr-credential-provider: error: could not start a thread to {work}: "
                           "Resource temporarily unavailable (os error 11); "), line
    assert LIMIT_HINT in line, line
    # The input is not what failed: neither the bundle nor stdin is blamed.
    assert "AWS_CA_BUNDLE" not in line and "could not read" not in line, line
