"""The SageMaker Model Registry behind ``medtx models --sagemaker``: a group's versions with their
figures, and the approval step of the deployment workflow.

A package's figures are its model-quality statistics, the ``evaluation.json`` of the execution that
evaluated it (the RegisterModel step records its S3 URI), read back from S3: macro-F1 and the other
headline metrics, the TF-IDF baseline's macro-F1 and the paired bootstrap interval of the difference.
The local registry (``pipeline.local.registry``) keeps the same figures with each package, so both
registries list alike. Approving a version is what deploys it where the stack of
``infra/template.yaml`` runs: its EventBridge rule starts the deploy project when a package becomes
``Approved``.
"""

from __future__ import annotations

import json
import re
from typing import Any

STATUSES = ("PendingManualApproval", "Approved", "Rejected")
#: Approving a version approves its model card when the card waits for review (the pipeline registers
#: it ``PendingReview``: version and card are reviewed together); a ``Draft`` card is still being
#: written, and an ``Approved`` or ``Archived`` one was settled apart, so those stay as they are, as
#: every card does when a version is rejected (a turned-down version's card still describes it).
CARD_REVIEW = ("PendingReview", "Approved")
#: Where this project's executions write their artifacts: ``s3://<bucket>/executions/<id>/...``.
_EXECUTION = re.compile(r"/executions/([^/]+)/")


class RegistryError(ValueError):
    pass


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise RegistryError(f"status {status!r} is not one of {', '.join(STATUSES)}")


def card_update(package: dict[str, Any], status: str) -> dict[str, str] | None:
    """The ``ModelCard`` member of the ``UpdateModelPackage`` request that sets ``status`` on
    ``package`` (its ``DescribeModelPackage``), or None where the card stays as it is."""
    card = package.get("ModelCard") or {}
    waiting, approved = CARD_REVIEW
    if status != "Approved" or card.get("ModelCardStatus") != waiting:
        return None
    return {"ModelCardStatus": approved}


def card_left_waiting(package: dict[str, Any]) -> bool:
    """An Approved version whose card still waits for review: approved without it (the Model
    Registry's approval in Studio sets the version's status alone). Approving the version again with
    ``medtx models approve`` approves the card (``card_update``)."""
    return package.get("ModelApprovalStatus") == "Approved" and card_update(package, "Approved") is not None


def missing_version(group: str, version: int, known: list[int]) -> RegistryError:
    return RegistryError(
        f"no version {version} in model package group {group!r} (versions: {known or 'none'})"
    )


def figures(report: dict[str, Any]) -> dict[str, float]:
    """The figures a registry lists from an ``evaluation.json``: every headline metric, the baseline's
    macro-F1, and the low and high ends of the model-minus-baseline interval when it was computed."""
    metrics = report.get("multiclass_classification_metrics", {})
    found = {
        name: value["value"]
        for name, value in metrics.items()
        if isinstance(value, dict) and isinstance(value.get("value"), int | float)
    }
    if "baseline" in report:
        found["baseline_macro_f1"] = report["baseline"].get("macro_f1")
    interval = report.get("bootstrap", {}).get("interval", {}).get("macro_f1_minus_baseline")
    if interval:
        found["difference_low"], found["difference_high"] = interval
    return found


def _container(package: dict[str, Any]) -> dict[str, Any]:
    """The first container of a package's (or a ``CreateModelPackage`` request's) inference
    specification; empty when it has none."""
    return (package.get("InferenceSpecification", {}).get("Containers") or [{}])[0]


def model_data_url(package: dict[str, Any]) -> str | None:
    """The S3 URI of the model archive a package (or a ``CreateModelPackage`` request) serves."""
    return _container(package).get("ModelDataUrl")


def serving_container(package: dict[str, Any]) -> dict[str, Any]:
    """What a package serves its archive with: the first container's image and environment."""
    container = _container(package)
    return {"Image": container.get("Image"), "Environment": container.get("Environment") or {}}


def lineage(package: dict[str, Any], report: dict[str, Any] | None) -> dict[str, str | None]:
    """What a version was made from, as both registries list it: ``ModelDataUrl``, its archive, and
    ``InputDataVersion``, the data it was trained on (the package's ``CustomerMetadataProperties``,
    which the pipeline's RegisterModel step sets, else its ``evaluation.json``'s ``input_version``;
    None when neither records it)."""
    recorded = package.get("CustomerMetadataProperties") or {}
    return {
        "ModelDataUrl": model_data_url(package),
        "InputDataVersion": recorded.get("InputDataVersion") or (report or {}).get("input_version"),
    }


#: What ``made_of`` names, in the order ``models compare`` lists it: the part and where it is recorded
#: (the archive and data version through ``lineage``, the rest in ``CustomerMetadataProperties``).
MADE_OF = (
    ("archive", "ModelDataUrl"),
    ("data version", "InputDataVersion"),
    ("data", "InputDataUri"),
    ("base model", "BaseModel"),
    ("training code", "CodeBundle"),
    ("evaluation code", "EvaluationCodeBundle"),
    ("commit", "SourceCommit"),
)


def made_of(package: dict[str, Any], report: dict[str, Any] | None) -> dict[str, str | None]:
    """Each part of ``MADE_OF`` a version records (None where it records none): what a comparison of
    two versions tells apart, e.g. the same archive evaluated by other evaluation code."""
    recorded = {**(package.get("CustomerMetadataProperties") or {}), **lineage(package, report)}
    return {part: recorded.get(key) or None for part, key in MADE_OF}


def same_archives(found: list[dict[str, Any]]) -> dict[int, int]:
    """Each version whose archive an older version in ``found`` already holds -> the oldest such
    version: a retraining whose Train step was a cache hit registers the same weights again."""
    first: dict[str, int] = {}
    repeats = {}
    for package in sorted(found, key=lambda p: p["ModelPackageVersion"]):
        # a local package registered before the key existed still holds its request's archive
        url = package.get("ModelDataUrl") or model_data_url(package)
        if not url:
            continue
        version = package["ModelPackageVersion"]
        if url in first:
            repeats[version] = first[url]
        first.setdefault(url, version)
    return repeats


def statistics_uri(package: dict[str, Any]) -> str | None:
    """The S3 URI of a package's model-quality statistics (``evaluation.json``), if it has one."""
    return package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")


def _iso(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(moment, "strftime") else str(moment or "")


def _summaries(sagemaker: Any, group: str) -> list[dict[str, Any]]:
    """Every version of a group, newest first."""
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
    )
    return [summary for page in pages for summary in page["ModelPackageSummaryList"]]


def packages(sagemaker: Any, s3: Any, group: str, last: int = 10) -> tuple[list[dict[str, Any]], int]:
    """The newest ``last`` versions of a group, oldest first, and how many versions the group has.
    The packages have the local registry's shape (``ModelPackageVersion``, ``ModelApprovalStatus``,
    ``CreationTime``, ``Figures``, ``PipelineExecutionId`` of the execution the figures came from, the
    ``ModelCard``'s status). A package whose statistics cannot be read keeps empty figures and says
    why in ``FiguresError``; a group that does not exist is an error."""
    from botocore.exceptions import ClientError

    try:
        summaries = _summaries(sagemaker, group)
    except ClientError as err:
        raise RegistryError(f"cannot list model package group {group!r}: {err}") from err
    _check_group(sagemaker, group, summaries)
    found, read = [], s3_reader(s3)
    for summary in reversed(summaries[:last]):
        described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        uri = statistics_uri(described)
        execution = _EXECUTION.search(uri or "")
        package = {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": described.get("ModelPackageVersion"),
            "ModelPackageArn": summary["ModelPackageArn"],
            "ModelApprovalStatus": described.get("ModelApprovalStatus"),
            "CreationTime": _iso(described.get("CreationTime")),
            "PipelineExecutionId": execution.group(1) if execution else "",
            "StatisticsUri": uri,
            "Figures": {},
        }
        for key in ("ApprovalDescription", "CustomerMetadataProperties"):
            if described.get(key):
                package[key] = described[key]
        if described.get("ModelCard"):  # its status (the content is the card itself: `models show --card`)
            package["ModelCard"] = {"ModelCardStatus": described["ModelCard"].get("ModelCardStatus")}
        report = None
        if uri is None:
            package["FiguresError"] = "the package records no model-quality statistics"
        else:
            try:
                report = json.loads(read(uri))
                package["Figures"] = figures(report)
            except (OSError, ValueError) as err:
                package["FiguresError"] = f"{uri}: {err}"
        found.append({**package, **lineage(described, report)})
    return found, len(summaries)


def _check_group(sagemaker: Any, group: str, summaries: list[dict[str, Any]]) -> None:
    """A group listed without versions may not exist: that is an error naming it (a group without
    versions yet is not)."""
    if not summaries and not _group_exists(sagemaker, group):
        raise RegistryError(f"no model package group {group!r} in this account and region")


def _group_exists(sagemaker: Any, group: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return False
        raise
    return True


def package_arn(sagemaker: Any, group: str, version: int) -> str:
    """The ARN of one version of a group; the error lists the versions there are."""
    summaries = _summaries(sagemaker, group)
    for summary in summaries:
        if summary.get("ModelPackageVersion") == version:
            return summary["ModelPackageArn"]
    _check_group(sagemaker, group, summaries)
    known = sorted(s["ModelPackageVersion"] for s in summaries if s.get("ModelPackageVersion"))
    raise missing_version(group, version, known)


def describe(sagemaker: Any, group: str, version: int) -> dict[str, Any]:
    """One version of a group as DescribeModelPackage answers (the error lists the versions there are)."""
    return sagemaker.describe_model_package(ModelPackageName=package_arn(sagemaker, group, version))


def beside(uri: str, name: str) -> str:
    """The URI of the file ``name`` in the folder of ``uri``: the Evaluate step writes its per-class
    table and per-row predictions beside the ``evaluation.json`` a package records."""
    return uri.rsplit("/", 1)[0] + "/" + name


def evaluation(read: Any, uri: str | None) -> tuple[dict[str, Any], Any]:
    """A package's ``evaluation.json`` and the ``per-class-metrics.csv`` beside it, through
    ``read(uri) -> bytes``. The figures stand without the per-class table: when it cannot be read, the
    second item is the reason (a string) instead of the table."""
    from pipeline.report import PER_CLASS_CSV, read_per_class

    if uri is None:
        raise RegistryError("the package records no model-quality statistics")
    report = json.loads(read(uri))
    per_class_uri = beside(uri, PER_CLASS_CSV)
    try:
        return report, read_per_class(read(per_class_uri))
    except (OSError, ValueError) as err:
        return report, f"{per_class_uri}: {err}"


def s3_reader(s3: Any) -> Any:
    """``read(uri) -> bytes`` for ``evaluation``, from S3 (a missing object is a FileNotFoundError)."""
    from botocore.exceptions import ClientError

    def read(uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as err:
            raise FileNotFoundError(str(err)) from err

    return read


def set_status(
    sagemaker: Any, group: str, version: int, status: str, description: str = ""
) -> dict[str, Any]:
    """``UpdateModelPackage``: approve or reject one version (and its model card, per
    ``card_update``) in one request; returns the package as it is now."""
    check_status(status)
    arn = package_arn(sagemaker, group, version)
    request: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if description:
        request["ApprovalDescription"] = description
    card = card_update(sagemaker.describe_model_package(ModelPackageName=arn), status)
    if card:
        request["ModelCard"] = card
    sagemaker.update_model_package(**request)
    return sagemaker.describe_model_package(ModelPackageName=arn)
