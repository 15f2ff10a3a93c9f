"""A tiny OCI image built on the spot (no network): an OCI layout directory with one gzipped tar
layer holding one file, a config blob, a manifest and index.json."""

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Image:
    layout: Path  # the OCI layout directory (skopeo's oci:DIR:TAG)
    tag: str
    manifest: bytes
    manifest_digest: str
    layer: bytes
    layer_digest: str


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _write_blob(layout, data):
    digest = sha256(data)
    (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _tar_with(name, content):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def build(layout, tag="v1", content=b"pulled with credentials from ecr-credential-provider\n"):
    layout = Path(layout)
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    tar = _tar_with("hello.txt", content)
    layer = gzip.compress(tar, mtime=0)
    layer_desc = {"mediaType": LAYER_TYPE, **_write_blob(layout, layer)}
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
    }, sort_keys=True).encode()
    config_desc = {"mediaType": CONFIG_TYPE, **_write_blob(layout, config)}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config_desc,
                           "layers": [layer_desc]}, sort_keys=True).encode()
    manifest_desc = {"mediaType": MANIFEST_TYPE, **_write_blob(layout, manifest),
                     "annotations": {"org.opencontainers.image.ref.name": tag}}
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}))
    return Image(layout, tag, manifest, manifest_desc["digest"], layer, layer_desc["digest"])
