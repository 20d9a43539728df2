"""The pipeline built under moto (no AWS account): definition JSON and a live in-memory client."""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

import pytest
from aws_helpers import BUCKET, INPUT_KEY, REGION, ROLE

if importlib.util.find_spec("sagemaker") is None:  # importing sagemaker.mlops needs a region set
    pytest.skip("the pipeline extra is not installed", allow_module_level=True)


#: Steps per page of moto's stand-in ListPipelineExecutionSteps (few, so every caller must paginate).
STEPS_PER_PAGE = 4


def _executed(steps: list[dict]) -> list[str]:
    """The steps an execution runs when every condition holds, in order."""
    names = []
    for step in steps:
        names.append(step["Name"])
        if step["Type"] == "Condition":
            names += _executed(step["Arguments"].get("IfSteps", []))
    return names


def _list_pipeline_execution_steps(self):
    """moto does not implement ListPipelineExecutionSteps; it finishes every execution at once
    (Succeeded), so this answers with the steps of the execution's own definition that run when every
    condition holds, each Succeeded, a page at a time."""
    from moto.core.responses import ActionResult

    arn = self._get_param("PipelineExecutionArn")
    definition = self.sagemaker_backend.describe_pipeline_definition_for_execution(arn)["PipelineDefinition"]
    names = _executed(json.loads(definition)["Steps"])
    if self._get_param("SortOrder", "Descending") == "Descending":
        names.reverse()
    start = int(self._get_param("NextToken") or 0)
    page: dict[str, Any] = {
        "PipelineExecutionSteps": [
            {"StepName": n, "StepStatus": "Succeeded"} for n in names[start:][:STEPS_PER_PAGE]
        ]
    }
    if start + STEPS_PER_PAGE < len(names):
        page["NextToken"] = str(start + STEPS_PER_PAGE)
    return ActionResult(page)


def _list_pipeline_executions(self):
    """moto lists executions oldest first whatever the request asks, with MaxResults ignored and a
    missing failure reason as the string "None"; SageMaker sorts (newest first by default) and pages."""
    from moto.core.responses import ActionResult

    found = self.sagemaker_backend.list_pipeline_executions(self._get_param("PipelineName"))
    summaries = found["PipelineExecutionSummaries"]
    for summary in summaries:
        if summary.get("PipelineExecutionFailureReason") == "None":
            del summary["PipelineExecutionFailureReason"]
    summaries.reverse()  # insertion order is start order: newest first, stable for equal start times
    if self._get_param("SortOrder") == "Ascending":
        summaries.reverse()
    start, size = int(self._get_param("NextToken") or 0), int(self._get_param("MaxResults") or 10)
    page = {"PipelineExecutionSummaries": summaries[start : start + size]}
    if start + size < len(summaries):
        page["NextToken"] = str(start + size)
    return ActionResult(page)


@pytest.fixture(scope="module")
def aws():
    from moto import mock_aws
    from moto.sagemaker.responses import SageMakerResponse

    saved = dict(os.environ)
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    )
    for key in ("SAGEMAKER_PIPELINE_ROLE_ARN", "ARTIFACT_BUCKET", "AWS_REGION"):
        os.environ.pop(key, None)
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        import boto3

        patch.setattr(
            SageMakerResponse, "list_pipeline_execution_steps", _list_pipeline_execution_steps, raising=False
        )
        patch.setattr(SageMakerResponse, "list_pipeline_executions", _list_pipeline_executions)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        # the raw CSV at InputDataUri's default key: medtx start names its version (InputDataVersion)
        s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=b"description,medical_specialty,transcription\n")
        yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def built(aws):
    from pipeline import get_pipeline

    pipeline = get_pipeline(region=REGION, role=ROLE)
    return pipeline, json.loads(pipeline.definition())


@pytest.fixture
def iam_calls():
    """The IAM actions of every call made through clients that ``boto3.client`` creates meanwhile
    (the CLI's; clients made before, or from a session of their own, are not recorded):
    ``sagemaker-runtime`` calls are ``sagemaker:`` actions, ListObjectsV2 is ``s3:ListBucket``."""
    import boto3

    calls: set[str] = set()

    def record(model, **_):
        service = model.service_model.service_name
        call = f"{ {'sagemaker-runtime': 'sagemaker'}.get(service, service) }:{model.name}"
        calls.add({"s3:ListObjectsV2": "s3:ListBucket"}.get(call, call))  # its IAM action's name

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.*.*", record)
    yield calls
    boto3.DEFAULT_SESSION.events.unregister("before-call.*.*", record)
