"""infra/template.yaml: cfn-lint (no errors), checkov (no failed check, every skip justified), and the
security properties the issue asks for, read from the template itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import ROOT, TEMPLATE, load_template

TOOLS = ROOT / ".venv-infra" / "bin"
#: Actions without resource-level permissions: the only ones allowed on Resource "*".
NO_RESOURCE_LEVEL = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "application-autoscaling:DescribeScalableTargets",
}


#: A drift check's accuracy estimate with its interval, as ``capture.drift`` gives it.
_ESTIMATE = {"estimated_accuracy": 0.5, "estimated_accuracy_low": 0.4, "estimated_accuracy_high": 0.6}


def _tool(name: str) -> str:
    found = TOOLS / name if (TOOLS / name).exists() else shutil.which(name)
    if not found:
        if os.environ.get("MEDTX_REQUIRE_INFRA_TOOLS"):
            pytest.fail(f"{name} is required: `make test` installs it into .venv-infra")
        pytest.skip(f"{name} not installed (`make test` installs it into .venv-infra)")
    return str(found)


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_cfn_lint_finds_nothing():
    result = subprocess.run([_tool("cfn-lint"), str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_fails_nothing_and_every_skip_is_justified(template, tmp_path):
    result = subprocess.run(
        [
            _tool("checkov"),
            "-f",
            str(TEMPLATE),
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(result.stdout)
    failed = report["results"]["failed_checks"]
    assert not failed, [(c["check_id"], c["resource"], c["check_name"]) for c in failed]
    assert report["summary"]["passed"] > 40
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, f"{name}: skip {skip['id']} needs a justification"


def _statements(template):
    """Every statement of the roles' inline policies and of the managed policies."""
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield name, statement
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                yield name, statement


def test_roles_and_policies_are_least_privilege(template):
    for role, statement in _statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        assert not any(a == "*" or a.endswith(":*") for a in actions), f"{role}: wildcard action {actions}"
        if "*" in resources:
            assert set(actions) <= NO_RESOURCE_LEVEL, f"{role}: {actions} on *"
        if "iam:PassRole" in actions:
            assert "iam:PassedToService" in json.dumps(statement.get("Condition", {})), role


def test_buckets_are_encrypted_versioned_private_and_tls_only(template):
    resources = template["Resources"]
    bucket = resources["ArtifactBucket"]["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    for policy in ("ArtifactBucketPolicy", "AccessLogBucketPolicy"):
        statements = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": False}}
            for s in statements
        ), policy
    assert resources["Key"]["Properties"]["EnableKeyRotation"] is True


def test_deploys_only_on_approval_and_retrains_on_a_schedule(template):
    resources = template["Resources"]
    pattern = resources["DeployOnApprovalRule"]["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
    assert pattern["detail"]["ModelApprovalStatus"] == ["Approved"]
    retrain = resources["RetrainRule"]["Properties"]
    assert retrain["ScheduleExpression"] == {"Ref": "RetrainSchedule"}
    # through the deploy project's `medtx start`, which names the data's version: a rule that started
    # the pipeline itself could pass only fixed parameters, and new data at the same key would be a
    # Preprocess cache hit
    (target,) = retrain["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": "DeployProject.Arn"}
    given = json.loads(target["Input"]["Fn::Sub"])
    variables = {v["name"]: v["value"] for v in given["environmentVariablesOverride"]}
    assert variables == {
        "MEDTX_PIPELINE_NAME": "${PipelineName}",
        "MEDTX_RETRAIN_INPUT": "s3://${ArtifactBucket}/${RetrainInputDataKey}",
    }
    spec = (ROOT / given["buildspecOverride"]).read_text()
    start = '--if-idle --pipeline-name "${MEDTX_PIPELINE_NAME}" --param "InputDataUri=${MEDTX_RETRAIN_INPUT}"'
    assert f"medtx start {start}" in spec
    events = resources["EventsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"Sid": "Deploy", "Effect": "Allow", "Action": "codebuild:StartBuild"} | {
        "Resource": {"Fn::GetAtt": "DeployProject.Arn"}
    } in events
    trigger = resources["ReleasePipeline"]["Properties"]["Triggers"][0]
    assert trigger["GitConfiguration"]["Push"][0]["Branches"]["Includes"] == [{"Ref": "BranchName"}]
    build = resources["BuildProject"]["Properties"]
    assert build["Source"]["BuildSpec"] == "buildspec.yml"
    assert (ROOT / resources["DeployProject"]["Properties"]["Source"]["BuildSpec"]).exists()


def test_the_build_hands_the_stacks_names_to_every_medtx_command(template, monkeypatch):
    """The roles are scoped to the stack's PipelineName, ModelPackageGroupName and EndpointName; the
    build project's MEDTX_SETTINGS gives every medtx command of buildspec.yml those names (and the
    capture share of the pipeline's own deploy step), so a stack with names of its own upserts,
    starts and registers what its roles allow. At the parameters' defaults it is the config's."""
    pytest.importorskip("typer")
    from pipeline.cli.common import config
    from pipeline.config import PipelineConfig

    project = template["Resources"]["BuildProject"]["Properties"]
    sets = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    text = sets["MEDTX_SETTINGS"]["Fn::Sub"]
    named = {
        "pipeline_name": "PipelineName",
        "model_package_group": "ModelPackageGroupName",
        "endpoint_name": "EndpointName",
        "endpoint_capture_percent": "EndpointCapturePercent",
    }
    assert dict(item.split("=", 1) for item in text.split()) == {k: f"${{{v}}}" for k, v in named.items()}
    for field, parameter in named.items():
        assert str(template["Parameters"][parameter]["Default"]) == str(getattr(PipelineConfig(), field))
    stack = dict(zip(named.values(), ["p", "g", "e", 5], strict=True))
    monkeypatch.setenv("MEDTX_SETTINGS", re.sub(r"\$\{(\w+)\}", lambda m: str(stack[m[1]]), text))
    cfg = config()
    assert [getattr(cfg, field) for field in named] == ["p", "g", "e", 5]
    spec = (ROOT / project["Source"]["BuildSpec"]).read_text()
    assert "medtx upsert" in spec and "medtx start" in spec


def test_the_deploy_projects_sources_are_those_of_the_pipeline_upserted(template):
    """The deploy project runs from the sources the build uploads (medtx deploy on an approval, the
    scheduled retraining): uploaded after a successful upsert, in the build phase, which stops at a
    failing command, not in post_build, which CodeBuild runs after a failed build phase too."""
    import yaml

    location = template["Resources"]["DeployProject"]["Properties"]["Source"]["Location"]["Fn::Sub"]
    key = location.removeprefix("${ArtifactBucket}/")
    spec = yaml.safe_load((ROOT / "buildspec.yml").read_text())
    phases = spec["phases"]
    uploads = [
        (phase, i)
        for phase, body in phases.items()
        for i, command in enumerate(body["commands"])
        if f"s3://${{ARTIFACT_BUCKET}}/{key}" in command
    ]
    assert uploads == [("build", uploads[0][1])], uploads
    build = phases["build"]["commands"]
    upsert = build.index(".venv/bin/medtx upsert")
    assert upsert < uploads[0][1] and "archive" in build[uploads[0][1] - 1]
    assert all("medtx start" not in command for command in build[:upsert])
    assert "post_build" not in phases


def test_the_deploy_project_configures_medtx_deploy_through_its_environment(template):
    """Each MEDTX_* variable the deploy project sets is one that ``medtx deploy`` reads, from the stack
    parameter of that name; the build waits for the outcome."""
    pytest.importorskip("typer")
    import typer.core
    import typer.main

    from pipeline.cli import app

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands["deploy"]
    reads = {p.envvar: p.name for p in command.params if p.envvar}
    project = template["Resources"]["DeployProject"]["Properties"]
    sets = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    medtx = {name: value for name, value in sets.items() if name.startswith("MEDTX_")}
    assert medtx == {
        "MEDTX_ENDPOINT_NAME": {"Ref": "EndpointName"},
        "MEDTX_ENDPOINT_MAX_INSTANCE_COUNT": {"Ref": "EndpointMaxInstanceCount"},
        "MEDTX_ENDPOINT_INVOCATIONS_PER_INSTANCE": {"Ref": "EndpointInvocationsPerInstance"},
        "MEDTX_ENDPOINT_CAPTURE_PERCENT": {"Ref": "EndpointCapturePercent"},
    }
    assert set(medtx) <= set(reads), f"medtx deploy does not read {set(medtx) - set(reads)}"
    for parameter in ("EndpointMaxInstanceCount", "EndpointInvocationsPerInstance", "EndpointCapturePercent"):
        assert parameter in template["Parameters"]
    spec = (ROOT / project["Source"]["BuildSpec"]).read_text()
    assert 'medtx deploy --model-package-arn "${MODEL_PACKAGE_ARN}" --wait' in spec


def test_a_capturing_stack_checks_prediction_drift_on_a_schedule(template):
    """With EndpointCapturePercent above 0, a schedule runs infra/driftspec.yml in the deploy project
    (``endpoint predictions --publish``), and an alarm watches the PSI it puts in CloudWatch at the
    threshold ``pipeline.capture`` reads as a major shift; its role may put only that namespace."""
    from pipeline import capture

    resources = template["Resources"]
    assert template["Conditions"]["Captures"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "EndpointCapturePercent"}, "0"]}]
    }
    rule = resources["DriftCheckRule"]
    assert rule["Condition"] == "Captures"
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "DriftCheckSchedule"}
    target = rule["Properties"]["Targets"][0]
    assert target["Arn"] == {"Fn::GetAtt": "DeployProject.Arn"}
    spec = (ROOT / json.loads(target["Input"])["buildspecOverride"]).read_text()
    assert (
        'medtx endpoint predictions --sagemaker --publish --hours 24 --name "${MEDTX_ENDPOINT_NAME}"' in spec
    )
    assert spec.index("medtx endpoint predictions") < spec.index("medtx quicksight --refresh")
    alarm = resources["PredictionDriftAlarm"]
    assert alarm["Condition"] == "Captures"
    watched = alarm["Properties"]
    checked = {"predictions": capture.FEW, "mean_score": 1, "psi": 1, "total_variation": 1}
    figures = capture.metric_data("e", {**checked, **_ESTIMATE}, datetime.now(UTC))
    published = {f["MetricName"] for f in figures}
    assert watched["MetricName"] in published and watched["MetricName"] == "PredictionPSI"
    assert watched["Namespace"] == capture.NAMESPACE and watched["Threshold"] == capture.MAJOR
    assert watched["Dimensions"] == [{"Name": "EndpointName", "Value": {"Ref": "EndpointName"}}]
    assert watched["TreatMissingData"] == "notBreaching"
    # the estimated-accuracy and review-share alarms: only with captures and a threshold above 0 (a
    # stack parameter from 0 to 1), on a figure the check publishes (the share only with a review
    # threshold), beyond that parameter
    shares = {"review_share": 0.3, "review_share_low": 0.2, "review_share_high": 0.4}
    with_review = capture.metric_data("e", {**checked, **_ESTIMATE, **shares}, datetime.now(UTC))
    for alarm, condition, parameter, metric, comparison, statistic, name in (
        (
            "EstimatedAccuracyAlarm",
            "WatchesAccuracy",
            "EstimatedAccuracyAlarmThreshold",
            "PredictionEstimatedAccuracy",
            "LessThanThreshold",
            "Minimum",
            "estimated-accuracy",
        ),
        (
            "ReviewShareAlarm",
            "WatchesReviewShare",
            "ReviewShareAlarmThreshold",
            "PredictionReviewShare",
            "GreaterThanThreshold",
            "Maximum",
            "review-share",
        ),
    ):
        assert resources[alarm]["Condition"] == condition
        assert template["Conditions"][condition] == {
            "Fn::And": [{"Condition": "Captures"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, "0"]}]}]
        }
        watched = resources[alarm]["Properties"]
        assert watched["MetricName"] == metric and metric in {f["MetricName"] for f in with_review}
        assert watched["Threshold"] == {"Ref": parameter}
        assert watched["ComparisonOperator"] == comparison and watched["Statistic"] == statistic
        assert watched["Namespace"] == capture.NAMESPACE and watched["TreatMissingData"] == "notBreaching"
        assert watched["AlarmName"] == {"Fn::Sub": f"${{EndpointName}}-{name}"}
        given = template["Parameters"][parameter]
        assert (given["Default"], given["MinValue"], given["MaxValue"]) == (0, 0, 1)
    assert "PredictionReviewShare" not in published  # without a review threshold: no share, no breach
    statements = resources["CodeBuildRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (put,) = [s for s in statements if s["Action"] == "cloudwatch:PutMetricData"]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": capture.NAMESPACE}}


def test_dashboards_refresh_after_a_successful_execution(template):
    resources = template["Resources"]
    rule = resources["RefreshDashboardsRule"]["Properties"]
    assert rule["EventPattern"]["detail-type"] == [
        "SageMaker Model Building Pipeline Execution Status Change"
    ]
    assert rule["EventPattern"]["detail"]["currentPipelineExecutionStatus"] == ["Succeeded"]
    spec = json.loads(rule["Targets"][0]["Input"])["buildspecOverride"]
    assert "medtx quicksight --refresh" in (ROOT / spec).read_text()


#: What the stack's names resolve to in the notification test (the parameters' defaults).
_NAMES = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
_PIPELINE = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/medtx-specialty-classifier"
_PACKAGES = "arn:aws:sagemaker:us-east-1:123456789012:model-package/medtx-specialty-classifier"
#: Events as the services send them (the fields the rules read; SageMaker's and CodeBuild's
#: documented event layouts), each with a near miss the rule must not match.
_EVENTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ExecutionEndedBadlyRule": (
        {
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
            "detail": {
                "pipelineArn": _PIPELINE,
                "pipelineExecutionArn": f"{_PIPELINE}/execution/abc123",
                "currentPipelineExecutionStatus": "Failed",
                "previousPipelineExecutionStatus": "Executing",
            },
        },
        {"detail": {"currentPipelineExecutionStatus": "Succeeded"}},
    ),
    "VersionAwaitsApprovalRule": (
        {
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Model Package State Change",
            "detail": {
                "ModelPackageGroupName": "medtx-specialty-classifier",
                "ModelPackageVersion": 7,
                "ModelPackageArn": f"{_PACKAGES}/7",
                "ModelApprovalStatus": "PendingManualApproval",
            },
        },
        {"detail": {"ModelApprovalStatus": "Approved"}},
    ),
    "EndpointFailedRule": (
        {
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Endpoint State Change",
            "detail": {
                "EndpointName": "medtx-specialty-classifier",
                "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/medtx-specialty-classifier",
                "EndpointStatus": "FAILED",
            },
        },
        {"detail": {"EndpointStatus": "IN_SERVICE"}},
    ),
    "DeployBuildFailedRule": (
        {
            "source": "aws.codebuild",
            "detail-type": "CodeBuild Build State Change",
            "detail": {
                "build-status": "FAILED",
                "project-name": "medtx-deploy",
                "build-id": "arn:aws:codebuild:us-east-1:123456789012:build/medtx-deploy:0a1b",
                "additional-information": {
                    "logs": {"deep-link": "https://console.aws.amazon.com/cloudwatch/x"}
                },
            },
        },
        {"detail": {"project-name": "medtx-build"}},
    ),
}


def _concrete(value, template):
    """The rule's pattern with the stack's names in place of ``!Sub`` / ``!Ref``."""
    if isinstance(value, list):
        return [_concrete(v, template) for v in value]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: _concrete({"Ref": m.group(1)}, template), value["Fn::Sub"])
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        if name in _NAMES:
            return _NAMES[name]
        if name in template["Resources"]:  # a CodeBuild project's Ref is its name
            return _concrete(template["Resources"][name]["Properties"]["Name"], template)
        return str(template["Parameters"][name]["Default"])
    if isinstance(value, dict):
        return {k: _concrete(v, template) for k, v in value.items()}
    return value


def _path(event: dict, path: str):
    found = event
    for part in path.removeprefix("$.").split("."):
        found = found[part]
    return found


@pytest.mark.parametrize("name", sorted(_EVENTS))
def test_what_needs_a_person_reaches_the_alarm_topic(template, name):
    """With AlarmTopicArn, a failed or stopped execution, a version awaiting approval and a failed
    deploy-project build each reach the topic with a message saying what happened and what to run;
    the patterns are tried with moto's EventBridge matcher on events laid out as the services send
    them (moto's TestEventPattern answers nothing)."""
    from moto.events.models import EventPattern

    rule = template["Resources"][name]
    assert rule["Condition"] == "NotifyTopic"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "AlarmTopicArn"}
    pattern = EventPattern.load(json.dumps(_concrete(rule["Properties"]["EventPattern"], template)))
    event, miss = _EVENTS[name]
    base = {"id": "1", "account": "123456789012", "time": "2026-12-04T03:00:00Z", "region": "us-east-1"}
    sent: Any = {**base, **event}  # moto types the event as its own TypedDict
    assert pattern.matches_event(sent)
    missed: Any = {**sent, "detail": {**event["detail"], **miss["detail"]}}
    assert not pattern.matches_event(missed)
    transformer = target["InputTransformer"]
    message = transformer["InputTemplate"]
    for key, path in transformer["InputPathsMap"].items():
        assert f"<{key}>" in message, key
        message = message.replace(f"<{key}>", str(_path(event, path)))
    text = json.loads(message)  # a JSON string: SNS sends it as the message
    assert not re.search(r"<[a-z]+>", text) and text.startswith("medtx: ")
    assert "medtx " in text.removeprefix("medtx: ") or "log: https://" in text  # what to run or read


#: SageMaker Pipelines' CloudWatch metrics: their namespace (spelled so) and names.
PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"
PIPELINE_METRICS = {
    "ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionStopped", "ExecutionDuration",
    "StepStarted", "StepSucceeded", "StepFailed", "StepStopped", "StepDuration",
}  # fmt: skip


def test_the_operations_dashboard_charts_what_sagemaker_and_the_drift_check_put(template, monkeypatch):
    """The CloudWatch dashboard's body is JSON once the stack's names are in; its medtx charts read
    every figure ``capture.metric_data`` puts (namespace, dimension), its SageMaker charts the
    metrics ``medtx deploy``'s rollback alarms watch (same dimensions), its pipeline charts the
    pipeline's executions and its three jobs by their step names, ids and statistics follow
    GetMetricData's rules, every metric-math expression reads ids its widget has, the PSI chart marks
    the thresholds ``capture`` reads, and the widgets tile the grid without overlapping."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SDK makes a boto3 client on import
    from pipeline import capture, deploy
    from steps import evaluate, preprocess, train

    dashboard = template["Resources"]["OperationsDashboard"]["Properties"]
    assert _concrete(dashboard["DashboardName"], template) == "medtx-operations"
    body = json.loads(_concrete(dashboard["DashboardBody"], template))
    endpoint = str(template["Parameters"]["EndpointName"]["Default"])
    pipeline = str(template["Parameters"]["PipelineName"]["Default"])  # = PipelineConfig's (tested above)
    charted: dict[str, set[str]] = {}
    steps_charted: set[str] = set()
    for widget in body["widgets"]:
        rows = widget["properties"].get("metrics", [])
        options = [part for row in rows for part in row if isinstance(part, dict)]
        # GetMetricData's rules (botocore's MetricDataQuery.Id, Statistic / extended statistics)
        ids = [part["id"] for part in options if "id" in part]
        assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z]\w*", i) for i in ids), ids
        stats = [part["stat"] for part in [widget["properties"], *options] if "stat" in part]
        assert all(re.fullmatch(r"SampleCount|Average|Sum|Minimum|Maximum|p\d\d?(\.\d+)?", s) for s in stats)
        for row in rows:
            names = [part for part in row if isinstance(part, str)]
            if not names:  # a metric-math row: what it computes from reads ids of this widget
                (expression,) = row
                assert set(re.findall(r"\b[a-z]\w*", expression["expression"])) <= set(ids), expression
                continue
            namespace, metric, dimensions = names[0], names[1], names[2:]
            charted.setdefault(namespace, set()).add(metric)
            if namespace == capture.NAMESPACE:
                assert dimensions == ["EndpointName", endpoint]
            elif namespace == PIPELINE_NAMESPACE:
                assert metric in PIPELINE_METRICS
                assert dimensions[:2] == ["PipelineName", pipeline]
                assert len(dimensions) == 2 if metric.startswith("Execution") else dimensions[2] == "StepName"
                steps_charted.update(dimensions[3:])
            else:
                assert dimensions == ["EndpointName", endpoint, "VariantName", deploy.VARIANT]
    assert steps_charted == {preprocess.NAME, train.NAME, evaluate.NAME}
    executions = {"ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionStopped"}
    assert executions | {"ExecutionDuration", "StepDuration"} == charted[PIPELINE_NAMESPACE]
    checked = {"predictions": capture.FEW, "mean_score": 1, "psi": 1, "total_variation": 1}
    review = {"review_share": 0.3, "review_share_low": 0.2, "review_share_high": 0.4}
    figures = capture.metric_data("e", {**checked, **_ESTIMATE, **review}, datetime.now(UTC))
    assert charted[capture.NAMESPACE] == {f["MetricName"] for f in figures}
    settings = deploy.DeploySettings(endpoint_name=endpoint, role_arn="r", instance_type="ml.m5.xlarge")
    assert {a["MetricName"] for a in deploy.alarm_requests(settings)} <= charted["AWS/SageMaker"]
    assert {"Invocations", "CPUUtilization", "MemoryUtilization"} <= set().union(*charted.values())
    (psi,) = [w for w in body["widgets"] if "PredictionPSI" in json.dumps(w)]
    marks = [line["value"] for line in psi["properties"]["annotations"]["horizontal"]]
    assert marks == [capture.STABLE, capture.MAJOR]
    text = " ".join(w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text")
    assert all(f"`{name}`" in text for name in deploy.alarm_names(endpoint))
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        area = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not cells & area, widget
        cells |= area
    assert template["Outputs"]["OperationsDashboardName"]["Value"] == {"Ref": "OperationsDashboard"}
