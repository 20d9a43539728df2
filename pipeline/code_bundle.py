"""Content-addressed code upload: the same files always land at the same S3 key.

The SDK uploads code to timestamped keys, so every build of the pipeline differs and each re-upsert
defeats step caching. Here a folder's files are hashed (relative path + bytes, ``__pycache__``
excluded) and uploaded under ``s3://<bucket>/<prefix>/<name>-<digest>/``: two builds from the same
commit produce byte-identical definitions, and a changed script changes the key (so caching sees it).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "scripts"


def bundle_files(folder: Path) -> list[Path]:
    """Files of a code folder in a stable order, without caches."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in bundle_files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def upload_folder(s3_client, folder: Path, bucket: str, prefix: str, name: str) -> str:
    """Upload ``folder`` to its content-addressed key; returns the ``s3://.../`` prefix URI."""
    key_prefix = f"{prefix.strip('/')}/{name}-{folder_digest(folder)}"
    for path in bundle_files(folder):
        s3_client.upload_file(str(path), bucket, f"{key_prefix}/{path.relative_to(folder).as_posix()}")
    return f"s3://{bucket}/{key_prefix}/"


def stale_scripts_note(definition: str, folder: Path = SCRIPTS_DIR, name: str = "scripts") -> str | None:
    """What to say when a definition (as SageMaker holds it) runs another ``folder`` bundle than this
    checkout's: its scripts changed since the last upsert, or the checkout is of another commit. An
    execution runs the upserted definition's code, not the checkout's. ``None`` when they match or
    either side is unknown."""
    deployed = set(re.findall(rf"/{re.escape(name)}-([0-9a-f]{{16}})/", definition))
    if not deployed or not folder.is_dir():
        return None
    here = folder_digest(folder)
    if here in deployed:
        return None
    return (
        f"the pipeline runs the {name} bundle {name}-{', '.join(sorted(deployed))}; this checkout's "
        f"{name}/ is {name}-{here} (changed since the last upsert, or another commit): the execution "
        "runs the upserted code (`medtx diff` lists every difference). `medtx upsert` (or a push) first "
        "to run this checkout's."
    )
