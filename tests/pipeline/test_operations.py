"""``medtx schedule`` and ``medtx deploy`` under moto; the calls moto lacks are checked against the
service model (botocore's own validator) instead."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from typing import Any

import pytest
from aws_helpers import BUCKET, REGION, ROLE, approver_actions, codebuild_actions, policy_actions
from helpers import present

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


#: The registry fixture's packages' model archive, in the artifact bucket.
ARCHIVE = "models/huggingface-1/output/model.tar.gz"


@pytest.fixture
def registry(aws):
    import boto3
    from aws_helpers import BUCKET

    client = boto3.client("sagemaker", region_name=REGION)
    with contextlib.suppress(client.exceptions.ClientError):
        client.create_model_package_group(ModelPackageGroupName=GROUP)
    spec = {
        "Containers": [
            {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/hf:1", "ModelDataUrl": f"s3://{BUCKET}/{ARCHIVE}"}
        ],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    # the packages' archive, which a deployment keeps as the champion
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=ARCHIVE, Body=b"the archive")
    arns = {}
    for status in ("Approved", "PendingManualApproval"):
        arns[status] = client.create_model_package(
            ModelPackageGroupName=GROUP, InferenceSpecification=spec, ModelApprovalStatus=status
        )["ModelPackageArn"]
    return client, arns


def _newer(client, arn: str) -> str:
    """Another Approved package of the group, with ``arn``'s container: what a later execution registers."""
    spec = client.describe_model_package(ModelPackageName=arn)["InferenceSpecification"]
    return client.create_model_package(
        ModelPackageGroupName=GROUP, InferenceSpecification=spec, ModelApprovalStatus="Approved"
    )["ModelPackageArn"]


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


def test_approving_on_sagemaker_approves_the_card_in_the_same_request(registry):
    """moto keeps no model card with a package, so DescribeModelPackage answers here with the card the
    pipeline registers (``PendingReview``), as SageMaker does; the UpdateModelPackage requests are read
    as sent (botocore checks them against the API model)."""
    from pipeline import registry as sagemaker_registry

    client, arns = registry
    arn = arns["PendingManualApproval"]
    card = {"ModelCardContent": "{}", "ModelCardStatus": "PendingReview"}
    sent: list[dict] = []

    def with_card(parsed, **_):
        parsed["ModelCard"] = card

    client.meta.events.register("after-call.sagemaker.DescribeModelPackage", with_card)
    client.meta.events.register(
        "provide-client-params.sagemaker.UpdateModelPackage", lambda params, **_: sent.append(dict(params))
    )
    version = int(arn.rsplit("/", 1)[1])
    sagemaker_registry.set_status(client, GROUP, version, "Rejected")
    sagemaker_registry.set_status(client, GROUP, version, "Approved", "reviewed")
    card["ModelCardStatus"] = "Draft"
    sagemaker_registry.set_status(client, GROUP, version, "Approved")
    assert sent == [
        {"ModelPackageArn": arn, "ModelApprovalStatus": "Rejected"},
        {
            "ModelPackageArn": arn,
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "reviewed",
            "ModelCard": {"ModelCardStatus": "Approved"},
        },
        {"ModelPackageArn": arn, "ModelApprovalStatus": "Approved"},
    ]
    # the registry's list carries each version's card status (not its content)
    import boto3

    card["ModelCardStatus"] = "PendingReview"
    listed, _ = sagemaker_registry.packages(client, boto3.client("s3", region_name=REGION), GROUP)
    assert {p["ModelPackageArn"]: p["ModelCard"] for p in listed}[arn] == {"ModelCardStatus": "PendingReview"}


def test_an_existing_endpoint_is_updated_blue_green_with_canary_and_rollback(registry):
    """moto has no update_endpoint: the request the deploy sends is validated against the API model."""
    import boto3

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    settings = deploy.DeploySettings(
        endpoint_name="medtx-bg-endpoint", role_arn=ROLE, kms_key_id="alias/medtx"
    )
    deploy.deploy(client, cloudwatch, settings, arns["Approved"])
    sent: list[dict] = []

    def update_endpoint(**request):
        sent.append(request)
        return {}

    client.update_endpoint = update_endpoint
    done = deploy.deploy(client, cloudwatch, settings, _newer(client, arns["Approved"]))
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


def _fake_update(client, sent, rolls_back=False, autoscaling=None):
    """moto has no UpdateEndpoint: record the request, check it against the API model, and do what a
    finished blue/green update leaves (the new config served at its instance count) unless it
    rolled back. Like the service, refuse a new instance type on a variant registered for scaling."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    def update_endpoint(**request):
        _validate("sagemaker", "UpdateEndpoint", request)
        sent.append(request)
        endpoint = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[request["EndpointName"]]
        new = client.describe_endpoint_config(EndpointConfigName=request["EndpointConfigName"])
        old = client.describe_endpoint_config(EndpointConfigName=endpoint.endpoint_config_name)
        changes_type = (
            new["ProductionVariants"][0]["InstanceType"] != old["ProductionVariants"][0]["InstanceType"]
        )
        if autoscaling and changes_type and deploy.registered_target(autoscaling, request["EndpointName"]):
            raise AssertionError("UpdateEndpoint would fail: the variant is registered for autoscaling")
        if not rolls_back:
            endpoint.endpoint_config_name = request["EndpointConfigName"]
            endpoint.production_variants = endpoint._process_production_variants(new["ProductionVariants"])
        return {"EndpointArn": endpoint.arn}

    client.update_endpoint = update_endpoint


def _answers(*bodies):
    """What moto's SageMaker Runtime answers the next invocations with, in order (it has no model to
    run); earlier answers, which moto keeps per endpoint and request, are forgotten."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemakerruntime.models import sagemakerruntime_backends

    backend = sagemakerruntime_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.results.clear()
    backend.results_queue[:] = [(body, deploy.JSON, deploy.VARIANT, "") for body in bodies]


#: An answer as ``scripts/inference.py`` writes it (tests/integration checks the real handler's).
PREDICTION = json.dumps([{"label": "Cardiovascular / Pulmonary", "class_id": 0, "score": 0.91}])


def _scaled(settings, **changes):
    import dataclasses

    return dataclasses.replace(settings, **changes)


def test_deploy_autoscales_and_an_update_keeps_the_capacity_it_scaled_to(registry):
    import boto3

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    name = "medtx-scaled-endpoint"
    settings = deploy.DeploySettings(
        endpoint_name=name, role_arn=ROLE, max_instance_count=4, invocations_per_instance=600
    )
    _validate("application-autoscaling", "RegisterScalableTarget", deploy.scalable_target_request(settings))
    _validate("application-autoscaling", "PutScalingPolicy", deploy.scaling_policy_request(settings))

    created = deploy.deploy(
        client, cloudwatch, settings, arns["Approved"], autoscaling=autoscaling, poll_seconds=1
    )
    assert created["action"] == "created" and created["status"] == "InService"
    assert created["autoscaling"] == {
        "deregistered": False,
        "min": 1,
        "max": 4,
        "invocations_per_instance": 600,
    }
    target = present(deploy.registered_target(autoscaling, name))
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    (policy,) = autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=deploy.scaling_resource_id(name)
    )["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 600.0
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )

    # the variant has scaled out to 3 under load: the new fleet starts with 3, not the minimum of 1
    client.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    )
    sent: list[dict] = []
    _fake_update(client, sent, autoscaling=autoscaling)
    updated = deploy.deploy(
        client,
        cloudwatch,
        settings,
        _newer(client, arns["Approved"]),
        autoscaling=autoscaling,
        poll_seconds=1,
    )
    assert updated["action"].startswith("updated") and updated["instance_count"] == 3
    new_config = client.describe_endpoint_config(EndpointConfigName=updated["endpoint_config"])
    assert new_config["ProductionVariants"][0]["InitialInstanceCount"] == 3
    assert updated["autoscaling"]["deregistered"] is False  # same instance type: the target stays
    assert present(deploy.registered_target(autoscaling, name))["MaxCapacity"] == 4

    # a new instance type: deregistered before the update (the fake refuses otherwise), registered after
    bigger = _scaled(settings, instance_type="ml.m5.2xlarge", max_instance_count=6)
    moved = deploy.deploy(
        client, cloudwatch, bigger, arns["Approved"], autoscaling=autoscaling, poll_seconds=1
    )
    assert moved["autoscaling"]["deregistered"] is True and len(sent) == 2
    assert present(deploy.registered_target(autoscaling, name))["MaxCapacity"] == 6

    # autoscaling taken out of the settings: the target goes, the fleet is the settings' fixed size
    fixed = deploy.deploy(
        client, cloudwatch, _scaled(bigger, max_instance_count=1), arns["Approved"], autoscaling=autoscaling
    )
    assert fixed["autoscaling"] == {"deregistered": True} and fixed["instance_count"] == 1
    assert deploy.registered_target(autoscaling, name) is None


def test_the_deploy_role_allows_every_call_medtx_deploy_makes(registry):
    """Every AWS call of a create, an autoscaled update and an instance-type change, recorded from
    the clients, is an action the CodeBuild role of infra/template.yaml allows: a call added to the
    deploy without its permission fails here, not in the account's first deployment."""
    import boto3
    from helpers import load_template

    client, arns = registry
    calls = set()
    clients = {
        name: boto3.client(name, region_name=REGION)
        for name in ("cloudwatch", "application-autoscaling", "sagemaker-runtime")
    }
    for one in (client, *clients.values()):
        prefix = {"sagemaker-runtime": "sagemaker"}.get(one.meta.service_model.service_name)
        prefix = prefix or one.meta.service_model.service_name  # the IAM prefix
        one.meta.events.register(
            "before-call.*.*", lambda model, prefix=prefix, **_: calls.add(f"{prefix}:{model.name}")
        )
    settings = deploy.DeploySettings(
        endpoint_name="medtx-iam-endpoint", role_arn=ROLE, max_instance_count=2, invocations_per_instance=300
    )
    steps = (
        settings,
        settings,
        _scaled(settings, instance_type="ml.c5.xlarge"),
        _scaled(settings, max_instance_count=1),
    )
    for step in steps:
        _fake_update(client, [], autoscaling=clients["application-autoscaling"])
        _answers(PREDICTION)
        deploy.deploy(
            client,
            clients["cloudwatch"],
            step,
            arns["Approved"],
            autoscaling=clients["application-autoscaling"],
            poll_seconds=1,
            runtime=clients["sagemaker-runtime"],
        )
    calls.discard("sagemaker:UpdateEndpoint")  # replaced by the fake above; recorded from the request
    calls.add("sagemaker:UpdateEndpoint")
    role = load_template()["Resources"]["CodeBuildRole"]["Properties"]["Policies"]
    allowed: set[str] = set()
    for policy in role:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            allowed.update([actions] if isinstance(actions, str) else actions)
    assert {
        "application-autoscaling:RegisterScalableTarget",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:InvokeEndpoint",
        "sagemaker:DescribeModel",
    } <= calls
    assert calls - allowed == set(), f"calls the deploy role may not make: {sorted(calls - allowed)}"


def test_deploying_the_served_package_again_changes_no_fleet(registry, monkeypatch):
    """EventBridge delivers an approval at least once, and re-approving the served version sends
    another: the same package on the same fleet gets its settings (alarms, scaling), not a blue/green
    update; another fleet, or --force, does update."""
    import boto3
    from helpers import said
    from typer.testing import CliRunner

    from pipeline.cli import app

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    name, package = "medtx-again", arns["Approved"]
    scaled = deploy.DeploySettings(name, ROLE, max_instance_count=3, invocations_per_instance=400)
    first = deploy.deploy(client, cloudwatch, scaled, package, autoscaling=autoscaling)
    sent: list[dict] = []
    _fake_update(client, sent, autoscaling=autoscaling)
    models = len(client.list_models()["Models"])

    _answers(PREDICTION)
    retuned = _scaled(scaled, invocations_per_instance=250, max_instance_count=5)
    again = deploy.deploy(
        client, cloudwatch, retuned, package, autoscaling=autoscaling, wait=True, runtime=runtime
    )
    assert (
        again["action"].startswith("unchanged")
        and sent == []
        and len(client.list_models()["Models"]) == models
    )
    assert again["endpoint_config"] == first["endpoint_config"] and again["model_package"] == package
    assert again["smoke_test"]["label"] == "Cardiovascular / Pulmonary"  # still checked when waiting
    assert present(deploy.registered_target(autoscaling, name))["MaxCapacity"] == 5  # the settings applied
    (policy,) = autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=deploy.scaling_resource_id(name)
    )["ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 250.0

    other_type = _scaled(retuned, instance_type="ml.c5.xlarge")
    moved = deploy.deploy(client, cloudwatch, other_type, package, autoscaling=autoscaling)
    assert moved["action"].startswith("updated") and len(sent) == 1
    forced = deploy.deploy(client, cloudwatch, other_type, package, autoscaling=autoscaling, force=True)
    assert forced["action"].startswith("updated") and len(sent) == 2

    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("SAGEMAKER_PIPELINE_ROLE_ARN", ROLE)
    fixed = ["deploy", "--model-package-arn", package, "--endpoint-name", "medtx-again-cli"]
    assert CliRunner().invoke(app, fixed).exit_code == 0
    unchanged = CliRunner().invoke(app, fixed)
    assert unchanged.exit_code == 0 and "unchanged: it already serves this package" in unchanged.output
    by_version = CliRunner().invoke(app, ["deploy", "--version", "1", "--endpoint-name", "medtx-v1"])
    assert by_version.exit_code == 0 and json.loads(by_version.stdout)["model_package"].endswith(f"{GROUP}/1")
    pending = CliRunner().invoke(app, ["deploy", "--version", "2", "--endpoint-name", "medtx-v2"])
    assert pending.exit_code == 2 and "is PendingManualApproval; only Approved" in said(pending)
    assert "(`medtx models approve 2 --sagemaker`)" in said(pending)
    nowhere = CliRunner().invoke(app, ["deploy", "--version", "999", "--endpoint-name", "medtx-v999"])
    assert nowhere.exit_code == 2 and f"no version 999 in model package group '{GROUP}'" in said(nowhere)
    given: dict[str, Any] = {}
    monkeypatch.setattr(
        deploy, "deploy", lambda *args, **kwargs: given.update(kwargs) or json.loads(unchanged.stdout)
    )
    assert CliRunner().invoke(app, [*fixed, "--force"]).exit_code == 0 and given["force"] is True


def test_deploy_captures_answers_only_when_asked(registry, monkeypatch):
    """``capture_percent``: the endpoint config captures that share of the answers, never the requests
    (transcripts), encrypted; a changed share is a new config, the same one leaves the endpoint."""
    import boto3
    from typer.testing import CliRunner

    from pipeline.cli import app

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    name, package = "medtx-capture", arns["Approved"]
    settings = deploy.DeploySettings(
        name, ROLE, kms_key_id="alias/medtx", capture_percent=20, capture_uri="s3://b/endpoint-capture"
    )
    request = deploy.endpoint_config_request(settings, "m", "x")
    _validate("sagemaker", "CreateEndpointConfig", request)
    assert request["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": "s3://b/endpoint-capture",
        "CaptureOptions": [{"CaptureMode": "Output"}],  # never Input: a request is a transcript
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        "KmsKeyId": "alias/medtx",
    }
    uncaptured = _scaled(settings, capture_percent=0)
    assert "DataCaptureConfig" not in deploy.endpoint_config_request(uncaptured, "m", "x")

    created = deploy.deploy(client, cloudwatch, settings, package)
    config = client.describe_endpoint_config(EndpointConfigName=created["endpoint_config"])
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    assert present(deploy.serving(client, name)).capture_percent == 20
    assert deploy.describe(client, name)["capture_percent"] == 20  # what endpoint status shows
    assert deploy.deploy(client, cloudwatch, settings, package)["action"].startswith("unchanged")
    sent: list[dict] = []
    _fake_update(client, sent)
    off = deploy.deploy(client, cloudwatch, uncaptured, package)
    assert off["action"].startswith("updated") and len(sent) == 1  # a new config, without capture

    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("SAGEMAKER_PIPELINE_ROLE_ARN", ROLE)
    monkeypatch.setenv("ARTIFACT_BUCKET", "medtx-artifacts")
    monkeypatch.setenv("MEDTX_ENDPOINT_CAPTURE_PERCENT", "5")  # as the deploy project sets it
    given: dict[str, Any] = {}
    monkeypatch.setattr(deploy, "deploy", lambda *args, **kwargs: given.update(settings=args[2]) or {})
    CliRunner().invoke(app, ["deploy", "--model-package-arn", package, "--endpoint-name", name])
    assert given["settings"].capture_percent == 5
    assert given["settings"].capture_uri == "s3://medtx-artifacts/endpoint-capture"


def test_deploy_waits_and_fails_when_the_update_rolled_back(registry):
    import boto3

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    settings = deploy.DeploySettings(endpoint_name="medtx-rollback-endpoint", role_arn=ROLE)
    first = deploy.deploy(client, cloudwatch, settings, arns["Approved"], autoscaling=autoscaling, wait=True)
    assert first["status"] == "InService"
    _fake_update(client, [], rolls_back=True)
    newer = _newer(client, arns["Approved"])
    with pytest.raises(deploy.DeployError, match=f"rolled back: it still serves {first['endpoint_config']}"):
        deploy.deploy(client, cloudwatch, settings, newer, autoscaling=autoscaling, wait=True, poll_seconds=1)


def test_deploy_sends_a_smoke_request_once_in_service(registry):
    """With a runtime client the deploy ends with one request through the serving contract: a
    prediction passes; an answer that is not one, or a refusal by the handler, fails the deploy, and
    after an update the error says how to go back."""
    import boto3
    from botocore.stub import Stubber

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    settings = deploy.DeploySettings(endpoint_name="medtx-smoke-endpoint", role_arn=ROLE)
    _answers(PREDICTION)
    sent: list[dict] = []
    event = "provide-client-params.sagemaker-runtime.InvokeEndpoint"
    runtime.meta.events.register(event, lambda params, **_: sent.append(dict(params)))
    done = deploy.deploy(client, cloudwatch, settings, arns["Approved"], wait=True, runtime=runtime)
    assert done["smoke_test"] == {"label": "Cardiovascular / Pulmonary", "score": 0.91}
    # marked, so the endpoint's data capture keeps it apart from traffic (the drift check leaves it out)
    from pipeline import capture

    (smoke,) = sent
    assert smoke["InferenceId"].startswith(capture.SMOKE_INFERENCE_PREFIX) and len(smoke["InferenceId"]) <= 64

    _fake_update(client, [])
    served = arns["Approved"]  # what the advice names: the package served before each update
    for body, message in [
        ('{"error": "model failed to load"}', "should be a list of 1 prediction"),
        ("<html>502</html>", "not JSON"),
        ('[{"label": "Urology", "class_id": 2, "score": 7}]', "score in \\[0, 1\\]"),
    ]:
        _answers(body)
        newer = _newer(client, served)
        back = f"to go back: medtx deploy --model-package-arn {served}$"
        with pytest.raises(deploy.DeployError, match=f"failed its smoke request: .*{message}.*{back}"):
            deploy.deploy(client, cloudwatch, settings, newer, wait=True, runtime=runtime, poll_seconds=1)
        served = newer
    # a model deleted under a running endpoint: the advice names the endpoint config instead
    before = client.describe_endpoint(EndpointName=settings.endpoint_name)["EndpointConfigName"]
    model = client.describe_endpoint_config(EndpointConfigName=before)["ProductionVariants"][0]["ModelName"]
    client.delete_model(ModelName=model)
    _answers("[]")
    newer = _newer(client, served)
    with pytest.raises(deploy.DeployError, match=f"to go back: aws sagemaker update-endpoint .* {before}$"):
        deploy.deploy(client, cloudwatch, settings, newer, wait=True, runtime=runtime, poll_seconds=1)
    with Stubber(runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            http_status_code=424,
            modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "texts must not be empty"},
        )
        with pytest.raises(deploy.DeployError, match="answered HTTP 400: texts must not be empty"):
            deploy.smoke_test(runtime, settings.endpoint_name)
    # without waiting there is nothing to send the request to yet
    _answers("not a prediction")
    assert "smoke_test" not in deploy.deploy(
        client, cloudwatch, settings, _newer(client, served), runtime=runtime
    )


def test_deploy_refuses_an_endpoint_that_is_not_in_service(registry):
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    settings = deploy.DeploySettings(endpoint_name="medtx-busy-endpoint", role_arn=ROLE)
    deploy.deploy(client, cloudwatch, settings, arns["Approved"])
    sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[
        "medtx-busy-endpoint"
    ].endpoint_status = "Updating"
    with pytest.raises(deploy.DeployError, match="is Updating; deploy when it is InService"):
        deploy.deploy(client, cloudwatch, settings, arns["Approved"])
    sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints["medtx-busy-endpoint"].endpoint_status = "Failed"
    with pytest.raises(deploy.DeployError, match="is Failed; delete it first"):
        deploy.deploy(client, cloudwatch, settings, arns["Approved"])


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"instance_count": 0}, "need 1 <= instance_count <= max_instance_count; got 0 and 1"),
        ({"instance_count": 3, "max_instance_count": 2}, "got 3 and 2"),
        ({"max_instance_count": 3}, "up to 3 instances needs a target: invocations_per_instance"),
        ({"max_instance_count": 3, "invocations_per_instance": 0}, "needs a target"),
        ({"capture_percent": 101, "capture_uri": "s3://b/c"}, "capture_percent must be 0 to 100; got 101"),
        ({"capture_percent": 10}, "capturing answers needs an s3:// destination; got None"),
    ],
)
def test_deploy_settings_are_checked(counts, message):
    with pytest.raises(deploy.DeployError, match=message):
        deploy.DeploySettings(endpoint_name="e", role_arn=ROLE, **counts)


def test_the_stacks_retraining_starts_with_the_data_version_under_its_role(aws, iam_calls, monkeypatch):
    """The stack's RetrainRule starts a deploy-project build of infra/retrainspec.yml; its `medtx
    start` names the input data's version, with only calls the CodeBuild role allows; `schedule show`
    reads the rule's build target, and `schedule delete` removes it."""
    import re

    import boto3
    from aws_helpers import BUCKET, INPUT_KEY
    from helpers import ROOT, load_template, said
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.setenv("AWS_REGION", REGION)
    runner = CliRunner()
    upserted = runner.invoke(app, ["upsert", "--role", ROLE, "--set", "pipeline_name=stack-pipeline"])
    assert upserted.exit_code == 0, said(upserted)
    rule = load_template()["Resources"]["RetrainRule"]["Properties"]
    (target,) = rule["Targets"]
    build = json.loads(target["Input"]["Fn::Sub"])
    stack = {"PipelineName": "stack-pipeline", "ArtifactBucket": BUCKET, "RetrainInputDataKey": INPUT_KEY}
    variables = {
        v["name"]: re.sub(r"\$\{(\w+)\}", lambda m: stack[m.group(1)], v["value"])
        for v in build["environmentVariablesOverride"]
    }
    spec = (ROOT / build["buildspecOverride"]).read_text().splitlines()
    (line,) = [c for c in spec if ".venv/bin/medtx start" in c]
    command = re.sub(r'"\$\{(\w+)\}"', lambda m: variables[m.group(1)], line.split(".venv/bin/medtx ")[1])
    command = re.sub(
        r'"InputDataUri=\$\{(\w+)\}"', lambda m: "InputDataUri=" + variables[m.group(1)], command
    )
    iam_calls.clear()
    started = runner.invoke(app, command.split())
    assert started.exit_code == 0, said(started)
    arn = started.stdout.strip().splitlines()[-1]
    assert ":pipeline/stack-pipeline/execution/" in arn
    client = boto3.client("sagemaker", region_name=REGION)
    given = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    values = {p["Name"]: p["Value"] for p in given}
    assert values["InputDataUri"] == f"s3://{BUCKET}/{INPUT_KEY}" and values["InputDataVersion"].startswith(
        "sha256-"
    )
    assert {"s3:ListBucket", "sagemaker:StartPipelineExecution"} <= iam_calls
    assert not iam_calls - codebuild_actions(), sorted(iam_calls - codebuild_actions())
    # the next scheduled start while that execution still runs (--if-idle): none beside it
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
    executions = backend.pipelines["stack-pipeline"].pipeline_executions
    executions[arn].pipeline_execution_status = "Executing"
    skipped = runner.invoke(app, command.split())
    assert skipped.exit_code == 0, said(skipped)
    running = arn.rsplit("/", 1)[-1]
    assert f"not started (--if-idle): stack-pipeline still runs {running} (Executing since" in said(skipped)
    assert list(executions) == [arn] and "sagemaker:ListPipelineExecutions" in iam_calls
    assert not iam_calls - codebuild_actions(), sorted(iam_calls - codebuild_actions())
    executions[arn].pipeline_execution_status = "Succeeded"
    again = runner.invoke(app, command.split())
    assert again.exit_code == 0 and len(executions) == 2, said(again)

    # the rule as the stack makes it: `schedule show` reads its build target, `delete` removes it
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="stack-pipeline-retrain", ScheduleExpression="rate(7 days)")
    deploy_project = f"arn:aws:codebuild:{REGION}:123456789012:project/medtx-deploy"
    events.put_targets(
        Rule="stack-pipeline-retrain",
        Targets=[{"Id": target["Id"], "Arn": deploy_project, "RoleArn": ROLE, "Input": json.dumps(build)}],
    )
    shown = json.loads(runner.invoke(app, ["schedule", "show", "--pipeline-name", "stack-pipeline"]).stdout)
    assert shown["Targets"] == [deploy_project] and shown["BuildSpec"] == ["infra/retrainspec.yml"]
    assert shown["Environment"]["MEDTX_PIPELINE_NAME"] == "${PipelineName}"
    deleted = runner.invoke(app, ["schedule", "delete", "--pipeline-name", "stack-pipeline"])
    assert deleted.exit_code == 0, said(deleted)


def test_operators_start_and_watch_executions_with_the_operator_policy(aws, iam_calls, monkeypatch):
    """What `medtx start [--wait]`, `status [--last N]`, `diff` and `logs` call is what the template's
    PipelineOperatorPolicy allows (the policy to attach to Studio's execution role)."""
    import time

    import boto3
    from helpers import load_template, said
    from typer.testing import CliRunner

    from pipeline import aws as aws_module
    from pipeline.cli import app
    from steps.train import JOB_PREFIX

    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    assert runner.invoke(app, ["upsert", "--role", ROLE]).exit_code == 0
    # moto's steps carry no Metadata: the Train and Evaluate steps' jobs, and a log, as SageMaker gives them
    job = "medtx-evaluate-2026-12-04-12-00-00-000"
    trained = f"{JOB_PREFIX}-2026-12-04-11-00-00-000"
    jobs = {
        "Evaluate": {"kind": "ProcessingJob", "name": job},
        "Train": {"kind": "TrainingJob", "name": trained},
    }
    monkeypatch.setattr(aws_module, "step_job", lambda s: jobs.get(s["StepName"]))
    boto3.Session(region_name=REGION).client("sagemaker").create_training_job(  # not a recorded call
        TrainingJobName=trained,
        AlgorithmSpecification={"TrainingImage": "hf:1", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    own = boto3.Session(region_name=REGION).client("logs")  # the test's own: its calls are not recorded
    own.create_log_group(logGroupName="/aws/sagemaker/ProcessingJobs")
    own.create_log_stream(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=f"{job}/algo-1-1764849600"
    )
    own.put_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamName=f"{job}/algo-1-1764849600",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "wrote evaluation.json"}],
    )

    iam_calls.clear()
    for command in (
        ["start"],
        ["start", "--wait", "--poll-seconds", "0"],
        ["status"],
        ["status", "--last", "3"],
        ["diff"],
        ["logs", "Evaluate"],
    ):
        done = runner.invoke(app, command)
        assert done.exit_code == 0, (command, said(done))
    assert done.stdout == "wrote evaluation.json\n"
    policy = load_template()["Resources"]["PipelineOperatorPolicy"]["Properties"]["PolicyDocument"]
    allowed = policy_actions(policy)
    called = {"sagemaker:StartPipelineExecution", "sagemaker:DescribeTrainingJob", "logs:GetLogEvents"}
    assert called | {"s3:ListBucket"} <= iam_calls
    (metrics,) = [s for s in policy["Statement"] if s["Sid"] == "TrainingMetrics"]
    assert metrics["Resource"]["Fn::Sub"].endswith(f":training-job/{JOB_PREFIX}-*")  # the Train step's jobs
    assert not iam_calls - allowed, sorted(iam_calls - allowed)
    assert not allowed - iam_calls, sorted(allowed - iam_calls)  # nothing the commands do not call


def test_schedule_and_deploy_commands(registry, monkeypatch):
    import boto3
    from helpers import said
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.setenv("AWS_REGION", REGION)
    runner = CliRunner()
    declared = [{"Name": name, "Type": "String"} for name in ("Epochs", "InputDataVersion")]
    boto3.client("sagemaker", region_name=REGION).create_pipeline(
        PipelineName="p",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": declared, "Steps": []}),
        RoleArn=ROLE,
    )
    # a name the pipeline does not declare would fail every scheduled start: refused, no rule made
    asked = ["schedule", "create", "rate(7 days)", "--role-arn", ROLE, "--pipeline-name", "p"]
    typo = runner.invoke(app, [*asked, "--param", "Epoch=2"])
    assert typo.exit_code == 2 and "unknown pipeline parameter(s) Epoch; known: Epochs" in said(typo)
    assert "no retraining schedule" in runner.invoke(app, ["schedule", "show", "--pipeline-name", "p"]).output
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
    assert "cannot name the data's version" in " ".join(created.output.split())
    assert "nor the commit (its packages record SourceCommit 'unrecorded')" in " ".join(
        created.output.split()
    )
    # a rule that names a version (as the parameter reaches the rule: its name stripped) is not warned
    named = runner.invoke(app, [*asked, "--param", " InputDataVersion=drop-2026-12"])
    assert named.exit_code == 0 and "cannot name" not in named.output
    versioned = json.loads(runner.invoke(app, ["schedule", "show", "--pipeline-name", "p"]).stdout)
    assert versioned["Parameters"] == {"InputDataVersion": "drop-2026-12"}
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
    _answers(PREDICTION)
    scaled = runner.invoke(
        app,
        [
            "deploy",
            "--endpoint-name",
            "medtx-cli-scaled",
            "--max-instance-count",
            "3",
            "--invocations-per-instance",
            "500",
        ],
    )
    assert scaled.exit_code == 0, scaled.output
    report = json.loads(scaled.stdout[scaled.stdout.index("{") :])
    assert report["status"] == "InService" and report["autoscaling"]["max"] == 3
    assert report["smoke_test"]["label"] == "Cardiovascular / Pulmonary"
    # once the outcome is known, the deployed archive is the champion later evaluations compare with
    import boto3
    from aws_helpers import BUCKET

    s3 = boto3.client("s3", region_name=REGION)
    kept = s3.get_object(Bucket=BUCKET, Key="champion/medtx-cli-scaled/model.tar.gz")["Body"].read()
    record = json.loads(
        s3.get_object(Bucket=BUCKET, Key="champion/medtx-cli-scaled/champion.json")["Body"].read()
    )
    assert kept == b"the archive" and record["model_package"] == arns["Approved"]
    assert record["model_data"] == f"s3://{BUCKET}/{ARCHIVE}" and "champion for later evaluations" in said(
        scaled
    )
    assert "deploy with --wait" in said(deployed)  # not waited for: the outcome, so the champion, unknown
    unknown = s3.list_objects_v2(Bucket=BUCKET, Prefix="champion/medtx-cli-endpoint/")
    assert unknown.get("KeyCount", 0) == 0
    _answers("oops")
    broken = runner.invoke(app, ["deploy", "--endpoint-name", "medtx-cli-broken", "--wait"])
    assert broken.exit_code == 2 and "failed its smoke request" in broken.output
    _answers("oops")
    unchecked = runner.invoke(app, ["deploy", "--endpoint-name", "medtx-cli-broken2", "--wait", "--no-smoke"])
    assert unchecked.exit_code == 0 and "smoke_test" not in unchecked.stdout
    _answers(PREDICTION)
    invoked = runner.invoke(app, ["invoke", "--sagemaker", "--name", "medtx-cli-scaled", "Chest pain."])
    assert invoked.exit_code == 0 and json.loads(invoked.stdout) == json.loads(PREDICTION)
    status = runner.invoke(app, ["endpoint", "status", "--sagemaker", "--name", "medtx-cli-scaled"])
    assert status.exit_code == 0, status.output
    shown = json.loads(status.stdout)
    assert (
        shown["model_package"] == arns["Approved"] and shown["endpoint_config"] == report["endpoint_config"]
    )
    assert shown["status"] == "InService" and shown["instance_type"] == "ml.m5.xlarge"
    assert shown["autoscaling"] == {"min": 1, "max": 3}
    assert set(shown["alarms"]) == set(deploy.alarm_names("medtx-cli-scaled"))
    assert (
        f"endpoint medtx-cli-scaled: InService, {arns['Approved']} on 1 x ml.m5.xlarge, autoscaling 1-3; "
        "data capture off; no alarm raised"
    ) in said(status)
    unscaled = json.loads(
        runner.invoke(app, ["endpoint", "status", "--sagemaker", "--name", "medtx-cli-endpoint"]).stdout
    )
    assert unscaled["autoscaling"] is None and unscaled["instance_count"] == 1
    missing = runner.invoke(app, ["endpoint", "status", "--sagemaker", "--name", "medtx-nowhere"])
    assert missing.exit_code == 1 and "no endpoint 'medtx-nowhere'" in missing.output
    no_target = runner.invoke(app, ["deploy", "--endpoint-name", "medtx-cli-x", "--max-instance-count", "3"])
    assert no_target.exit_code == 2 and "needs a target: invocations_per_instance" in no_target.output


def _report(macro_f1: float, baseline: float, interval: list[float] | None = None) -> dict:
    """An ``evaluation.json`` with the parts a registry lists and ``models show`` prints."""
    report = {
        "multiclass_classification_metrics": {
            "macro_f1": {"value": macro_f1, "standard_deviation": 0.01},
            "accuracy": {"value": 0.6, "standard_deviation": "NaN"},
            "confusion_matrix": {
                "Urology": {"Urology": 9, "Nephrology": 4, "Radiology": 1},
                "Nephrology": {"Nephrology": 3, "Urology": 2, "Radiology": 0},
                "Radiology": {"Radiology": 12, "Urology": 0, "Nephrology": 0},
            },
        },
        "validation_rows": 31,
        "baseline": {"macro_f1": baseline, "accuracy": 0.55},
        "macro_f1_minus_baseline": macro_f1 - baseline,
    }
    if interval:
        report["bootstrap"] = {
            "resamples": 2000,
            "texts": 30,
            "confidence_level": 0.95,
            "interval": {"macro_f1": [macro_f1 - 0.03, macro_f1 + 0.03], "macro_f1_minus_baseline": interval},
            "share_above_baseline": 0.97,
        }
    return report


PER_CLASS = """label_id,label,precision,recall,f1,support,predicted
0,Nephrology,0.428571,0.6,0.5,5,7
1,Radiology,0.923077,1.0,0.96,12,13
2,Urology,0.818182,0.642857,0.72,14,11
"""


def test_models_commands_on_the_sagemaker_registry(registry, iam_calls, monkeypatch, tmp_path):
    """``medtx models list|approve|reject --sagemaker``: figures read back from each package's
    statistics in S3, approval by version, and the version the endpoint serves. Every call these
    commands, ``endpoint status --sagemaker`` and ``invoke --sagemaker`` make is an action the
    template's ModelApproverPolicy allows."""
    import boto3
    from aws_helpers import BUCKET
    from helpers import said
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.config import PipelineConfig

    client, _ = registry  # the test's own clients: their calls are not the commands'
    own = boto3.Session(region_name=REGION)
    s3 = own.client("s3")
    group = "medtx-review"
    client.create_model_package_group(ModelPackageGroupName=group)
    spec: dict[str, Any] = {
        "Containers": [{"Image": "123.dkr.ecr.us-east-1.amazonaws.com/hf:1", "ModelDataUrl": "s3://b/m"}],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    served_before = {"served": True, "model_package": f"arn:...:model-package/{group}/0"}
    reports = {
        "exec-a": {
            **_report(0.41, 0.45),
            "input_version": "sha256-0123456789abcdef",
            "champion": {**served_before, "same_archive": True, "macro_f1": 0.41},
        },
        "exec-b": {  # evaluated before the data had versions
            **_report(0.50, 0.46, [0.012, 0.071]),
            "champion": {
                **served_before,
                "macro_f1": 0.48,
                "rows_only_this_model_gets_right": 3,
                "rows_only_the_champion_gets_right": 1,
            },
            "macro_f1_minus_champion": 0.02,
            "selective": {
                "accuracy_target": 0.9,
                "at_accuracy": {"threshold": 0.95, "coverage": 0.4, "notes": 12, "accuracy": 0.92},
                "area_under_risk_coverage": 0.12,
            },
        },
        "exec-gone": None,  # a statistics object deleted since
        None: None,  # registered without metrics
    }
    # version 3 registers version 2's archive again (a retraining whose Train step was a cache hit)
    archives: dict[str | None, str] = {
        "exec-a": "s3://b/a.tar.gz",
        "exec-b": "s3://b/b.tar.gz",
        "exec-gone": "s3://b/b.tar.gz",
    }
    for execution, report in reports.items():
        container = {**spec["Containers"][0], "ModelDataUrl": archives.get(execution, "s3://b/d.tar.gz")}
        request = {
            "ModelPackageGroupName": group,
            "InferenceSpecification": {**spec, "Containers": [container]},
        }
        if execution == "exec-b":  # registered by the pipeline's RegisterModel step, which records these
            request["CustomerMetadataProperties"] = {
                "InputDataVersion": "sha256-fedcba9876543210",
                "BaseModel": "distilbert-base-uncased",
                "SourceCommit": "0123456789abcdef0123456789abcdef01234567 with uncommitted changes",
                "PipelineExecutionId": "exec-b",
            }
        if execution:
            key = f"executions/{execution}/evaluation/evaluation.json"
            if report:
                s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(report).encode())
            if execution == "exec-b":
                s3.put_object(
                    Bucket=BUCKET,
                    Key=key.replace("evaluation.json", "per-class-metrics.csv"),
                    Body=PER_CLASS.encode(),
                )
            uri = f"s3://{BUCKET}/{key}"
            request["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}
            }
        client.create_model_package(**request, ModelApprovalStatus="PendingManualApproval")

    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    listed = runner.invoke(app, ["models", "list", "--sagemaker", "--group", group])
    assert listed.exit_code == 0, listed.output
    rows = said(listed)
    assert "1 PendingManualApproval 0.4100 0.4500 -0.0400 01234567" in rows and "exec-a" in rows
    # with the data and the commit it was made from, short as the execution's display name says it
    assert (
        "2 PendingManualApproval 0.5000 0.4600 +0.0400 +0.0120 to +0.0710 fedcba98 0123456789ab-modified "
        in rows
    )
    assert "1 PendingManualApproval 0.4100 0.4500 -0.0400 01234567 - " in rows  # records no commit
    assert "version 3: the same model archive as version 2 (a retraining whose Train step" in rows
    assert "version 2: the same" not in rows and "version 4: the same" not in rows
    assert "3 PendingManualApproval - -" in rows and "4 PendingManualApproval - -" in rows
    assert f"version 3: no figures: s3://{BUCKET}/executions/exec-gone/evaluation/evaluation.json" in rows
    assert "version 4: no figures: the package records no model-quality statistics" in rows
    assert "no endpoint medtx-specialty-classifier yet" in rows
    newest = runner.invoke(app, ["models", "list", "--sagemaker", "--group", group, "--last", "2", "--json"])
    assert [p["ModelPackageVersion"] for p in json.loads(newest.stdout)] == [3, 4]
    assert "the newest 2 of 4 versions" in newest.output
    (second,) = json.loads(
        runner.invoke(app, ["models", "list", "--sagemaker", "--group", group, "--json"]).stdout
    )[1:2]
    assert second["Figures"]["difference_low"] == 0.012 and second["PipelineExecutionId"] == "exec-b"
    assert (
        second["ModelDataUrl"] == "s3://b/b.tar.gz"
        and second["InputDataVersion"] == "sha256-fedcba9876543210"
    )
    assert second["CustomerMetadataProperties"]["BaseModel"] == "distilbert-base-uncased"

    shown = runner.invoke(app, ["models", "show", "2", "--sagemaker", "--group", group])
    assert shown.exit_code == 0, shown.output
    review = said(shown)
    assert "macro_f1 0.5000 0.4700-0.5300 0.4600" in review and "ahead in 97% of them" in review
    weakest_first = ["Nephrology 0.500 0.429 0.600 5 7", "Urology 0.720", "Radiology 0.960 0.923 1.000 12 13"]
    assert sorted(weakest_first, key=review.index) == weakest_first
    assert (
        "(true -> predicted): Urology -> Nephrology: 4; Nephrology -> Urology: 2; Urology -> Radiology: 1"
        in review
    )
    first = said(runner.invoke(app, ["models", "show", "1", "--sagemaker", "--group", group]))
    assert "archive: s3://b/a.tar.gz trained on data: sha256-0123456789abcdef" in first
    assert "trained on data: sha256-fedcba9876543210" in review  # the package's, the report has none
    assert "scored with: not recorded" in review  # an evaluation.json from before scored_with
    assert "made of: BaseModel distilbert-base-uncased; PipelineExecutionId exec-b" in review
    assert "made of" not in first  # a package without CustomerMetadataProperties
    assert "model card: none" in first  # nor a model card
    no_card = runner.invoke(app, ["models", "show", "1", "--card", "--sagemaker", "--group", group])
    assert no_card.exit_code == 2 and f"model-package/{group}/1 has no model card" in said(no_card)
    assert (
        f"against the served model (arn:...:model-package/{group}/0) on the same rows: macro-F1 0.4800, "
        "difference +0.0200; only this model right on 3 rows, only the served one on 1" in review
    )
    assert f"the served model (arn:...:model-package/{group}/0) is this archive" in first
    assert (
        "macro_f1 0.4100 0.4500" in first
        and "no per-class table: s3://" in first
        and "per-class-metrics.csv: An error occurred (NoSuchKey)" in first
    )
    gone = runner.invoke(app, ["models", "show", "3", "--sagemaker", "--group", group])
    assert (
        gone.exit_code == 2 and "cannot read the evaluation s3://" in said(gone) and "NoSuchKey" in said(gone)
    )
    bare = runner.invoke(app, ["models", "show", "4", "--sagemaker", "--group", group])
    assert bare.exit_code == 2 and "records no model-quality statistics" in said(bare)

    approved = runner.invoke(app, ["models", "approve", "2", "--sagemaker", "--group", group, "--note", "ok"])
    assert approved.exit_code == 0, approved.output
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{group}/2"
    assert said(approved).startswith(f"{arn}: Approved (model card: none)")
    assert "starts its deploy project" in said(approved)
    (package,) = [
        client.describe_model_package(ModelPackageName=p["ModelPackageArn"])
        for p in client.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
        if p["ModelPackageVersion"] == 2
    ]
    assert package["ModelApprovalStatus"] == "Approved" and package["ApprovalDescription"] == "ok"

    missing = runner.invoke(app, ["models", "approve", "9", "--sagemaker", "--group", group])
    assert missing.exit_code == 2
    assert f"no version 9 in model package group '{group}' (versions: [1, 2, 3, 4])" in said(missing)
    nowhere = runner.invoke(app, ["models", "list", "--sagemaker", "--group", "medtx-nowhere"])
    assert nowhere.exit_code == 2 and "no model package group 'medtx-nowhere'" in said(nowhere)
    for command in ("show", "approve"):  # a version of a group that does not exist: the group named
        absent = runner.invoke(app, ["models", command, "1", "--sagemaker", "--group", "medtx-nowhere"])
        assert absent.exit_code == 2, said(absent)
        assert "no model package group 'medtx-nowhere' in this account and region" in said(absent)

    # the endpoint of the config's name serves version 2: the list says so, rejecting it warns
    endpoint = PipelineConfig().endpoint_name
    backlog = tmp_path / "backlog.csv"
    backlog.write_text("transcription\nChest pain.\n")
    unserved = runner.invoke(app, ["predict", str(backlog), "--sagemaker", "--review-below", "served"])
    assert unserved.exit_code == 1
    assert f"--review-below served: endpoint {endpoint} serves no model version" in said(unserved)
    settings = deploy.DeploySettings(endpoint, ROLE)  # the deploy role's calls, tested above
    deploy.deploy(client, own.client("cloudwatch"), settings, package["ModelPackageArn"])
    listed = said(runner.invoke(app, ["models", "list", "--sagemaker", "--group", group]))
    assert f"endpoint {endpoint} (InService) serves version 2" in listed
    rejected = runner.invoke(app, ["models", "reject", "2", "--sagemaker", "--group", group])
    assert rejected.exit_code == 0, rejected.output
    assert f"endpoint {endpoint} still serves this version" in said(rejected)
    quiet = runner.invoke(app, ["models", "reject", "1", "--sagemaker", "--group", group])
    assert quiet.exit_code == 0 and "still serves" not in quiet.output
    # approving what the endpoint answers with already says so: the served version, or its archive again
    again = said(runner.invoke(app, ["models", "approve", "2", "--sagemaker", "--group", group]))
    assert f"endpoint {endpoint} serves this version already" in again
    repeat = said(runner.invoke(app, ["models", "approve", "3", "--sagemaker", "--group", group]))
    assert f"holds the model archive that endpoint {endpoint} serves now (version 2;" in repeat
    assert "with the same image and environment: what the endpoint answers does not change" in repeat
    other = {**spec["Containers"][0], "ModelDataUrl": "s3://b/b.tar.gz", "Environment": {"MEDTX_TOP_K": "2"}}
    client.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={**spec, "Containers": [other]},
        ModelApprovalStatus="PendingManualApproval",
    )
    settings_only = said(runner.invoke(app, ["models", "approve", "5", "--sagemaker", "--group", group]))
    assert "(version 2;" in settings_only and "under other serving settings" in settings_only
    fresh = said(runner.invoke(app, ["models", "approve", "4", "--sagemaker", "--group", group]))
    assert "Approved" in fresh and "serves now" not in fresh and "already" not in fresh
    status = runner.invoke(app, ["endpoint", "status", "--sagemaker"])
    assert status.exit_code == 0 and json.loads(status.stdout)["model_package"] == arn
    _answers(PREDICTION)
    assert runner.invoke(app, ["invoke", "--sagemaker", "Chest pain."]).exit_code == 0
    _answers(PREDICTION)  # scored 0.91: below the served version's threshold, 0.95
    scored = runner.invoke(app, ["predict", str(backlog), "--sagemaker", "--review-below", "served"])
    assert scored.exit_code == 0, said(scored)
    assert f"review below 0.95, the threshold of {arn} for 90% accuracy on its validation notes" in said(
        scored
    )
    assert "1 of them scored below 0.95, marked for review" in said(scored)
    assert (tmp_path / "backlog-predictions.csv").read_text().splitlines()[1].endswith(",1,")

    assert {"s3:GetObject", "sagemaker:UpdateModelPackage", "sagemaker:DescribeModel"} <= iam_calls
    assert {"sagemaker:InvokeEndpoint", "cloudwatch:DescribeAlarms"} <= iam_calls
    refused = sorted(iam_calls - approver_actions())
    assert not refused, f"calls the approver policy does not allow: {refused}"


def test_endpoint_delete_takes_down_what_deploy_made(registry, monkeypatch):
    """``medtx endpoint delete --sagemaker``: the endpoint, its alarms and scaling, and the configs and
    models ``deploy`` made for it (two deployments' worth); another endpoint's are kept."""
    import boto3
    from helpers import said
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends
    from typer.testing import CliRunner

    from pipeline.cli import app

    client, arns = registry
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    name, other = "medtx-gone", "medtx-gone-other"
    settings = deploy.DeploySettings(name, ROLE, max_instance_count=2, invocations_per_instance=300)
    deploy.deploy(client, cloudwatch, settings, arns["Approved"], autoscaling=autoscaling, poll_seconds=1)
    _fake_update(client, [], autoscaling=autoscaling)
    newer = _newer(client, arns["Approved"])
    deploy.deploy(client, cloudwatch, settings, newer, autoscaling=autoscaling, poll_seconds=1)
    kept = deploy.deploy(client, cloudwatch, deploy.DeploySettings(other, ROLE), arns["Approved"])
    assert deploy.registered_target(autoscaling, name)

    monkeypatch.setenv("AWS_REGION", REGION)
    runner = CliRunner()
    local = runner.invoke(app, ["endpoint", "delete", "--name", name])
    assert local.exit_code == 2 and "`medtx endpoint stop` stops a local one" in said(local)
    declined = runner.invoke(app, ["endpoint", "delete", "--sagemaker", "--name", name], input="n\n")
    assert declined.exit_code == 1 and client.describe_endpoint(EndpointName=name)

    endpoints = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints
    endpoints[name].endpoint_status = "Updating"
    busy = runner.invoke(app, ["endpoint", "delete", "--sagemaker", "--name", name, "--yes"])
    assert busy.exit_code == 1 and f"endpoint {name} is Updating; delete it once" in said(busy)
    endpoints[name].endpoint_status = "InService"

    deleted = runner.invoke(app, ["endpoint", "delete", "--sagemaker", "--name", name, "--yes"])
    assert deleted.exit_code == 0, deleted.output
    done = json.loads(deleted.stdout)
    assert done["scalable_target"] is True and done["alarms"] == deploy.alarm_names(name)
    assert len(done["endpoint_configs"]) == len(done["models"]) == 2 and done["kept"] == []
    assert name not in endpoints and deploy.registered_target(autoscaling, name) is None
    assert cloudwatch.describe_alarms(AlarmNames=deploy.alarm_names(name))["MetricAlarms"] == []
    left = {m["ModelName"] for m in client.list_models()["Models"]}
    assert not set(done["models"]) & left and kept["model"] in left
    configs = {c["EndpointConfigName"] for c in client.list_endpoint_configs()["EndpointConfigs"]}
    assert kept["endpoint_config"] in configs and not set(done["endpoint_configs"]) & configs
    assert client.describe_endpoint(EndpointName=other)["EndpointStatus"] == "InService"
    again = runner.invoke(app, ["endpoint", "delete", "--sagemaker", "--name", name, "--yes"])
    assert again.exit_code == 1 and f"no endpoint '{name}'" in said(again)
    # an endpoint the pipeline's own deploy step made: its config and model have other names, and stay
    client.create_model(
        ModelName="pipelines-x1-CreateModel",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/hf:1", "ModelDataUrl": "s3://b/m"},
    )
    variant = {"VariantName": "AllTraffic", "ModelName": "pipelines-x1-CreateModel"}
    client.create_endpoint_config(
        EndpointConfigName="pipelines-x1-config",
        ProductionVariants=[{**variant, "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}],
    )
    client.create_endpoint(EndpointName="medtx-piped", EndpointConfigName="pipelines-x1-config")
    piped = runner.invoke(app, ["endpoint", "delete", "--sagemaker", "--name", "medtx-piped", "--yes"])
    assert json.loads(piped.stdout)["kept"] == ["pipelines-x1-config", "pipelines-x1-CreateModel"]
    assert client.describe_model(ModelName="pipelines-x1-CreateModel")


def test_served_package_reads_any_variant_name(registry):
    """What ``models list --sagemaker`` says an endpoint serves: the package of its first variant's
    model, whatever the variant is called; for a model made from an image and artifacts, the package
    its environment names (the pipeline's CreateModel step sets it), else none."""
    client, arns = registry
    client.create_model(
        ModelName="medtx-blue-m", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": arns["Approved"]}]
    )
    image = {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/hf:1", "ModelDataUrl": "s3://b/m"}
    client.create_model(ModelName="medtx-plain-m", ExecutionRoleArn=ROLE, PrimaryContainer=image)
    piped = {**image, "Environment": {deploy.PACKAGE_ENV: arns["PendingManualApproval"]}}
    client.create_model(ModelName="medtx-piped-m", ExecutionRoleArn=ROLE, PrimaryContainer=piped)
    for endpoint in ("medtx-blue", "medtx-plain", "medtx-piped"):
        variant = {
            "VariantName": "Blue",
            "ModelName": f"{endpoint}-m",
            "InstanceType": "ml.m5.xlarge",
            "InitialInstanceCount": 1,
        }
        client.create_endpoint_config(EndpointConfigName=f"{endpoint}-c", ProductionVariants=[variant])
        client.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-c")
    assert deploy.served_package(client, "medtx-blue") == ("InService", arns["Approved"])
    assert deploy.served_package(client, "medtx-plain") == ("InService", None)
    assert deploy.served_package(client, "medtx-piped") == ("InService", arns["PendingManualApproval"])
    assert deploy.served_package(client, "medtx-none") is None
    with pytest.raises(deploy.DeployError, match="has no variant 'AllTraffic'"):
        deploy.serving(client, "medtx-blue")  # what a blue/green update needs, unlike the listing


def test_a_per_class_table_without_its_columns_is_named():
    from pipeline.report import read_per_class

    assert list(read_per_class(PER_CLASS.encode())["label"]) == ["Nephrology", "Radiology", "Urology"]
    with pytest.raises(ValueError, match=r"per-class-metrics\.csv lacks the column\(s\) f1, predicted"):
        read_per_class("label,precision,recall,support\nUrology,1,1,3\n")


def _evaluation(
    s3, execution: str, target: list[int], pred: list[int], first_row: int = 0, kept: float = 0.95
) -> str:
    """``evaluation.json`` and ``model-performance.csv`` of one execution in the bucket; their URI."""
    from aws_helpers import BUCKET

    from scripts.medtx_common import classification_metrics

    labels = ["Nephrology", "Radiology", "Urology"]
    figures = classification_metrics(target, pred, len(labels))
    report = {
        "multiclass_classification_metrics": {k: {"value": v} for k, v in figures.items()},
        "labels": labels,
        "baseline": {"macro_f1": 0.4},
        "macro_f1_minus_baseline": figures["macro_f1"] - 0.4,
        "behaviour": {"typos": {"agreement": kept}},
        "calibration": {"expected_calibration_error": 0.1 if kept > 0.9 else 0.08}
        | ({} if kept > 0.9 else {"temperature": 1.25}),  # version 1 evaluated before temperatures
        "top_k_accuracy": {"top_1": 0.5, "top_3": 0.75 if kept > 0.9 else 0.8},
        "selective": {
            "accuracy_target": 0.9,
            "at_accuracy": {"coverage": 0.3 if kept > 0.9 else 0.45},
            "guaranteed": {"coverage": 0.1 if kept > 0.9 else 0.25},
            "area_under_risk_coverage": 0.25 if kept > 0.9 else 0.2,
        }
        | ({} if kept > 0.9 else {"held_out": {"accuracy": 0.88}}),  # version 1 evaluated before it
    }
    rows = "".join(
        f"{first_row + i},note {(first_row + i) // 2},{t},{p},{labels[t]}\n"
        for i, (t, p) in enumerate(zip(target, pred, strict=True))
    )
    key = f"executions/{execution}/evaluation/"
    s3.put_object(Bucket=BUCKET, Key=key + "evaluation.json", Body=json.dumps(report).encode())
    s3.put_object(
        Bucket=BUCKET, Key=key + "model-performance.csv", Body=f"row_id,text,target,pred,target_label\n{rows}"
    )
    return f"s3://{BUCKET}/{key}evaluation.json"


def test_models_compare_pairs_a_version_with_the_served_one(registry, iam_calls, monkeypatch):
    """``medtx models compare N --sagemaker``: against the version the endpoint serves by default,
    paired when both were evaluated on the same rows, each against its own baseline otherwise; the
    calls it makes are the approver policy's."""
    import boto3
    from helpers import said
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.config import PipelineConfig

    client, _ = registry
    own = boto3.Session(region_name=REGION)
    s3 = own.client("s3")
    group = "medtx-compare"
    client.create_model_package_group(ModelPackageGroupName=group)
    spec = client.describe_model_package(ModelPackageName=registry[1]["Approved"])["InferenceSpecification"]
    target = [i % 3 for i in range(90)]
    served = [t if i % 3 else (t + 1) % 3 for i, t in enumerate(target)]  # a third of the rows wrong
    better = [t if i % 9 else (t + 1) % 3 for i, t in enumerate(target)]  # a ninth wrong
    evaluations = [
        _evaluation(s3, "exec-1", target, served),
        _evaluation(s3, "exec-2", target, better, kept=0.9),
        _evaluation(s3, "exec-3", target, better, first_row=1000),  # another split
    ]
    statuses = ("Approved", "PendingManualApproval", "PendingManualApproval")
    trained_by = {"BaseModel": "distilbert-base-uncased", "CodeBundle": "s3://b/code/train-1111111111111111"}
    made_of = [  # the RegisterModel step's record; version 2 is version 1 measured by other evaluation code
        {**trained_by, "EvaluationCodeBundle": "s3://b/code/evaluate-aaaaaaaaaaaaaaaa"},
        {**trained_by, "EvaluationCodeBundle": "s3://b/code/evaluate-bbbbbbbbbbbbbbbb"},
        {},  # registered without the pipeline
    ]
    for uri, status, recorded in zip(evaluations, statuses, made_of, strict=True):
        client.create_model_package(
            ModelPackageGroupName=group,
            InferenceSpecification=spec,
            ModelApprovalStatus=status,
            ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}},
            **({"CustomerMetadataProperties": recorded} if recorded else {}),
        )
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    endpoint = PipelineConfig().endpoint_name
    with contextlib.suppress(client.exceptions.ClientError):  # one an earlier test of the module deployed
        client.delete_endpoint(EndpointName=endpoint)
    nothing_served = runner.invoke(app, ["models", "compare", "2", "--sagemaker", "--group", group])
    assert nothing_served.exit_code == 2
    assert "the endpoint serves no model package (it is not running" in said(nothing_served)
    assert "name the version to compare with" in said(nothing_served)
    # a version the group lacks is the error, whatever the endpoint serves
    missing = runner.invoke(app, ["models", "compare", "9", "--sagemaker", "--group", group])
    assert missing.exit_code == 2 and "no version 9 in model package group" in said(missing)

    first = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{group}/1"
    deploy.deploy(client, own.client("cloudwatch"), deploy.DeploySettings(endpoint, ROLE), first)
    compared = runner.invoke(app, ["models", "compare", "2", "--sagemaker", "--group", group])
    assert compared.exit_code == 0, compared.output
    text = said(compared)
    assert (
        "version 2 (PendingManualApproval) against version 1 (Approved, served), on the same 90 "
        "validation rows (45 texts)"
    ) in text
    assert spec["Containers"][0]["ModelDataUrl"].endswith("/huggingface-1/output/model.tar.gz")
    assert (  # the archive by its training job's folder, a code bundle by its own
        "made of: the same archive (huggingface-1), base model (distilbert-base-uncased), training code "
        "(train-1111111111111111); evaluation code: evaluate-bbbbbbbbbbbbbbbb in version 2, "
        "evaluate-aaaaaaaaaaaaaaaa in version 1"
    ) in text
    # macro-F1 by hand: version 1 (0 + 2/3 + 1) / 3 = 0.5556, version 2 (0.8 + 6/7 + 1) / 3 = 0.8857
    assert "macro_f1 0.8857 0.5556 +0.3302" in text and "TF-IDF baseline macro_f1 0.4000 0.4000" in text
    assert "label kept: typos 90.0% 95.0% -5.0 pt" in text  # the behavioural checks, side by side
    assert "calibration error (ECE) 0.0800 0.1000 -0.0200" in text
    assert "score temperature 1.2500 - " in text  # none recorded for version 1, and no difference
    assert "top-3 accuracy 0.8000 0.7500 +0.0500" in text
    assert "notes answered at 90% accuracy 0.4500 0.3000 +0.1500" in text  # selective prediction
    assert "risk-coverage area (AURC) 0.2000 0.2500 -0.0500" in text
    assert "their accuracy, threshold held out 0.8800 - " in text  # none for version 1, no difference
    assert "notes answered, target guaranteed 0.2500 0.1000 +0.1500" in text
    assert (
        "macro-F1 difference: +0.3302 (95% interval +0." in text and "version 2 ahead in 100% of them" in text
    )
    assert "version 2 is ahead of version 1 (95% interval of the difference above 0)" in text
    assert "they disagree on 20 rows: only version 2 right on 20, only version 1 right on 0" in text
    assert "Classes whose F1 changed, largest gain first" in text

    unpaired = runner.invoke(app, ["models", "compare", "3", "1", "--sagemaker", "--group", group, "--json"])
    result = json.loads(unpaired.stdout)
    assert result["paired"] is False and "0 in common of 90 and 90" in result["reason"]
    assert result["versions"] == [3, 1]
    assert [made["training code"] for made in result["made_of"]] == [None, trained_by["CodeBundle"]]
    assert (result["a"]["minus_baseline"], result["b"]["minus_baseline"]) == pytest.approx(
        (result["a"]["macro_f1"] - 0.4, result["b"]["macro_f1"] - 0.4)
    )
    itself = runner.invoke(app, ["models", "compare", "1", "--sagemaker", "--group", group])
    assert itself.exit_code == 2 and "version 1 is the one the endpoint serves: name another" in said(itself)
    twice = runner.invoke(app, ["models", "compare", "2", "2", "--sagemaker", "--group", group])
    assert twice.exit_code == 2 and "version 2 compared with itself: name two versions" in said(twice)
    elsewhere = runner.invoke(app, ["models", "compare", "1", "--sagemaker", "--group", GROUP])
    assert elsewhere.exit_code == 2 and f"serves {first}, not a version of {GROUP}" in said(elsewhere)

    allowed = approver_actions()
    assert "s3:GetObject" in iam_calls and not iam_calls - allowed, sorted(iam_calls - allowed)


def _capture_line(answer: object, encoding: str = "JSON") -> str:
    """One record as SageMaker's data capture writes it (answers only: no endpointInput)."""
    data = json.dumps(answer)
    if encoding == "BASE64":
        import base64

        data = base64.b64encode(data.encode()).decode()
    output = {"observedContentType": "application/json", "mode": "OUTPUT", "data": data, "encoding": encoding}
    return json.dumps(
        {
            "captureData": {"endpointOutput": output},
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-12-04T05:00:00Z"},
            "eventVersion": "0",
        }
    )


def test_capture_records_are_read_as_the_handler_answered():
    from pipeline import capture

    one = {"label": "Urology", "class_id": 2, "score": 0.9}
    assert capture.answers_from_line(_capture_line([one, {**one, "score": 0.5}])) == [
        {"label": "Urology", "score": 0.9},
        {"label": "Urology", "score": 0.5},
    ]
    assert capture.answers_from_line(_capture_line([one], "BASE64")) == [{"label": "Urology", "score": 0.9}]
    assert capture.answers_from_line(_capture_line({"error": "bad request"})) == []  # a refused request
    with pytest.raises(capture.CaptureError, match="not a SageMaker capture record"):
        capture.answers_from_line('{"captureData": {}}')
    assert capture.prefix("s3://b/endpoint-capture/", "ep") == ("b", "endpoint-capture/ep/AllTraffic/")
    with pytest.raises(capture.CaptureError, match="must be an s3:// URI"):
        capture.prefix("b/x", "ep")


def test_drift_figures_by_hand():
    import math

    import pandas as pd

    from pipeline import capture

    answers = pd.DataFrame({"label": ["A"] * 3 + ["B"], "score": [0.9, 0.8, 0.7, 0.6]})
    validation = pd.DataFrame(
        {
            "text": ["1", "2", "3", "4", "4"],
            "pred_label": ["A", "B", "A", "B", "B"],
            "target_label": ["B"] * 5,
            "score": [0.2, 0.4, 0.6, 0.8, 0.8],
        }
    )  # text 4 filed twice: counted once for the shares, as two rows for accuracy (as evaluated)
    result = capture.drift(answers, validation)
    # shares 3/4 and 1/4 against 1/2 and 1/2; smoothed: (3.5/5, 1.5/5) against (2.5/5, 2.5/5)
    psi = (0.7 - 0.5) * math.log(0.7 / 0.5) + (0.3 - 0.5) * math.log(0.3 / 0.5)
    assert result["psi"] == pytest.approx(psi) and result["total_variation"] == pytest.approx(0.25)
    assert result["mean_score"] == pytest.approx(0.75) and result["validation_mean_score"] == 0.5
    # right at 0.2/0.4/0.6/0.8 (twice): 0/1/0/1; the isotonic fit pools 0.4 and 0.6 to 0.5, so the
    # traffic's 0.9 (beyond: clipped), 0.8, 0.7, 0.6 are right at 1, 1, 0.75 (between), 0.5
    assert result["estimated_accuracy"] == pytest.approx((1 + 1 + 0.75 + 0.5) / 4)
    assert result["validation_accuracy"] == pytest.approx(3 / 5)
    assert [(c["label"], c["difference"]) for c in result["classes"]] == [("A", 0.25), ("B", -0.25)]
    assert capture.reading(result).startswith(f"PSI {psi:.3f}: a moderate shift")
    assert not set(capture.REVIEW_COLUMNS) & set(result)  # no threshold, no review share
    # the share below a review threshold of 0.75: traffic 0.7 and 0.6 of four; validation, each text
    # once, 0.2, 0.4 and 0.6 of four
    reviewed = capture.drift(answers, validation, 0.75)
    # two of four below it: Wilson's interval from its formula (its centre stays at 0.5 here)
    z = 1.959964
    half = z / (1 + z**2 / 4) * math.sqrt(0.25 / 4 + z**2 / 64)
    assert {k: reviewed.get(k) for k in capture.REVIEW_COLUMNS} == pytest.approx(
        {
            "review_threshold": 0.75,
            "review_share": 0.5,
            "validation_review_share": 0.75,
            "review_share_low": 0.5 - half,
            "review_share_high": 0.5 + half,
            "held_out_review_share_low": None,  # no held-out figures given
            "held_out_review_share_high": None,
        }
    )
    held = capture.drift(answers, validation, 0.75, {"coverage": 0.3, "coverage_interval": [0.2, 0.45]})
    assert (held["held_out_review_share_low"], held["held_out_review_share_high"]) == pytest.approx(
        (0.55, 0.8)
    )
    assert capture.drift(answers, validation, 0.6)["review_share"] == 0  # a score at the threshold: answered
    alone = capture.drift(answers, None)
    assert "psi" not in alone and alone["classes"][0] == {"label": "A", "traffic": 3, "traffic_share": 0.75}
    with pytest.raises(capture.CaptureError, match="no captured predictions"):
        capture.drift(answers.iloc[:0], validation)
    counts = {"records": 0, "batch_records": 0, "smoke_records": 0, "records_without_prediction": 0}
    read = {**counts, "location": "s3://b/capture/ep/AllTraffic"}
    assert (
        capture.no_traffic(read, 6)
        == "no captured predictions in the last 6 h at s3://b/capture/ep/AllTraffic"
    )
    failed = capture.no_traffic(
        {**read, "records": 4, "batch_records": 3, "records_without_prediction": 1}, 6
    )
    assert failed.endswith(
        ": of its 4 record(s), 3 from medtx predict left out (a scored backlog and a deployment's check are "
        "not the endpoint's traffic); 1 holding no prediction"
    )
    with pytest.raises(capture.CaptureError, match=r"lack the column\(s\) pred_label"):
        capture.drift(answers, validation.drop(columns="pred_label"))
    with pytest.raises(capture.CaptureError, match="hold no rows"):
        capture.drift(answers, validation.iloc[:0])


def test_the_accuracy_estimates_interval_holds_the_real_accuracy_of_calibrated_traffic():
    """Validation rows and traffic of one model whose score of s is right with probability s, drawn
    anew each trial: the real accuracy of 400 predictions falls inside the 95% interval about as often
    as it says, and the interval narrows as the traffic grows. (Over 100 such trials: 0.94; an
    interval from the fit's uncertainty alone covered 0.80, from the chance in which predictions come
    right alone 0.88.)"""
    import numpy as np
    import pandas as pd

    from pipeline import capture

    rng = np.random.default_rng(11)

    def drawn(rows: int) -> tuple[np.ndarray, np.ndarray]:
        score = rng.uniform(0.05, 0.95, rows)
        return score, rng.uniform(size=rows) < score

    def validation() -> pd.DataFrame:
        score, right = drawn(600)
        return pd.DataFrame(
            {
                "text": [f"note {i}" for i in range(600)],
                "score": score,
                "target_label": "A",
                "pred_label": np.where(right, "A", "B"),
            }
        )

    inside = []
    for trial in range(40):
        traffic, came_right = drawn(400)
        found = capture.estimate_accuracy(traffic, validation(), resamples=100, seed=trial)
        assert (
            found["estimated_accuracy_low"] <= found["estimated_accuracy"] <= found["estimated_accuracy_high"]
        )
        inside.append(
            found["estimated_accuracy_low"] <= came_right.mean() <= found["estimated_accuracy_high"]
        )
    assert np.mean(inside) >= 0.9
    fitted_on = validation()
    few, many = (capture.estimate_accuracy(drawn(n)[0], fitted_on, resamples=100) for n in (100, 10_000))
    width = lambda found: found["estimated_accuracy_high"] - found["estimated_accuracy_low"]  # noqa: E731
    assert width(many) < width(few) / 2
    assert capture.estimate_accuracy(traffic, fitted_on, seed=5) == capture.estimate_accuracy(
        traffic, fitted_on, seed=5
    )  # seeded: one check, one interval


def _evaluated_package(client, s3, arns: dict, group: str, execution: str) -> str:
    """An Approved package of ``group`` whose evaluation lies in S3: ten validation notes, Urology
    and Radiology predicted five times each (score 0.8), and a review threshold of 0.7."""
    from aws_helpers import BUCKET

    key = f"executions/{execution}/evaluation/"
    performance = "row_id,text,target,pred,target_label,pred_label,score\n" + "".join(
        f"{i},note {i},0,0,Urology,{'Urology' if i % 2 else 'Radiology'},0.8\n" for i in range(10)
    )
    selective = {
        "selective": {
            "accuracy_target": 0.9,
            "at_accuracy": {"threshold": 0.7, "coverage": 0.4},
            "held_out": {"coverage": 0.4, "coverage_interval": [0.3, 0.5]},
        }
    }
    s3.put_object(Bucket=BUCKET, Key=key + "evaluation.json", Body=json.dumps(selective).encode())
    s3.put_object(Bucket=BUCKET, Key=key + "model-performance.csv", Body=performance.encode())
    spec = client.describe_model_package(ModelPackageName=arns["Approved"])["InferenceSpecification"]
    metrics = {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{key}evaluation.json"}
    return client.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification=spec,
        ModelApprovalStatus="Approved",
        ModelMetrics={"ModelQuality": {"Statistics": metrics}},
    )["ModelPackageArn"]


def test_endpoint_predictions_reads_the_capture_against_validation(registry, iam_calls, monkeypatch):
    """``medtx endpoint predictions --sagemaker``: the captured answers of the last hours beside the
    served version's validation predictions; with the approver policy's calls only."""
    from datetime import UTC, datetime, timedelta

    import boto3
    from aws_helpers import BUCKET
    from helpers import said
    from typer.testing import CliRunner

    from pipeline.cli import app

    client, arns = registry
    own = boto3.Session(region_name=REGION)
    s3 = own.client("s3")
    group, name = "medtx-watched", "medtx-watched"
    client.create_model_package_group(ModelPackageGroupName=group)
    package = _evaluated_package(client, s3, arns, group, "exec-w")
    runner = CliRunner()
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("COLUMNS", "200")
    uncaptured = deploy.DeploySettings("medtx-uncaptured", ROLE)
    deploy.deploy(client, own.client("cloudwatch"), uncaptured, package)
    none = runner.invoke(app, ["endpoint", "predictions", "--sagemaker", "--name", "medtx-uncaptured"])
    assert none.exit_code == 1 and "captures nothing: deploy it with --capture-percent N" in said(none)
    assert f"nothing captured before in the last 24 h at s3://{BUCKET}/endpoint-capture/" in said(none)
    monkeypatch.setenv("ARTIFACT_BUCKET", "medtx-no-such-bucket")  # where medtx deploy would capture
    unreadable = runner.invoke(app, ["endpoint", "predictions", "--sagemaker", "--name", "medtx-uncaptured"])
    assert unreadable.exit_code == 1
    assert "at s3://medtx-no-such-bucket/endpoint-capture (NoSuchBucket)" in said(unreadable)
    monkeypatch.delenv("ARTIFACT_BUCKET")

    destination = f"s3://{BUCKET}/endpoint-capture"
    settings = deploy.DeploySettings(name, ROLE, capture_percent=100, capture_uri=destination)
    deploy.deploy(client, own.client("cloudwatch"), settings, package)
    now, old = datetime.now(UTC), datetime.now(UTC) - timedelta(days=3)
    urology = {"label": "Urology", "class_id": 2, "score": 0.6}
    for moment, lines in (
        (now, [_capture_line([urology] * 3), _capture_line({"error": "x"}), _capture_line([urology])]),
        (old, [_capture_line([{**urology, "label": "Radiology"}] * 50)]),  # older than --hours: left out
    ):
        s3.put_object(
            Bucket=BUCKET,
            Key=f"endpoint-capture/{name}/AllTraffic/{moment:%Y/%m/%d/%H}/capture.jsonl",
            Body="\n".join(lines).encode(),
        )
    asked = ["endpoint", "predictions", "--sagemaker", "--name", name, "--hours", "24"]
    result = json.loads(runner.invoke(app, [*asked, "--json"]).stdout)
    assert (result["predictions"], result["records"], result["records_without_prediction"]) == (4, 3, 1)
    assert result["model_package"] == package and result["validation_texts"] == 10
    assert result["capture_percent"] == 100
    by_label = {c["label"]: c for c in result["classes"]}
    assert by_label["Radiology"]["traffic"] == 0 and by_label["Urology"] == {
        "label": "Urology", "traffic": 4, "traffic_share": 1.0, "validation_share": 0.5, "difference": 0.5
    }  # fmt: skip
    assert result["psi"] > 0.25 and result["mean_score"] == pytest.approx(0.6)
    shown = runner.invoke(app, asked)
    assert shown.exit_code == 0, shown.output
    text = said(shown)
    assert "4 predictions in 3 captured records (1 without one)" in text
    assert "a major shift in the predicted classes" in text and "(validation: 0.800)" in text
    low, high = result["estimated_accuracy_low"], result["estimated_accuracy_high"]
    assert low <= result["estimated_accuracy"] <= high
    assert (
        f"estimated accuracy {result['estimated_accuracy']:.3f} (95%: {low:.3f}-{high:.3f}; validation: "
        f"{result['validation_accuracy']:.3f})" in text
    )
    assert (
        "to review: 100.0% (95%: 51.0%-100.0%) of the predictions scored below 0.700, the served version's "
        "threshold for its target accuracy (validation notes: 0.0%; held out 50.0%-70.0%)"
    ) in text  # four of four below it: Wilson's interval; the held-out share answered was 30-50%
    older = json.loads(runner.invoke(app, [*asked[:-1], "96", "--json"]).stdout)
    assert older["predictions"] == 54
    # an endpoint deployed since without capture: what it captured before is read where medtx deploy
    # put it (moto has no UpdateEndpoint, so this one's captures are written where they would be)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"endpoint-capture/medtx-uncaptured/AllTraffic/{now:%Y/%m/%d/%H}/capture.jsonl",
        Body="\n".join([_capture_line([urology])] * 2).encode(),
    )
    before = runner.invoke(app, ["endpoint", "predictions", "--sagemaker", "--name", "medtx-uncaptured"])
    assert before.exit_code == 0, before.output
    told = said(before)
    assert "endpoint medtx-uncaptured captures nothing now (deployed without --capture-percent)" in told
    assert "2 predictions in 2 captured records (0 without one)" in told
    assert "s3:ListBucket" in iam_calls and not iam_calls - approver_actions(), sorted(iam_calls)


def test_the_scheduled_drift_check_puts_its_figures_in_cloudwatch(registry, iam_calls, monkeypatch):
    """``endpoint predictions --sagemaker --publish`` (the stack's scheduled check, in its deploy
    project): the count, mean score, PSI, total variation and estimated accuracy in CloudWatch under
    the endpoint's name; the last three only from ``capture.FEW`` predictions on; a window without
    predictions is a count of 0, not a failure; only calls the CodeBuild role allows."""
    from datetime import UTC, datetime, timedelta

    import boto3
    from aws_helpers import BUCKET
    from helpers import said
    from typer.testing import CliRunner

    from pipeline import capture
    from pipeline.cli import app

    client, arns = registry
    own = boto3.Session(region_name=REGION)
    s3, cloudwatch = own.client("s3"), own.client("cloudwatch")
    package = _evaluated_package(client, s3, arns, GROUP, "exec-d")
    destination = f"s3://{BUCKET}/endpoint-capture"
    for name in ("medtx-busy", "medtx-few", "medtx-quiet"):
        settings = deploy.DeploySettings(name, ROLE, capture_percent=50, capture_uri=destination)
        deploy.deploy(client, cloudwatch, settings, package)
    now = datetime.now(UTC)
    urology = {"label": "Urology", "class_id": 2, "score": 0.6}
    for name, answers in (("medtx-busy", capture.FEW), ("medtx-few", capture.FEW - 1)):
        s3.put_object(
            Bucket=BUCKET,
            Key=f"endpoint-capture/{name}/AllTraffic/{now:%Y/%m/%d/%H}/capture.jsonl",
            Body="\n".join([_capture_line([urology])] * answers).encode(),
        )
    monkeypatch.setenv("AWS_REGION", REGION)
    runner = CliRunner()
    iam_calls.clear()

    def published(name: str) -> dict[str, float]:
        asked = ["endpoint", "predictions", "--sagemaker", "--publish", "--name", name, "--json"]
        done = runner.invoke(app, asked)
        assert done.exit_code == 0, said(done)
        found = cloudwatch.list_metrics(
            Namespace=capture.NAMESPACE, Dimensions=[{"Name": "EndpointName", "Value": name}]
        )["Metrics"]
        figures = {}
        for metric in found:
            points = cloudwatch.get_metric_statistics(
                Namespace=capture.NAMESPACE,
                MetricName=metric["MetricName"],
                Dimensions=metric["Dimensions"],
                StartTime=now - timedelta(hours=1),
                EndTime=datetime.now(UTC) + timedelta(hours=1),
                Period=7200,
                Statistics=["Maximum"],
            )["Datapoints"]
            figures[metric["MetricName"]] = max(p["Maximum"] for p in points)
        return figures

    busy = published("medtx-busy")
    assert busy["CapturedPredictions"] == capture.FEW and busy["PredictionMeanScore"] == pytest.approx(0.6)
    # all Urology against half on validation: a major shift, the alarm's side of its threshold
    assert busy["PredictionPSI"] > capture.MAJOR and busy["PredictionTotalVariation"] == pytest.approx(0.5)
    # validation: every row scored 0.8 and half of them right, so any traffic score estimates 0.5
    assert busy["PredictionEstimatedAccuracy"] == pytest.approx(0.5)
    assert busy["PredictionEstimatedAccuracyLow"] < 0.5 < busy["PredictionEstimatedAccuracyHigh"]
    # the served version's review threshold is 0.7: every traffic score (0.6) below it, no validation one
    assert busy["PredictionReviewShare"] == 1
    few = published("medtx-few")
    assert few.keys() == {"CapturedPredictions", "PredictionMeanScore"}  # too few for a PSI to alarm on
    assert published("medtx-quiet") == {"CapturedPredictions": 0}
    assert "cloudwatch:PutMetricData" in iam_calls and not iam_calls - codebuild_actions(), sorted(
        iam_calls - codebuild_actions()
    )

    # the bucket's history: a row per check and class; the same check hour again replaces its rows
    import pandas as pd

    def history() -> pd.DataFrame:
        body = s3.get_object(Bucket=BUCKET, Key=capture.HISTORY_KEY)["Body"].read()
        return pd.read_csv(io.BytesIO(body), keep_default_na=False)

    kept = history()
    assert tuple(kept.columns) == capture.HISTORY_COLUMNS
    assert kept.groupby("endpoint")["label"].apply(sorted).to_dict() == {
        "medtx-busy": ["Radiology", "Urology"],
        "medtx-few": ["Radiology", "Urology"],
        "medtx-quiet": [""],  # no predictions: one row, a count of 0
    }
    busy_rows = kept[kept["endpoint"] == "medtx-busy"].set_index("label")
    shares = busy_rows[["traffic_share", "validation_share"]].astype(float)
    assert shares.loc["Urology", "traffic_share"] == 1 and shares.loc["Radiology", "validation_share"] == 0.5
    assert float(busy_rows["psi"].iloc[0]) == pytest.approx(busy["PredictionPSI"])
    assert (kept[kept["endpoint"] == "medtx-few"]["psi"] == "").all()  # too few: no PSI, as in CloudWatch
    accuracies = busy_rows[["estimated_accuracy", "validation_accuracy"]].astype(float)
    assert (accuracies == 0.5).all().all()
    interval = busy_rows[["estimated_accuracy_low", "estimated_accuracy_high"]].astype(float).iloc[0]
    assert interval["estimated_accuracy_low"] < 0.5 < interval["estimated_accuracy_high"]
    review = busy_rows[list(capture.REVIEW_COLUMNS)].astype(float).iloc[0].to_dict()
    # all 200 below the threshold: Wilson's interval is [n / (n + z^2), 1]; held out, 1 - [0.3, 0.5]
    assert review == pytest.approx(
        {
            "review_threshold": 0.7,
            "review_share": 1.0,
            "validation_review_share": 0.0,
            "review_share_low": capture.FEW / (capture.FEW + 1.959964**2),
            "review_share_high": 1.0,
            "held_out_review_share_low": 0.5,
            "held_out_review_share_high": 0.7,
        }
    )
    assert (busy["PredictionReviewShareLow"], busy["PredictionReviewShareHigh"]) == pytest.approx(
        (review["review_share_low"], 1.0)
    )
    assert kept.loc[kept["endpoint"] == "medtx-quiet", "predictions"].astype(int).tolist() == [0]
    published("medtx-busy")
    assert history().equals(kept)
    s3.put_object(Bucket=BUCKET, Key=capture.HISTORY_KEY, Body=b"when,what\n1,2\n")
    broken = runner.invoke(
        app, ["endpoint", "predictions", "--sagemaker", "--publish", "--name", "medtx-busy"]
    )
    assert broken.exit_code == 1 and "the drift history has the columns when, what" in said(broken)


def test_diff_names_what_the_checkout_would_change_in_the_running_pipeline(
    aws, iam_calls, monkeypatch, tmp_path
):
    """``medtx diff`` builds this checkout's definition offline with the pipeline's own role and
    lists how it differs from the upserted one: exit 0 when the same, 1 with each difference. It
    calls only what the build project's role allows (buildspec.yml runs it before upserting)."""
    from helpers import ROOT, said
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    pipeline = ["--pipeline-name", "diffed"]
    # upserted by the build of one commit, compared from a checkout of the next
    monkeypatch.setenv("CODEBUILD_RESOLVED_SOURCE_VERSION", "1111111111111111111111111111111111111111")
    upserted = runner.invoke(app, ["upsert", "--role", ROLE, "--set", "pipeline_name=diffed"])
    assert upserted.exit_code == 0 and "from commit 1111111111111111111111111111111111111111" in said(
        upserted
    )
    monkeypatch.setenv("CODEBUILD_RESOLVED_SOURCE_VERSION", "2222222222222222222222222222222222222222")
    iam_calls.clear()
    same = runner.invoke(app, ["diff", *pipeline, "--set", "pipeline_name=diffed"])
    assert same.exit_code == 0, said(same)
    assert iam_calls == {"sagemaker:DescribePipeline"} and iam_calls <= codebuild_actions()
    assert "medtx diff" in (ROOT / "buildspec.yml").read_text()
    assert "diffed runs the definition this checkout builds" in said(same)
    assert re.search(
        r"diffed was upserted \d{4}-\d\d-\d\d \d\d:\d\d UTC from commit 1{40}; this checkout is commit 2{40}",
        said(same),
    )
    changed = runner.invoke(
        app,
        [
            "diff",
            *pipeline,
            "--set",
            "pipeline_name=diffed",
            "--set",
            "train__epochs=5",
            "--set",
            "train__warmup_ratio=0.2",
        ],
    )
    assert changed.exit_code == 1, said(changed)
    assert "diffed runs another definition than this checkout builds (3 difference(s)" in said(changed)
    assert "note: ARTIFACT_BUCKET, PIPELINE_KMS_KEY_ID, MEDTX_SETTINGS not set here" in said(changed)
    epochs, warmup, card = changed.stdout.splitlines()
    assert epochs == "parameter Epochs: default '3' -> '5'"
    assert warmup == "step Train: ['Arguments']['HyperParameters']['warmup-ratio']: '0.1' -> '0.2'"
    # the model card states the hyperparameters: a long Join text, shown where it changed
    assert card.startswith("step RegisterModel: ['Arguments']['ModelCard']['ModelCardContent']['Std:Join']")
    assert card.endswith(
        """...'rmup-ratio","value":"0.1"},{"name":"lr-scheduler","value":"l'... -> """
        """...'rmup-ratio","value":"0.2"},{"name":"lr-scheduler","value":"l'..."""
    )
    # a script edited since the upsert: the step whose bundle it is in, and the file, read from the
    # upserted bundle's keys (ETags), with no more than the build project's role allows
    from pipeline import code_bundle

    copy = tmp_path / "scripts"
    shutil.copytree(code_bundle.SCRIPTS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "medtx_behaviour.py").write_text((copy / "medtx_behaviour.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(code_bundle, "SCRIPTS_DIR", copy)
    iam_calls.clear()
    edited = runner.invoke(app, ["diff", *pipeline, "--set", "pipeline_name=diffed"])
    assert edited.exit_code == 1, said(edited)
    assert iam_calls <= codebuild_actions(), iam_calls
    lines = edited.stdout.splitlines()
    assert lines[0].startswith("step Evaluate: ['Arguments']['ProcessingInputs'][")  # its code input's key
    assert re.fullmatch(
        r"code evaluate \(evaluate-[0-9a-f]{16} -> evaluate-[0-9a-f]{16}\): medtx_behaviour.py changed",
        lines[-1],
    )
    assert not any("Train" in line for line in lines)  # the training code is the same: Train stays cached
    monkeypatch.setattr(code_bundle, "SCRIPTS_DIR", ROOT / "scripts")
    missing = runner.invoke(app, ["diff", "--pipeline-name", "never-upserted"])  # the first push
    assert missing.exit_code == 1  # all of it differs
    upsert_it = f"no pipeline 'never-upserted' in {REGION}: `medtx upsert` (or a push) creates it"
    assert upsert_it in said(missing)
    for command in (
        ["start"],
        ["schedule", "create", "rate(1 day)", "--role-arn", ROLE, "--param", "Epochs=2"],
        ["status"],
        ["status", "--last", "3"],
        ["logs", "Train"],
    ):
        unknown = runner.invoke(app, [*command, "--pipeline-name", "never-upserted"])
        assert unknown.exit_code == 2 and upsert_it in said(unknown), said(unknown)
    assert (
        runner.invoke(app, ["diff", *pipeline, "--set", "pipeline_name=diffed"]).exit_code == 0
    )  # moto kept
