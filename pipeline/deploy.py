"""``medtx deploy``: put an approved model package on the endpoint, safely.

A new endpoint is created directly. An existing one is updated blue/green: the new endpoint config
gets a canary share of the traffic first, then all of it, and the service rolls back by itself when
one of the endpoint's CloudWatch alarms (5xx errors, model latency) fires during the shift. The alarms
are created (or updated) before the update starts. With ``wait`` the deploy follows the endpoint to
InService and fails when the update rolled back, so the CodeBuild job that runs it says how the
deployment ended, not only that it started. Given a SageMaker Runtime client it then sends one request
through the serving contract of ``scripts/inference.py`` and fails unless the answer is a prediction:
an InService endpoint whose handler breaks on every request would otherwise pass as deployed. An
endpoint that already serves the package on the same fleet is not updated again (approval events come
at least once); ``delete`` takes an endpoint down with what ``deploy`` made for it.

Autoscaling (``max_instance_count`` above ``instance_count``): Application Auto Scaling's target
tracking on invocations per instance, registered once the endpoint is InService. An update keeps the
capacity the variant has scaled to (the green fleet starts with the blue fleet's instance count, not
the minimum), and a registered variant whose instance type changes is deregistered before the update,
as UpdateEndpoint requires, then registered again. Without autoscaling in the settings, a scalable
target left on the variant is deregistered: the settings describe the endpoint's whole capacity.
Data capture (``capture_percent``): the endpoint config captures that share of the answers, never
the requests (transcripts), to ``capture_uri`` in SageMaker's capture format, KMS-encrypted.
``record_champion`` keeps the deployed package's archive in the champion folder
(``PipelineConfig.champion_uri``), which the Evaluate step of later executions compares with.

Requests are built by pure functions, so their shapes are tested against the service model where moto
does not implement the call.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class DeployError(ValueError):
    pass


#: Set on the model the pipeline's CreateModel step makes from the training job's archive: the
#: package RegisterModel registered from the same archive. An endpoint that the pipeline deploys
#: (``DeployModel=true``) serves a model made from an image and an archive, not from the package, so
#: this is how it names the version it serves.
PACKAGE_ENV = "MEDTX_MODEL_PACKAGE_ARN"


@dataclass(frozen=True)
class DeploySettings:
    endpoint_name: str
    role_arn: str
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    kms_key_id: str | None = None
    #: Share of the new fleet's capacity that gets traffic first, and how long it is watched.
    canary_percent: int = 10
    canary_wait_seconds: int = 600
    #: Alarm thresholds: any 5xx in a minute; p99 model latency above this (microseconds).
    max_p99_latency_us: int = 2_000_000
    network_isolation: bool = True
    #: Autoscaling between ``instance_count`` and this many instances (equal: a fixed fleet).
    max_instance_count: int = 1
    #: Target tracking value: invocations per instance per minute (SageMakerVariantInvocationsPerInstance).
    #: No default: it depends on the model, its sequence length and the instance type
    #: (docs/operations.md, step 5).
    invocations_per_instance: int | None = None
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60
    #: Data capture of the endpoint's answers (never its requests: they are transcripts): the share
    #: of invocations captured (0: none) and the S3 prefix they go to.
    capture_percent: int = 0
    capture_uri: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.capture_percent <= 100:
            raise DeployError(f"capture_percent must be 0 to 100; got {self.capture_percent}")
        if self.capture_percent and not (self.capture_uri or "").startswith("s3://"):
            raise DeployError(f"capturing answers needs an s3:// destination; got {self.capture_uri!r}")
        if self.instance_count < 1 or self.max_instance_count < self.instance_count:
            raise DeployError(
                f"instance counts: need 1 <= instance_count <= max_instance_count; got "
                f"{self.instance_count} and {self.max_instance_count}"
            )
        if self.autoscales and not (self.invocations_per_instance or 0) > 0:
            raise DeployError(
                f"autoscaling up to {self.max_instance_count} instances needs a target: "
                "invocations_per_instance (invocations per instance per minute) above 0"
            )

    @property
    def autoscales(self) -> bool:
        return self.max_instance_count > self.instance_count


VARIANT = "AllTraffic"
JSON = "application/json"
#: The note a deployment's smoke request sends: any transcript will do, the answer's shape is checked.
SMOKE_TEXT = (
    "CHIEF COMPLAINT: Chest pain on exertion. ECHOCARDIOGRAM: Mild aortic stenosis, normal left "
    "ventricular systolic function."
)
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def latest_approved(client: Any, group: str) -> str:
    """The newest Approved package of a group (never a pending or rejected one)."""
    found = client.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    if not found:
        raise DeployError(
            f"no Approved model package in group {group!r}: approve one first "
            "(`medtx models approve VERSION --sagemaker`; `medtx models list --sagemaker` lists them)"
        )
    return found[0]["ModelPackageArn"]


def check_approved(client: Any, package_arn: str) -> dict[str, Any]:
    package = client.describe_model_package(ModelPackageName=package_arn)
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        raise DeployError(
            f"{package_arn} is {status}; only Approved packages are deployed "
            f"(`medtx models approve {package.get('ModelPackageVersion', 'VERSION')} --sagemaker`)"
        )
    return package


def name_suffix() -> str:
    """Model and endpoint-config names must be new: two deploys in one second get different ones."""
    now = time.time()
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{int(now * 1000) % 1000:03d}"


def model_request(settings: DeploySettings, package_arn: str, suffix: str) -> dict[str, Any]:
    return {
        "ModelName": f"{settings.endpoint_name}-{suffix}",
        "ExecutionRoleArn": settings.role_arn,
        "Containers": [{"ModelPackageName": package_arn}],
        "EnableNetworkIsolation": settings.network_isolation,
        "Tags": [{"Key": "model-package-arn", "Value": package_arn}],
    }


def endpoint_config_request(
    settings: DeploySettings, model_name: str, suffix: str, instance_count: int | None = None
) -> dict[str, Any]:
    """The new config; ``instance_count`` (default: the settings' minimum) is how many instances the
    new fleet starts with."""
    request: dict[str, Any] = {
        "EndpointConfigName": f"{settings.endpoint_name}-{suffix}",
        "ProductionVariants": [
            {
                "VariantName": VARIANT,
                "ModelName": model_name,
                "InstanceType": settings.instance_type,
                "InitialInstanceCount": instance_count or settings.instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    if settings.kms_key_id:
        request["KmsKeyId"] = settings.kms_key_id
    if settings.capture_percent:
        request["DataCaptureConfig"] = capture_request(
            settings.capture_percent, settings.capture_uri, settings.kms_key_id
        )
    return request


def capture_request(percent: int, destination: str | None, kms_key_id: str | None = None) -> dict[str, Any]:
    """A ``DataCaptureConfig`` of the endpoint's answers only (``CaptureMode: Output``): the requests
    are transcripts, protected health information, and stay out of S3; the answers (label, class id,
    score) are what a prediction-drift check reads."""
    config: dict[str, Any] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": destination,
        "CaptureOptions": [{"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": [JSON]},
    }
    if kms_key_id:
        config["KmsKeyId"] = kms_key_id
    return config


def alarm_names(endpoint: str) -> list[str]:
    return [f"{endpoint}-5xx-errors", f"{endpoint}-p99-model-latency"]


def alarm_requests(settings: DeploySettings) -> list[dict[str, Any]]:
    dimensions = [
        {"Name": "EndpointName", "Value": settings.endpoint_name},
        {"Name": "VariantName", "Value": VARIANT},
    ]
    errors, latency = alarm_names(settings.endpoint_name)
    common = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": dimensions,
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    return [
        {
            **common,
            "AlarmName": errors,
            "AlarmDescription": "The endpoint answered with 5xx errors (rolls back a deployment).",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
            "Threshold": 0.0,
        },
        {
            **common,
            "AlarmName": latency,
            "AlarmDescription": "p99 model latency is above the limit (rolls back a deployment in progress).",
            "MetricName": "ModelLatency",
            "ExtendedStatistic": "p99",
            "Threshold": float(settings.max_p99_latency_us),
        },
    ]


def update_request(settings: DeploySettings, config_name: str) -> dict[str, Any]:
    """Blue/green with a canary traffic shift and automatic rollback on the alarms."""
    return {
        "EndpointName": settings.endpoint_name,
        "EndpointConfigName": config_name,
        "RetainAllVariantProperties": False,
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": settings.canary_percent},
                    "WaitIntervalInSeconds": settings.canary_wait_seconds,
                },
                "TerminationWaitInSeconds": 300,
                "MaximumExecutionTimeoutInSeconds": 3 * 3600,
            },
            "AutoRollbackConfiguration": {
                "Alarms": [{"AlarmName": n} for n in alarm_names(settings.endpoint_name)]
            },
        },
    }


def scaling_resource_id(endpoint: str) -> str:
    return f"endpoint/{endpoint}/variant/{VARIANT}"


def scalable_target_request(settings: DeploySettings) -> dict[str, Any]:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": scaling_resource_id(settings.endpoint_name),
        "ScalableDimension": SCALABLE_DIMENSION,
        "MinCapacity": settings.instance_count,
        "MaxCapacity": settings.max_instance_count,
    }


def scaling_policy_request(settings: DeploySettings) -> dict[str, Any]:
    """Target tracking: add instances when invocations per instance per minute stay above the target,
    remove them (more slowly) when they stay below."""
    return {
        "PolicyName": f"{settings.endpoint_name}-invocations-per-instance",
        "ServiceNamespace": "sagemaker",
        "ResourceId": scaling_resource_id(settings.endpoint_name),
        "ScalableDimension": SCALABLE_DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(settings.invocations_per_instance or 0),
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": settings.scale_in_cooldown_seconds,
            "ScaleOutCooldown": settings.scale_out_cooldown_seconds,
        },
    }


@dataclass(frozen=True)
class Serving:
    """An existing endpoint's status, config, and its variant's model, instance type and count."""

    status: str
    endpoint_config: str
    model: str
    instance_type: str
    instance_count: int
    failure_reason: str | None = None
    #: The share of invocations whose answers are captured (0: no capture), and where they go.
    capture_percent: int = 0
    capture_uri: str | None = None


def found_or_none(describe: Any, **request: Any) -> dict[str, Any] | None:
    """A SageMaker Describe call's answer, or None when the resource does not exist (SageMaker says
    so with a ValidationException)."""
    from botocore.exceptions import ClientError

    try:
        return describe(**request)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return None
        raise


def serving(sagemaker: Any, name: str) -> Serving | None:
    """The endpoint's current state, or None when there is no such endpoint."""
    endpoint = found_or_none(sagemaker.describe_endpoint, EndpointName=name)
    if endpoint is None:
        return None
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
    configured = {v["VariantName"]: v for v in config["ProductionVariants"]}
    if VARIANT not in configured:
        raise DeployError(
            f"endpoint {name} has no variant {VARIANT!r} (it has {', '.join(sorted(configured))}): "
            "a blue/green update needs the same variant name"
        )
    live = variants.get(VARIANT, {})
    count = live.get("DesiredInstanceCount") or live.get("CurrentInstanceCount")
    return Serving(
        status=endpoint["EndpointStatus"],
        endpoint_config=endpoint["EndpointConfigName"],
        model=configured[VARIANT]["ModelName"],
        instance_type=configured[VARIANT]["InstanceType"],
        instance_count=int(count or configured[VARIANT].get("InitialInstanceCount") or 1),
        failure_reason=endpoint.get("FailureReason"),
        capture_percent=capture_percent_of(config.get("DataCaptureConfig")),
        capture_uri=(config.get("DataCaptureConfig") or {}).get("DestinationS3Uri"),
    )


def capture_percent_of(config: dict[str, Any] | None) -> int:
    """The share of answers a ``DataCaptureConfig`` captures (0: none, or capture switched off)."""
    if not config or not config.get("EnableCapture", True):
        return 0
    return int(config.get("InitialSamplingPercentage", 0))


def model_package_of(sagemaker: Any, model: str) -> str | None:
    """The model package a model was made from (``medtx deploy``), or registered beside (the
    pipeline's CreateModel step, ``PACKAGE_ENV``); None for another model made from an image and
    artifacts, or one deleted since (an endpoint keeps serving a deleted model)."""
    described = found_or_none(sagemaker.describe_model, ModelName=model)
    if described is None:
        return None
    containers = described.get("Containers") or [described.get("PrimaryContainer") or {}]
    return package_of_container(containers[0])


def package_of_container(container: dict[str, Any]) -> str | None:
    """The package a model's container names: its ``ModelPackageName``, else ``PACKAGE_ENV``."""
    return container.get("ModelPackageName") or (container.get("Environment") or {}).get(PACKAGE_ENV)


def served_model(sagemaker: Any, name: str) -> tuple[str, str | None] | None:
    """An endpoint's status and the model its (first) variant serves, whatever the variant is called:
    None for no such endpoint; no model for a config deleted under the endpoint."""
    endpoint = found_or_none(sagemaker.describe_endpoint, EndpointName=name)
    if endpoint is None:
        return None
    config_name = endpoint["EndpointConfigName"]
    config = found_or_none(sagemaker.describe_endpoint_config, EndpointConfigName=config_name)
    variants = (config or {}).get("ProductionVariants") or [{}]
    return endpoint["EndpointStatus"], variants[0].get("ModelName")


def served_package(sagemaker: Any, name: str) -> tuple[str, str | None] | None:
    """An endpoint's status and the model package it serves (``served_model``): None for no such
    endpoint; no package for a model made from an image and artifacts, or for a config or model
    deleted under the endpoint."""
    found = served_model(sagemaker, name)
    if found is None:
        return None
    status, model = found
    return status, model_package_of(sagemaker, model) if model else None


def registered_target(autoscaling: Any, endpoint: str) -> dict[str, Any] | None:
    found = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[scaling_resource_id(endpoint)],
        ScalableDimension=SCALABLE_DIMENSION,
    )["ScalableTargets"]
    return found[0] if found else None


def describe(sagemaker: Any, name: str, cloudwatch: Any = None, autoscaling: Any = None) -> dict[str, Any]:
    """What a deployed endpoint serves now: status, config, model package (the ARN to deploy again to
    go back to it), instance type and count, and, given their clients, its scaling range and the
    states of the alarms that roll a deployment back."""
    current = serving(sagemaker, name)
    if current is None:
        raise DeployError(f"no endpoint {name!r} in this account and region")
    found: dict[str, Any] = {
        "endpoint": name,
        "status": current.status,
        "endpoint_config": current.endpoint_config,
        "model": current.model,
        "model_package": model_package_of(sagemaker, current.model),
        "instance_type": current.instance_type,
        "instance_count": current.instance_count,
        "capture_percent": current.capture_percent,
    }
    if current.capture_uri:
        found["capture_uri"] = current.capture_uri
    if current.failure_reason:
        found["failure_reason"] = current.failure_reason
    if autoscaling is not None:
        target = registered_target(autoscaling, name)
        found["autoscaling"] = (
            {"min": target["MinCapacity"], "max": target["MaxCapacity"]} if target else None
        )
    if cloudwatch is not None:
        alarms = cloudwatch.describe_alarms(AlarmNames=alarm_names(name))["MetricAlarms"]
        found["alarms"] = {a["AlarmName"]: a["StateValue"] for a in alarms}
    return found


#: The names ``deploy`` gives the models and endpoint configs it makes: ``<endpoint>-<name_suffix()>``.
_DEPLOYED = r"-\d{8}-\d{6}-\d{3}"
#: An endpoint in these states is changing; it is deleted once it is InService or Failed.
_CHANGING = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed")


def _deployed_for(sagemaker: Any, operation: str, key: str, name: str) -> list[str]:
    """The models or endpoint configs ``deploy`` made for endpoint ``name``."""
    made = re.compile(re.escape(name) + _DEPLOYED)
    pages = sagemaker.get_paginator(operation).paginate(NameContains=name)
    field = {"list_models": "Models", "list_endpoint_configs": "EndpointConfigs"}[operation]
    return sorted(item[key] for page in pages for item in page[field] if made.fullmatch(item[key]))


def delete(sagemaker: Any, cloudwatch: Any, autoscaling: Any, name: str) -> dict[str, Any]:
    """Take an endpoint down with what ``deploy`` made for it: the scalable target (its scaling policy
    goes with it), the rollback alarms, the endpoint, and the endpoint configs and models ``deploy``
    named after it (``<endpoint>-<timestamp>``: nothing else serves from them). The model packages stay
    in the registry, so deploying one again brings the endpoint back. A config or model the endpoint
    used under another name (made by the pipeline's own deploy step, say) is kept and reported. An
    endpoint that is changing (Creating, Updating, ...) is refused: delete it once it is InService or
    Failed."""
    endpoint = found_or_none(sagemaker.describe_endpoint, EndpointName=name)
    if endpoint is None:
        raise DeployError(f"no endpoint {name!r} in this account and region")
    status = endpoint["EndpointStatus"]
    if status in _CHANGING:
        raise DeployError(f"endpoint {name} is {status}; delete it once it is InService or Failed")
    serving_config = endpoint["EndpointConfigName"]
    config = found_or_none(sagemaker.describe_endpoint_config, EndpointConfigName=serving_config)
    used = {v["ModelName"] for v in (config or {}).get("ProductionVariants", [])}
    done: dict[str, Any] = {"endpoint": name, "status_before": status, "scalable_target": False}
    if registered_target(autoscaling, name):
        autoscaling.deregister_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=scaling_resource_id(name),
            ScalableDimension=SCALABLE_DIMENSION,
        )
        done["scalable_target"] = True
    alarms = [
        a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=alarm_names(name))["MetricAlarms"]
    ]
    if alarms:
        cloudwatch.delete_alarms(AlarmNames=alarms)
    done["alarms"] = alarms
    sagemaker.delete_endpoint(EndpointName=name)
    done["endpoint_configs"] = _deployed_for(sagemaker, "list_endpoint_configs", "EndpointConfigName", name)
    for config_name in done["endpoint_configs"]:
        sagemaker.delete_endpoint_config(EndpointConfigName=config_name)
    done["models"] = _deployed_for(sagemaker, "list_models", "ModelName", name)
    for model in done["models"]:
        sagemaker.delete_model(ModelName=model)
    kept = [serving_config, *sorted(used)]
    done["kept"] = [n for n in kept if n not in done["endpoint_configs"] and n not in done["models"]]
    return done


def wait_until_in_service(sagemaker: Any, name: str, poll_seconds: int, timeout_seconds: int) -> None:
    from botocore.exceptions import WaiterError

    try:
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=name,
            WaiterConfig={"Delay": poll_seconds, "MaxAttempts": max(1, timeout_seconds // poll_seconds)},
        )
    except WaiterError as err:
        reason = (err.last_response or {}).get("FailureReason") or err
        raise DeployError(f"endpoint {name} did not reach InService: {reason}") from err


def request_body(texts: Sequence[str | dict[str, str]], top_k: int = 1) -> bytes:
    """A request as ``scripts/inference.py`` reads it: each note a string (its transcription) or an
    object naming its text fields."""
    return json.dumps({"inputs": list(texts), "parameters": {"top_k": top_k}}).encode()


def check_answer(body: bytes, texts: int) -> list[dict[str, Any]]:
    """The endpoint's answer to ``texts`` texts: one ``{"label", "class_id", "score"}`` object each
    (``scripts/inference.py``'s contract); anything else raises ``DeployError`` saying what it got."""
    shown = body[:200].decode("utf-8", errors="replace")
    try:
        answer = json.loads(body)
    except ValueError as err:
        raise DeployError(f"the answer is not JSON ({err}): {shown!r}") from err
    if not isinstance(answer, list) or len(answer) != texts:
        raise DeployError(f"the answer should be a list of {texts} prediction(s); got {shown!r}")
    for item in answer:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("label"), str)
            and isinstance(item.get("class_id"), int)
            and isinstance(item.get("score"), (int, float))
            and 0 <= item["score"] <= 1
        )
        if not ok:
            raise DeployError(f"a prediction should hold label, class_id and a score in [0, 1]; got {item!r}")
    return answer


def invoke(runtime: Any, endpoint: str, body: bytes, inference_id: str | None = None) -> bytes:
    """POST ``body`` to a SageMaker endpoint; the handler's refusals (4xx, 5xx) raise ``DeployError``
    with the status and the handler's own message. ``inference_id`` goes with the request into the
    endpoint's data capture."""
    from botocore.exceptions import ClientError

    named = {"InferenceId": inference_id} if inference_id else {}
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType=JSON, Accept=JSON, Body=body, **named
        )
    except ClientError as err:
        info = err.response
        status = info.get("OriginalStatusCode") or info.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = info.get("OriginalMessage") or info.get("Error", {}).get("Message") or err
        raise DeployError(f"endpoint {endpoint} answered HTTP {status}: {message}") from err
    return response["Body"].read()


def smoke_inference_id() -> str:
    """The ``InferenceId`` of a smoke request: data capture keeps it, and the drift check leaves it out
    as a check of the deployment, not traffic (``capture.from_smoke``)."""
    from pipeline.capture import SMOKE_INFERENCE_PREFIX

    return f"{SMOKE_INFERENCE_PREFIX}{name_suffix()}"


def smoke_prediction(body: bytes) -> dict[str, Any]:
    """The answer to the smoke request (one text), checked: its label and score."""
    (prediction,) = check_answer(body, 1)
    return {"label": prediction["label"], "score": round(float(prediction["score"]), 4)}


def smoke_test(runtime: Any, endpoint: str, text: str = SMOKE_TEXT) -> dict[str, Any]:
    """One request through the serving contract; returns the prediction, raises ``DeployError``
    when the endpoint refuses it or answers with anything but a prediction."""
    try:
        return smoke_prediction(invoke(runtime, endpoint, request_body([text]), smoke_inference_id()))
    except DeployError as err:
        raise DeployError(f"endpoint {endpoint} is InService but failed its smoke request: {err}") from err


def _same_fleet(current: Serving, settings: DeploySettings, target: dict[str, Any] | None) -> bool:
    """Whether the endpoint's fleet is the one the settings ask for (autoscaling keeps the count), with
    the data capture they ask for (a new share needs a new endpoint config)."""
    if current.instance_type != settings.instance_type or current.capture_percent != settings.capture_percent:
        return False
    return settings.autoscales or (target is None and current.instance_count == settings.instance_count)


def _register_scaling(autoscaling: Any, settings: DeploySettings) -> dict[str, Any]:
    """Target tracking on the (InService) variant, as the settings ask; what was registered."""
    autoscaling.register_scalable_target(**scalable_target_request(settings))
    autoscaling.put_scaling_policy(**scaling_policy_request(settings))
    return {
        "min": settings.instance_count,
        "max": settings.max_instance_count,
        "invocations_per_instance": settings.invocations_per_instance,
    }


def _keep(
    cloudwatch: Any,
    autoscaling: Any | None,
    settings: DeploySettings,
    current: Serving,
    package: str,
    runtime: Any | None,
) -> dict[str, Any]:
    """The endpoint already serves the package on that fleet: settings only, no new config."""
    for alarm in alarm_requests(settings):
        cloudwatch.put_metric_alarm(**alarm)
    scaling: dict[str, Any] = {"deregistered": False}
    if settings.autoscales:
        scaling.update(_register_scaling(autoscaling, settings))
    done = {
        "action": "unchanged: it already serves this package on this fleet",
        "endpoint": settings.endpoint_name,
        "endpoint_config": current.endpoint_config,
        "model": current.model,
        "model_package": package,
        "previous_model_package": package,
        "instance_count": current.instance_count,
        "alarms": alarm_names(settings.endpoint_name),
        "autoscaling": scaling,
        "status": current.status,
    }
    if runtime is not None:
        done["smoke_test"] = smoke_test(runtime, settings.endpoint_name)
    return done


def deploy(
    sagemaker: Any,
    cloudwatch: Any,
    settings: DeploySettings,
    package_arn: str,
    autoscaling: Any | None = None,
    wait: bool = False,
    runtime: Any | None = None,
    poll_seconds: int = 30,
    timeout_seconds: int = 2 * 3600,
    force: bool = False,
) -> dict[str, Any]:
    """Create or update the endpoint to serve ``package_arn`` (which must be Approved).

    ``autoscaling`` is an Application Auto Scaling client: needed when the settings autoscale or a
    scalable target may be registered on the variant. Autoscaling implies ``wait`` (a target can only
    be registered on an InService endpoint). ``runtime`` (a SageMaker Runtime client) adds the smoke
    request once the endpoint is InService; it applies only when the deploy waits.

    An endpoint that already serves the package on the same fleet (instance type; the instance count,
    or autoscaling; the capture share) is left as it is: the alarms and the scaling registration are
    brought up to the settings, and no blue/green update runs. EventBridge delivers an approval event
    at least once, and re-approving a served version sends another; ``force`` updates anyway."""
    check_approved(sagemaker, package_arn)
    if settings.autoscales and autoscaling is None:
        raise DeployError("autoscaling needs an Application Auto Scaling client")
    current = serving(sagemaker, settings.endpoint_name)
    if current and current.status != "InService":
        advice = (
            f"delete it first (medtx endpoint delete --sagemaker --name {settings.endpoint_name})"
            if current.status == "Failed"
            else "deploy when it is InService (a deployment in progress finishes or rolls back by itself)"
        )
        raise DeployError(f"endpoint {settings.endpoint_name} is {current.status}; {advice}")
    target = registered_target(autoscaling, settings.endpoint_name) if current and autoscaling else None
    previous = model_package_of(sagemaker, current.model) if current else None
    start_count = settings.instance_count
    if current and settings.autoscales:  # keep what the variant has scaled to
        start_count = min(max(current.instance_count, settings.instance_count), settings.max_instance_count)

    if current and previous == package_arn and not force and _same_fleet(current, settings, target):
        return _keep(cloudwatch, autoscaling, settings, current, package_arn, runtime if wait else None)

    suffix = name_suffix()
    model = model_request(settings, package_arn, suffix)
    sagemaker.create_model(**model)
    config = endpoint_config_request(settings, model["ModelName"], suffix, start_count)
    sagemaker.create_endpoint_config(**config)
    for alarm in alarm_requests(settings):
        cloudwatch.put_metric_alarm(**alarm)
    scaling: dict[str, Any] = {"deregistered": False}
    # (a target is only looked up with an endpoint and an autoscaling client)
    if (
        target
        and current
        and autoscaling
        and (not settings.autoscales or current.instance_type != settings.instance_type)
    ):
        # UpdateEndpoint refuses a new instance type on a registered variant; without autoscaling in
        # the settings the target goes for good (its policies go with it)
        autoscaling.deregister_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=scaling_resource_id(settings.endpoint_name),
            ScalableDimension=SCALABLE_DIMENSION,
        )
        scaling["deregistered"] = True
    if current:
        sagemaker.update_endpoint(**update_request(settings, config["EndpointConfigName"]))
        action = "updated (blue/green, canary)"
    else:
        sagemaker.create_endpoint(
            EndpointName=settings.endpoint_name, EndpointConfigName=config["EndpointConfigName"]
        )
        action = "created"
    done = {
        "action": action,
        "endpoint": settings.endpoint_name,
        "endpoint_config": config["EndpointConfigName"],
        "model": model["ModelName"],
        "model_package": package_arn,
        "previous_model_package": previous,
        "instance_count": start_count,
        "alarms": alarm_names(settings.endpoint_name),
        "autoscaling": scaling,
    }
    if not (wait or settings.autoscales):
        return done
    wait_until_in_service(sagemaker, settings.endpoint_name, poll_seconds, timeout_seconds)
    if settings.autoscales:
        scaling.update(_register_scaling(autoscaling, settings))
    serves = sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)["EndpointConfigName"]
    if serves != config["EndpointConfigName"]:
        raise DeployError(
            f"the update of {settings.endpoint_name} rolled back: it still serves {serves} "
            f"(an alarm of {', '.join(alarm_names(settings.endpoint_name))} fired, or the new fleet failed; "
            "describe-endpoint and the alarms' history say which)"
        )
    done["status"] = "InService"
    if runtime is not None:
        try:
            done["smoke_test"] = smoke_test(runtime, settings.endpoint_name)
        except DeployError as err:
            if not current:
                raise
            back = (
                f"medtx deploy --model-package-arn {previous}"
                if previous
                else f"aws sagemaker update-endpoint --endpoint-name {settings.endpoint_name} "
                f"--endpoint-config-name {current.endpoint_config}"
            )
            raise DeployError(
                f"{err}. It now serves {config['EndpointConfigName']}; to go back: {back}"
            ) from err
    return done


def champion_files(package: dict[str, Any]) -> tuple[str, bytes]:
    """A deployed package's archive URI and the champion record (``champion.json``) naming it, as of
    now."""
    from scripts.medtx_config import champion_record

    model_data = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = champion_record(package["ModelPackageArn"], model_data, now)
    return model_data, (json.dumps(record, indent=2) + "\n").encode()


def record_champion(s3: Any, sagemaker: Any, package_arn: str, destination: str) -> str:
    """Copy the package's archive (server side) and its record to the champion folder
    ``destination`` (``s3://bucket/prefix``); returns the archive's new URI."""
    from scripts.medtx_config import CHAMPION_ARCHIVE, CHAMPION_RECORD

    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    model_data, record = champion_files(package)
    source_bucket, _, source_key = model_data.removeprefix("s3://").partition("/")
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    s3.copy({"Bucket": source_bucket, "Key": source_key}, bucket, f"{prefix}/{CHAMPION_ARCHIVE}")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{CHAMPION_RECORD}", Body=record)
    return f"s3://{bucket}/{prefix}/{CHAMPION_ARCHIVE}"
