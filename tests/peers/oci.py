"""A tiny OCI image built here, no internet: one layer with one file, a config, a manifest."""

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _blob(root, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return digest


def build(root, tag="v1", text=b"hello from the interop suite\n"):
    """Writes an OCI layout at `root`; returns (manifest bytes, manifest digest, layer digest)."""
    root = Path(root)
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(text)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(text))
    layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
    layer_digest = _blob(root, layer)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes.getvalue()).hexdigest()]},
    }).encode()
    config_digest = _blob(root, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": len(layer)}],
    }).encode()
    manifest_digest = _blob(root, manifest)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": MANIFEST_TYPE, "digest": manifest_digest, "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }]}))
    return manifest, manifest_digest, layer_digest
