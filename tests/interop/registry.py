"""The CNCF distribution registry (Debian's docker-registry) with htpasswd auth, and skopeo.

The registry accepts htpasswd auth over plain HTTP (its docs ask for TLS, version 2.8 does not
enforce it), so no certificate is needed: skopeo's --tls-verify=false lets it speak HTTP.
"""

import subprocess
from dataclasses import dataclass

import bcrypt
import yaml

from servers import LOOPBACK, Server, free_port, require_tool, tool_env

APT = "apt-get install -y docker-registry skopeo"


@dataclass(frozen=True)
class Registry:
    address: str  # 127.0.0.1:PORT
    repository: str
    tag: str

    @property
    def reference(self):
        return f"docker://{self.address}/{self.repository}:{self.tag}"


def htpasswd(user, password):
    """One htpasswd line, bcrypt at the lowest cost: the registry checks it on every request."""
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"


def start(root, user=None, password=None):
    """docker-registry serving from `root`/data on a free loopback port, only to `user`:`password`,
    or to anyone when no user is given."""
    binary = require_tool("docker-registry", APT)
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": f"{LOOPBACK}:{port}", "secret": "interop-suite-upload-secret"},
    }
    if user is not None:
        (root / "htpasswd").write_text(htpasswd(user, password))
        config["auth"] = {"htpasswd": {"realm": "interop", "path": str(root / "htpasswd")}}
    (root / "config.yml").write_text(yaml.safe_dump(config))
    return Server("docker-registry", [binary, "serve", str(root / "config.yml")], port, tool_env(root), root)


def skopeo(*args, home, check=True):
    """skopeo with no policy file and no auth file of this machine; fails loudly when `check`."""
    binary = require_tool("skopeo", APT)
    completed = subprocess.run(
        [binary, "--insecure-policy", *args], capture_output=True, text=True, timeout=120,
        env=tool_env(home, REGISTRY_AUTH_FILE=home / "no-auth.json"),
    )
    if check and completed.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args[:1])} failed ({completed.returncode}):\n{completed.stderr}")
    return completed
