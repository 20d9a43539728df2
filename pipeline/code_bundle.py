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


def folder_digest(folder: Path) -> str:
    return files_digest(folder, bundle_files(folder))


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


def _bundle_keys(definition: str, name: str) -> set[str]:
    return set(re.findall(rf"/{re.escape(name)}-([0-9a-f]{{16}})/", definition))


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
        deployed = _bundle_keys(definition, name)
        here = files_digest(folder, step_bundle_files(name, folder))
        if deployed and here not in deployed:
            there = ", ".join(f"{name}-{d}" for d in sorted(deployed))
            differ.append(f"{name} ({there} there, {name}-{here} here)")
    whole = _bundle_keys(definition, WHOLE_FOLDER)
    if whole and not differ:
        return (
            f"the pipeline runs one bundle of every script ({WHOLE_FOLDER}-{', '.join(sorted(whole))}): it "
            "was upserted before each step had its own; the execution runs that code. `medtx upsert` (or a "
            "push) first to run this checkout's."
        )
    if not differ:
        return None
    return (
        f"the pipeline runs other code than this checkout's scripts/ for {'; '.join(differ)}: changed since "
        "the last upsert, or another commit; the execution runs the upserted code (`medtx diff` lists "
        "every difference). `medtx upsert` (or a push) first to run this checkout's."
    )
