"""The pipeline built under moto (no AWS account): definition JSON and a live in-memory client."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
from aws_helpers import BUCKET, REGION, ROLE

if importlib.util.find_spec("sagemaker") is None:  # importing sagemaker.mlops needs a region set
    pytest.skip("the pipeline extra is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def aws():
    from moto import mock_aws

    saved = dict(os.environ)
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    )
    for key in ("SAGEMAKER_PIPELINE_ROLE_ARN", "ARTIFACT_BUCKET", "AWS_REGION"):
        os.environ.pop(key, None)
    with mock_aws():
        import boto3

        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def built(aws):
    from pipeline import get_pipeline

    pipeline = get_pipeline(region=REGION, role=ROLE)
    return pipeline, json.loads(pipeline.definition())
