"""The local store: S3 as folders, plus the runner's own records.

``s3://bucket/key`` lives at ``<store>/<bucket>/key``, so after a local run the store holds the keys a
cloud run writes. What SageMaker itself keeps (executions, logs, the model registry, models, endpoint
configs, endpoints, job sandboxes, the step cache) lives under ``<store>/_sagemaker/``; a bucket name
cannot start with ``_``, so the two never collide.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

SERVICE_DIR = "_sagemaker"


class StoreError(ValueError):
    """A URI or key the local store cannot serve (one clear message)."""


class Store:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    # -- S3 ------------------------------------------------------------------------------------------
    def path(self, uri: str) -> Path:
        """``s3://bucket/a/b`` -> ``<store>/bucket/a/b``."""
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise StoreError(f"not an S3 URI: {uri!r}")
        bucket, _, key = uri[5:].partition("/")
        if not bucket or bucket.startswith("_") or ".." in Path(key).parts:
            raise StoreError(f"bad S3 URI: {uri!r}")
        return self.root / bucket / key

    def objects(self, uri: str) -> list[tuple[str, Path]]:
        """The objects an ``S3Prefix`` input of ``uri`` names, as (relative name, file) pairs.

        Like the service: an exact object comes by its own name; otherwise every object under the
        prefix, named by its key after the prefix. A prefix that names nothing is an error, as the
        job would fail on it.
        """
        base = self.path(uri)
        if base.is_file():
            return [(base.name, base)]
        if base.is_dir():
            files = sorted(p for p in base.rglob("*") if p.is_file())
            if files:
                return [(p.relative_to(base).as_posix(), p) for p in files]
        raise StoreError(f"no objects at {uri} (looked in {base})")

    def download(self, uri: str, target: Path) -> None:
        """Copy the objects under ``uri`` into ``target`` (copies: a job may change its inputs)."""
        for name, source in self.objects(uri):
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)

    def upload(self, folder: Path, uri: str) -> None:
        """Copy a folder's files to the keys under ``uri`` (existing keys are overwritten)."""
        for source in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.put_file(source, f"{uri.rstrip('/')}/{source.relative_to(folder).as_posix()}")

    def put_file(self, source: Path, uri: str) -> None:
        """One object: a new file, never writing through an existing one (it may be linked elsewhere)."""
        dest = self.path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest.unlink()
        shutil.copy2(source, dest)

    def put_bytes(self, uri: str, body: bytes) -> Path:
        """One object from its bytes, as S3's PutObject: a new file renamed over the key, so a reader
        never sees half of it and a file linked elsewhere is not written through. Its path."""
        dest = self.path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        written = dest.with_name(dest.name + ".partial")
        written.write_bytes(body)
        written.replace(dest)
        return dest

    def digest(self, uri: str) -> str:
        """A digest of the names and bytes of the objects under ``uri`` (for the step cache, and the
        local run's ``InputDataVersion``)."""
        sha = hashlib.sha256()
        for name, source in self.objects(uri):
            sha.update(name.encode() + b"\0")
            sha.update(file_digest(source).encode())
        return sha.hexdigest()

    # -- service records -----------------------------------------------------------------------------
    @property
    def service(self) -> Path:
        return self.root / SERVICE_DIR

    def record_dir(self, kind: str) -> Path:
        folder = self.service / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write_record(self, kind: str, name: str, record: dict[str, Any]) -> Path:
        path = self.record_dir(kind) / f"{name}.json"
        write_json_atomic(path, record)
        return path

    def read_record(self, kind: str, name: str) -> dict[str, Any] | None:
        path = self.service / kind / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def records(self, kind: str) -> list[dict[str, Any]]:
        folder = self.service / kind
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON so that a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
