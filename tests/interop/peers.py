"""The Go peers that scripts/peers builds from their published modules, found through the
variables scripts/interop sets. A missing peer fails the test that needs it, never skips it."""

import os
from pathlib import Path

import pytest

PEERS = {
    # variable: (what it is, its path under target/peers)
    "UPSTREAM_PROVIDER_BIN": ("upstream's ecr-credential-provider v1.37.1", "upstream/ecr-credential-provider"),
    "ECR_LOGIN_BIN": ("docker-credential-ecr-login v0.13.0", "docker-credential-ecr-login"),
    "KUBELET_HARNESS_BIN": ("the kubelet harness (tests/kubelet, k8s.io/kubernetes v1.37.2)", "kubelet-harness"),
}


def binary(variable):
    what, _ = PEERS[variable]
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"{variable} is not set: {what} is needed; run the suite through scripts/interop, "
                    "which builds the peers with scripts/peers", pytrace=False)
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{variable}={value}: no executable there ({what}); build it with scripts/peers",
                    pytrace=False)
    return path.resolve()


def upstream():
    return binary("UPSTREAM_PROVIDER_BIN")


def ecr_login():
    return binary("ECR_LOGIN_BIN")


def kubelet_harness():
    return binary("KUBELET_HARNESS_BIN")
