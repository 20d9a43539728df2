"""The local model registry: versioned model packages in ``<store>/_sagemaker/registry/<group>/``.

A package holds what ``CreateModelPackage`` holds (group, version, approval status, the inference
container with its model archive, the model-quality metrics, the model card, checked as the service
checks it) plus the figures of its ``evaluation.json``, so ``medtx models list`` shows them without
opening files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pipeline import model_card
from pipeline.local.jobs import arn
from pipeline.local.store import Store, write_json_atomic
from pipeline.registry import (
    STATUSES,
    RegistryError,
    card_update,
    check_status,
    figures,
    lineage,
    missing_version,
    statistics_uri,
)

KIND = "registry"


def _group_dir(store: Store, group: str) -> Path:
    return store.record_dir(KIND) / group


def register(store: Store, request: dict[str, Any], execution_id: str) -> dict[str, Any]:
    """A ``CreateModelPackage`` request (resolved) -> the stored package."""
    group = request["ModelPackageGroupName"]
    status = request.get("ModelApprovalStatus", "PendingManualApproval")
    if status not in STATUSES:
        raise RegistryError(f"ModelApprovalStatus {status!r} is not one of {', '.join(STATUSES)}")
    uri = statistics_uri(request)
    report = json.loads(store.path(uri).read_text()) if uri else None
    folder = _group_dir(store, group)
    folder.mkdir(parents=True, exist_ok=True)
    version = 1 + max((int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()), default=0)
    package = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageArn": arn("model-package", f"{group}/{version}"),
        "ModelPackageName": f"{group}/{version}",
        "ModelApprovalStatus": status,
        "ModelPackageDescription": request.get("ModelPackageDescription", ""),
        "InferenceSpecification": request.get("InferenceSpecification", {}),
        "ModelMetrics": request.get("ModelMetrics", {}),
        "CreationTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "PipelineExecutionId": execution_id,
        "Figures": figures(report) if report else {},
        **lineage(request, report),
    }
    if request.get("CustomerMetadataProperties"):  # as DescribeModelPackage: only when the request set some
        package["CustomerMetadataProperties"] = request["CustomerMetadataProperties"]
    for field in ("Domain", "Task"):
        if request.get(field):
            package[field] = request[field]
    if request.get("ModelCard"):  # the service validates the card against its schema; so does this
        card = request["ModelCard"]
        try:
            model_card.check(card.get("ModelCardContent", ""))
        except model_card.ModelCardError as err:
            raise RegistryError(f"RegisterModel: {err}") from err
        package["ModelCard"] = card
    write_json_atomic(folder / f"{version}.json", package)
    return package


def packages(store: Store, group: str | None = None) -> list[dict[str, Any]]:
    root = store.service / KIND
    if not root.is_dir():
        return []
    groups = [root / group] if group else sorted(p for p in root.iterdir() if p.is_dir())
    found = []
    for folder in groups:
        found += [json.loads(p.read_text()) for p in folder.glob("*.json")]
    return sorted(found, key=lambda p: (p["ModelPackageGroupName"], p["ModelPackageVersion"]))


def _path(store: Store, group: str, version: int) -> Path:
    path = _group_dir(store, group) / f"{version}.json"
    if not path.exists():
        known = [p["ModelPackageVersion"] for p in packages(store, group)]
        raise missing_version(group, version, known)
    return path


def describe(store: Store, group: str, version: int) -> dict[str, Any]:
    """One version of a group (the error lists the versions there are)."""
    return json.loads(_path(store, group, version).read_text())


def to_deploy(store: Store, group: str, version: int | None = None, arn: str | None = None) -> dict[str, Any]:
    """The package ``medtx deploy --local`` serves: the one named by version or ARN, else the group's
    newest Approved one."""
    if version is not None:
        return describe(store, group, version)
    if arn:
        named = by_arn(store, arn, group)
        if named is None:
            raise RegistryError(f"no model package {arn} in {store.root}")
        return named
    approved = [p for p in packages(store, group) if p["ModelApprovalStatus"] == "Approved"]
    if not approved:
        raise RegistryError(
            f"no Approved model package in group {group!r}: approve one first "
            "(`medtx models approve VERSION`; `medtx models list` lists them)"
        )
    return approved[-1]


def by_arn(store: Store, arn: str, group: str | None = None) -> dict[str, Any] | None:
    """The package of that ARN (in ``group``, else in any group), or None."""
    return next((p for p in packages(store, group) if p["ModelPackageArn"] == arn), None)


def set_status(store: Store, group: str, version: int, status: str, description: str = "") -> dict[str, Any]:
    """``UpdateModelPackage``: approve or reject one version (and its model card, per
    ``card_update``)."""
    check_status(status)
    path = _path(store, group, version)
    package = json.loads(path.read_text())
    package["ModelApprovalStatus"] = status
    if description:
        package["ApprovalDescription"] = description
    card = card_update(package, status)
    if card:
        package["ModelCard"] = {**package["ModelCard"], **card}
    package["LastModifiedTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_json_atomic(path, package)
    return package
