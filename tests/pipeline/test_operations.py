"""``medtx schedule`` and ``medtx deploy`` under moto; the calls moto lacks are checked against the
service model (botocore's own validator) instead."""

from __future__ import annotations

import contextlib

import pytest
from aws_helpers import REGION, ROLE

from pipeline import deploy, schedule

PIPELINE = "medtx-specialty-classifier"
GROUP = "medtx-specialty-classifier"


def _validate(service: str, operation: str, request: dict) -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    report = ParamValidator().validate(request, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_schedule_create_show_disable_enable_delete(aws):
    import boto3

    events = boto3.client("events", region_name=REGION)
    target = schedule.pipeline_arn(REGION, "123456789012", PIPELINE)
    params = [
        {"Name": "InputDataUri", "Value": "s3://bucket/dataset/dataset.csv"},
        {"Name": "Epochs", "Value": "4"},
    ]
    schedule.put(events, PIPELINE, target, ROLE, "cron(0 3 ? * MON *)", params)
    shown = schedule.show(events, PIPELINE)
    assert shown["ScheduleExpression"] == "cron(0 3 ? * MON *)" and shown["State"] == "ENABLED"
    assert shown["Targets"] == [target] and shown["Parameters"]["Epochs"] == "4"
    schedule.put(events, PIPELINE, target, ROLE, "rate(7 days)", params[:1])  # create is also update
    assert schedule.show(events, PIPELINE)["ScheduleExpression"] == "rate(7 days)"
    assert schedule.set_state(events, PIPELINE, enabled=False)["State"] == "DISABLED"
    assert schedule.set_state(events, PIPELINE, enabled=True)["State"] == "ENABLED"
    schedule.delete(events, PIPELINE)
    with pytest.raises(schedule.ScheduleError, match="no retraining schedule"):
        schedule.show(events, PIPELINE)


@pytest.mark.parametrize("bad", ["every monday", "cron(0 3 * *)", "rate(7 weeks)"])
def test_schedule_expressions_are_checked(bad):
    with pytest.raises(schedule.ScheduleError, match="not an EventBridge schedule"):
        schedule.check_expression(bad)


@pytest.fixture
def registry(aws):
    import boto3

    client = boto3.client("sagemaker", region_name=REGION)
    with contextlib.suppress(client.exceptions.ClientError):
        client.create_model_package_group(ModelPackageGroupName=GROUP)
    spec = {
        "Containers": [
            {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/hf:1", "ModelDataUrl": "s3://b/m.tar.gz"}
        ],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    arns = {}
    for status in ("Approved", "PendingManualApproval"):
        arns[status] = client.create_model_package(
            ModelPackageGroupName=GROUP, InferenceSpecification=spec, ModelApprovalStatus=status
        )["ModelPackageArn"]
    return client, arns


def test_deploy_creates_the_endpoint_and_its_alarms(registry):
    import boto3

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    settings = deploy.DeploySettings(endpoint_name="medtx-test-endpoint", role_arn=ROLE)
    assert deploy.latest_approved(client, GROUP) == arns["Approved"]
    done = deploy.deploy(client, cloudwatch, settings, arns["Approved"])
    assert done["action"] == "created"
    endpoint = client.describe_endpoint(EndpointName="medtx-test-endpoint")
    assert endpoint["EndpointConfigName"] == done["endpoint_config"]
    model = client.describe_model(ModelName=done["model"])
    assert model["Containers"][0]["ModelPackageName"] == arns["Approved"]
    assert deploy.model_request(settings, arns["Approved"], "x")["EnableNetworkIsolation"] is True
    alarms = cloudwatch.describe_alarms(AlarmNames=deploy.alarm_names("medtx-test-endpoint"))["MetricAlarms"]
    assert {a["MetricName"] for a in alarms} == {"Invocation5XXErrors", "ModelLatency"}


def test_deploy_refuses_a_package_that_is_not_approved(registry):
    import boto3

    client, arns = registry
    settings = deploy.DeploySettings(endpoint_name="medtx-test-endpoint", role_arn=ROLE)
    with pytest.raises(deploy.DeployError, match="PendingManualApproval; only Approved"):
        deploy.deploy(
            client, boto3.client("cloudwatch", region_name=REGION), settings, arns["PendingManualApproval"]
        )


def test_an_existing_endpoint_is_updated_blue_green_with_canary_and_rollback(registry):
    """moto has no update_endpoint: the request the deploy sends is validated against the API model."""
    import boto3

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    settings = deploy.DeploySettings(
        endpoint_name="medtx-bg-endpoint", role_arn=ROLE, kms_key_id="alias/medtx"
    )
    deploy.deploy(client, cloudwatch, settings, arns["Approved"])
    sent = []
    client.update_endpoint = lambda **request: sent.append(request) or {}
    done = deploy.deploy(client, cloudwatch, settings, arns["Approved"])
    assert done["action"].startswith("updated")
    (request,) = sent
    _validate("sagemaker", "UpdateEndpoint", request)
    policy = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert policy["Type"] == "CANARY" and policy["CanarySize"]["Value"] == 10
    rollback = request["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert [a["AlarmName"] for a in rollback] == deploy.alarm_names("medtx-bg-endpoint")
    for alarm in deploy.alarm_requests(settings):
        _validate("cloudwatch", "PutMetricAlarm", alarm)
    _validate("sagemaker", "CreateEndpointConfig", deploy.endpoint_config_request(settings, "m", "x"))


def test_schedule_and_deploy_commands(registry, monkeypatch):
    import json

    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.setenv("AWS_REGION", REGION)
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "schedule",
            "create",
            "rate(7 days)",
            "--role-arn",
            ROLE,
            "--param",
            "Epochs=2",
            "--pipeline-name",
            "p",
        ],
    )
    assert created.exit_code == 0, created.output
    shown = runner.invoke(app, ["schedule", "show", "--pipeline-name", "p"])
    state = json.loads(shown.stdout)
    assert state["ScheduleExpression"] == "rate(7 days)" and state["Parameters"] == {"Epochs": "2"}
    assert state["Targets"][0].endswith(":pipeline/p")
    assert "DISABLED" in runner.invoke(app, ["schedule", "disable", "--pipeline-name", "p"]).output
    assert runner.invoke(app, ["schedule", "delete", "--pipeline-name", "p"]).exit_code == 0
    missing = runner.invoke(app, ["schedule", "show", "--pipeline-name", "p"])
    assert missing.exit_code == 2 and "no retraining schedule" in missing.output
    bad = runner.invoke(app, ["schedule", "create", "weekly", "--role-arn", ROLE, "--pipeline-name", "p"])
    assert bad.exit_code == 2 and "not an EventBridge schedule" in bad.output

    monkeypatch.setenv("SAGEMAKER_PIPELINE_ROLE_ARN", ROLE)
    _, arns = registry
    pending = runner.invoke(app, ["deploy", "--model-package-arn", arns["PendingManualApproval"]])
    assert pending.exit_code == 2 and "only Approved packages are deployed" in pending.output
    deployed = runner.invoke(app, ["deploy", "--endpoint-name", "medtx-cli-endpoint"])  # the latest Approved
    assert deployed.exit_code == 0, deployed.output
    assert json.loads(deployed.stdout)["model_package"] == arns["Approved"]
