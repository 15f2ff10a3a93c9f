"""Peers as child processes: free loopback ports, bounded waits, and a stop that cannot be missed.

Every server runs in its own process group and is killed as a group. Three layers make sure
none outlives the suite: the fixtures' finalizers, an atexit hook (and SIGTERM turned into an
exception, so finalizers also run when pytest itself is terminated), and PR_SET_PDEATHSIG, which
has the kernel kill a server whose pytest died without running any Python at all.
"""

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child
_running = set()


def _die_with_parent():
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    """A port nothing listens on right now (the kernel's pick, on loopback)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def require_tool(name, install):
    """The path of a tool; a missing tool fails the test (never skips it)."""
    path = shutil.which(name, path=BASE_PATH + os.pathsep + os.environ.get("PATH", ""))
    if path is None:
        pytest.fail(f"`{name}` is not installed; install it with: {install}", pytrace=False)
    return path


def tool_env(home, **extra):
    """A from-scratch environment for a peer: nothing of this machine's CA, proxy or AWS settings."""
    return {"PATH": BASE_PATH, "HOME": str(home), "LANG": "C.UTF-8", **{k: str(v) for k, v in extra.items()}}


class Server:
    """A server on 127.0.0.1:port, started in its own process group, ready once the port accepts."""

    def __init__(self, name, argv, port, env, log_dir, ready_within=30.0):
        self.name, self.port = name, port
        self.url = f"http://{LOOPBACK}:{port}"
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        _running.add(self)
        try:
            self._wait_until_listening(ready_within)
        except BaseException:
            self.stop()
            raise

    def _wait_until_listening(self, limit):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if _has_exited(self.process.pid):
                raise RuntimeError(f"{self.name} exited before listening on {LOOPBACK}:{self.port}; "
                                   f"its log:\n{self.log()}")
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {LOOPBACK}:{self.port} within {limit}s; "
                           f"its log:\n{self.log()}")

    def log(self):
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self):
        """SIGTERM to the whole group, SIGKILL after 5 s; idempotent."""
        pid = self.process.pid
        if self.process.returncode is None:
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while not _has_exited(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            # Not reaped yet, so the group id cannot have been reused: kill what the server started.
            _signal_group(pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()
        _running.discard(self)


def _has_exited(pid):
    """Whether the child exited, without reaping it."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _stop_all():
    for server in list(_running):
        server.stop()


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


signal.signal(signal.SIGTERM, _terminate)
