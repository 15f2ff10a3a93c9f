"""A Docker daemon of the suite's own: its own containerd, data root, exec root, pidfile and
socket under one directory, no bridge and no iptables rules, /etc/hosts replaced in its mount
namespace (see hosts.py) so that an ECR host name reaches a registry on loopback. It pulls only
from the insecure (plain HTTP) registries it is given, all on loopback. Stopped by its pids."""

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import hosts
from servers import _die_with_parent, _has_exited, require_tool, tool_env

APT = "apt-get install -y docker.io"


class Dockerd:
    def __init__(self, hosts_file, insecure_registries, ready_within=60.0):
        # Short: unix socket paths are limited to 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="ecp-dockerd-"))
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self._logs, self._processes = [], []
        (self.root / "containerd.toml").write_text(
            'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n')
        (self.root / "daemon.json").write_text("{}\n")
        containerd_socket = self.root / "containerd.sock"
        try:
            # Our own containerd: dockerd would otherwise share a system one, if it runs.
            self._start("containerd", [
                require_tool("containerd", APT), "--config", self.root / "containerd.toml",
                "--root", self.root / "containerd-root", "--state", self.root / "containerd-state",
                "--address", containerd_socket, "--log-level", "warn"])
            self._wait(lambda: containerd_socket.exists(), ready_within, "containerd")
            dockerd = self._start("dockerd", hosts.private([
                require_tool("dockerd", APT), "--config-file", self.root / "daemon.json",
                "--containerd", containerd_socket, "--data-root", self.root / "data",
                "--exec-root", self.root / "exec", "--pidfile", self.root / "docker.pid",
                "-H", self.host, "--bridge=none", "--iptables=false", "--ip6tables=false",
                "--storage-driver=vfs", "--log-level=warn",
                *[arg for registry in insecure_registries for arg in ("--insecure-registry", registry)],
            ], hosts_file))
            self._wait(self._answers, ready_within, "dockerd")
            pidfile = int((self.root / "docker.pid").read_text())
            assert pidfile == dockerd.pid, f"dockerd's pidfile says {pidfile}, we started {dockerd.pid}"
        except BaseException:
            self.stop()
            raise

    def _start(self, name, argv):
        log = open(self.root / f"{name}.log", "wb")
        self._logs.append(log)
        process = subprocess.Popen([str(arg) for arg in argv], env=tool_env(self.root), stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_die_with_parent)
        self._processes.append((name, process))
        return process

    def _answers(self):
        return subprocess.run([require_tool("docker", APT), "-H", self.host, "version"], capture_output=True,
                              env=tool_env(self.root), timeout=10).returncode == 0

    def _wait(self, ready, limit, name):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if any(_has_exited(process.pid) for _, process in self._processes):
                raise RuntimeError(f"{name} exited while starting; logs:\n{self.logs()}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not start within {limit}s; logs:\n{self.logs()}")

    def logs(self):
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.root.glob("*.log")))

    def stop(self):
        """dockerd first (it lets go of containerd), then containerd: SIGTERM to each pid, SIGKILL to
        its group after 15 s. Then the directory goes, vfs layers and all."""
        for name, process in reversed(self._processes):
            if process.returncode is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self._processes.clear()
        for log in self._logs:
            log.close()
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.root)], check=False)
