"""Content-addressed code upload: the same files always land at the same S3 key.

The SDK uploads code to timestamped keys, so every build of the pipeline differs and each re-upsert
defeats step caching. Here a bundle's files are hashed (relative path + bytes, ``__pycache__``
excluded) and uploaded under ``s3://<bucket>/<prefix>/<name>-<digest>/``: two builds from the same
commit produce byte-identical definitions, and a changed script changes the key (so caching sees it).

Each step gets its own bundle of ``scripts/`` (``STEP_BUNDLES``): its entry script and the modules it
imports, so a change to ``evaluate.py`` moves the Evaluate step's key only, and Train (a GPU job)
stays cached.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "scripts"

#: Each step's bundle of ``scripts/``, named by the scripts it starts from: the bundle holds them and
#: every ``scripts/`` module they import, lazily imported ones too (``script_closure``). Train's also
#: starts from ``inference.py``: ``train.py`` copies the endpoint handler into the model archive
#: (``train.HANDLER_FILES``), so the handler is training's code.
STEP_BUNDLES: dict[str, tuple[str, ...]] = {
    "preprocess": ("preprocess.py",),
    "train": ("train.py", "inference.py"),
    "evaluate": ("evaluate.py",),
    "champion": ("champion.py",),
}
#: The name of the one bundle of every script that definitions upserted before ``STEP_BUNDLES`` ran.
WHOLE_FOLDER = "scripts"


def bundle_files(folder: Path) -> list[Path]:
    """Files of a code folder in a stable order, without caches."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def _imported_modules(path: Path) -> set[str]:
    """Top-level names of what ``path`` imports, in functions too (absolute imports only: the scripts
    run as top-level modules beside each other)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def script_closure(seeds: Iterable[str], folder: Path | None = None) -> list[Path]:
    """``seeds`` (file names in ``folder``, default ``SCRIPTS_DIR``) and every module of ``folder``
    they import, directly or through each other, sorted."""
    folder = folder or SCRIPTS_DIR
    found: set[Path] = set()
    todo = [folder / name for name in seeds]
    while todo:
        path = todo.pop()
        if path in found:
            continue
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a file: a code bundle names a script that is missing")
        found.add(path)
        modules = (folder / f"{name}.py" for name in _imported_modules(path))
        todo.extend(module for module in modules if module.is_file())
    return sorted(found)


def step_bundle_files(name: str, folder: Path | None = None) -> list[Path]:
    """The files of the step bundle ``name`` (a key of ``STEP_BUNDLES``)."""
    return script_closure(STEP_BUNDLES[name], folder)


def files_digest(folder: Path, files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def upload_files(s3_client, folder: Path, files: list[Path], bucket: str, prefix: str, name: str) -> str:
    """Upload ``files`` (in ``folder``) to their content-addressed key; returns the ``s3://.../`` URI."""
    key_prefix = f"{prefix.strip('/')}/{name}-{files_digest(folder, files)}"
    for path in files:
        s3_client.upload_file(str(path), bucket, f"{key_prefix}/{path.relative_to(folder).as_posix()}")
    return f"s3://{bucket}/{key_prefix}/"


def upload_folder(s3_client, folder: Path, bucket: str, prefix: str, name: str) -> str:
    """Upload ``folder`` to its content-addressed key; returns the ``s3://.../`` prefix URI."""
    return upload_files(s3_client, folder, bundle_files(folder), bucket, prefix, name)


def upload_step_bundles(s3_client, bucket: str, prefix: str, folder: Path | None = None) -> dict[str, str]:
    """Every step's bundle (``STEP_BUNDLES``) of ``folder`` (default ``SCRIPTS_DIR``) uploaded; their
    URIs by name."""
    folder = folder or SCRIPTS_DIR
    return {
        name: upload_files(s3_client, folder, step_bundle_files(name, folder), bucket, prefix, name)
        for name in STEP_BUNDLES
    }


def bundle_uris(definition: str, name: str) -> set[str]:
    """The ``s3://.../<name>-<digest>/`` URIs of the bundle ``name`` a definition's steps read."""
    return set(re.findall(rf"s3://[^\"\s]+?/{re.escape(name)}-[0-9a-f]{{16}}/", definition))


def changed_files(s3_client, uri: str, name: str, folder: Path | None = None) -> list[str]:
    """This checkout's files of the step bundle ``name`` against the upserted one at ``uri``, each
    file that differs as ``evaluate.py changed`` (or ``added`` / ``removed``). Compared by MD5 with
    the objects' ETags (an object under the multipart threshold, as every script is, has its MD5 as
    ETag), so nothing is downloaded. A bundle that cannot be listed is one line saying so."""
    from botocore.exceptions import ClientError

    folder = folder or SCRIPTS_DIR
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    there: dict[str, str] = {}
    try:
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                there[item["Key"][len(prefix) :]] = item["ETag"].strip('"')
    except ClientError as err:
        return [f"cannot list {uri} to compare its files ({err.response['Error']['Code']})"]
    if not there:
        return [f"{uri} holds no files (deleted since the upsert?)"]
    here = {
        path.relative_to(folder).as_posix(): hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        for path in step_bundle_files(name, folder)
    }
    lines = []
    for file in sorted(set(there) | set(here)):
        if file not in there:
            lines.append(f"{file} added")
        elif file not in here:
            lines.append(f"{file} removed")
        elif "-" in there[file]:
            lines.append(f"{file} not compared (uploaded in parts: its ETag is no MD5)")
        elif there[file] != here[file]:
            lines.append(f"{file} changed")
    return lines


def _last_folder(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[1]


def bundle_differences(s3_client, deployed: str, built: str, folder: Path | None = None) -> list[str]:
    """For each step bundle the upserted definition ``deployed`` reads at another key than the
    ``built`` one: which of its files this checkout changed, added or removed."""
    lines = []
    for name in STEP_BUNDLES:
        old, new = bundle_uris(deployed, name), bundle_uris(built, name)
        if not old or old == new:
            continue
        here = ", ".join(sorted(_last_folder(uri) for uri in new))
        for uri in sorted(old):
            files = changed_files(s3_client, uri, name, folder)
            lines.append(
                f"code {name} ({_last_folder(uri)} -> {here}): {'; '.join(files) or 'the same files'}"
            )
    return lines


def stale_scripts_note(definition: str, folder: Path | None = None) -> str | None:
    """What to say when a definition (as SageMaker holds it) runs other step bundles than this
    checkout's: its scripts changed since the last upsert, or the checkout is of another commit. An
    execution runs the upserted definition's code, not the checkout's. ``None`` when they match or
    either side is unknown."""
    folder = folder or SCRIPTS_DIR
    if not folder.is_dir():
        return None
    differ = []
    for name in STEP_BUNDLES:
        deployed = {_last_folder(uri) for uri in bundle_uris(definition, name)}
        here = f"{name}-{files_digest(folder, step_bundle_files(name, folder))}"
        if deployed and here not in deployed:
            differ.append(f"{name} ({', '.join(sorted(deployed))} there, {here} here)")
    whole = {_last_folder(uri) for uri in bundle_uris(definition, WHOLE_FOLDER)}
    if whole and not differ:
        return (
            f"the pipeline runs one bundle of every script ({', '.join(sorted(whole))}): it was upserted "
            "before each step had its own; the execution runs that code. `medtx upsert` (or a push) first "
            "to run this checkout's."
        )
    if not differ:
        return None
    return (
        f"the pipeline runs other code than this checkout's scripts/ for {'; '.join(differ)}: changed since "
        "the last upsert, or another commit; the execution runs the upserted code (`medtx diff` lists "
        "every difference). `medtx upsert` (or a push) first to run this checkout's."
    )
