"""Real peers on loopback: start, wait until they answer, and always stop (process groups)."""

import os
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, what, limit=30.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {limit}s")


class Process:
    """A server in its own process group, killed with everything it started."""

    def __init__(self, argv, port, what, env=None, log=None, cwd=None):
        self.what = what
        self.log = open(log, "wb") if log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            wait_for_port(port, self.process, what)
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=5)
        if self.log is not subprocess.DEVNULL:
            self.log.close()


def minimal_env(**extra):
    """The environment a test process gets: nothing inherited but PATH and the Python paths."""
    env = {key: os.environ[key] for key in ("PATH", "PYENV_ROOT", "LANG") if key in os.environ}
    env.update(extra)
    return env
