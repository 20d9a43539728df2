"""``medtx deploy``: put an approved model package on the endpoint, safely.

A new endpoint is created directly. An existing one is updated blue/green: the new endpoint config
gets a canary share of the traffic first, then all of it, and the service rolls back by itself when
one of the endpoint's CloudWatch alarms (5xx errors, model latency) fires during the shift. The alarms
are created (or updated) before the update starts. Requests are built by pure functions, so their
shapes are tested against the service model where moto does not implement the call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


class DeployError(ValueError):
    pass


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
        raise DeployError(f"no Approved model package in group {group!r}: approve one first")
    return found[0]["ModelPackageArn"]


def check_approved(client: Any, package_arn: str) -> dict[str, Any]:
    package = client.describe_model_package(ModelPackageName=package_arn)
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        raise DeployError(f"{package_arn} is {status}; only Approved packages are deployed")
    return package


def _suffix() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def model_request(settings: DeploySettings, package_arn: str, suffix: str) -> dict[str, Any]:
    return {
        "ModelName": f"{settings.endpoint_name}-{suffix}",
        "ExecutionRoleArn": settings.role_arn,
        "Containers": [{"ModelPackageName": package_arn}],
        "EnableNetworkIsolation": settings.network_isolation,
        "Tags": [{"Key": "model-package-arn", "Value": package_arn}],
    }


def endpoint_config_request(settings: DeploySettings, model_name: str, suffix: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "EndpointConfigName": f"{settings.endpoint_name}-{suffix}",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InstanceType": settings.instance_type,
                "InitialInstanceCount": settings.instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    if settings.kms_key_id:
        request["KmsKeyId"] = settings.kms_key_id
    return request


def alarm_names(endpoint: str) -> list[str]:
    return [f"{endpoint}-5xx-errors", f"{endpoint}-p99-model-latency"]


def alarm_requests(settings: DeploySettings) -> list[dict[str, Any]]:
    dimensions = [
        {"Name": "EndpointName", "Value": settings.endpoint_name},
        {"Name": "VariantName", "Value": "AllTraffic"},
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


def _endpoint_exists(client: Any, name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.describe_endpoint(EndpointName=name)
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return False
        raise


def deploy(sagemaker: Any, cloudwatch: Any, settings: DeploySettings, package_arn: str) -> dict[str, Any]:
    """Create or update the endpoint to serve ``package_arn`` (which must be Approved)."""
    check_approved(sagemaker, package_arn)
    suffix = _suffix()
    model = model_request(settings, package_arn, suffix)
    sagemaker.create_model(**model)
    config = endpoint_config_request(settings, model["ModelName"], suffix)
    sagemaker.create_endpoint_config(**config)
    for alarm in alarm_requests(settings):
        cloudwatch.put_metric_alarm(**alarm)
    if _endpoint_exists(sagemaker, settings.endpoint_name):
        sagemaker.update_endpoint(**update_request(settings, config["EndpointConfigName"]))
        action = "updated (blue/green, canary)"
    else:
        sagemaker.create_endpoint(
            EndpointName=settings.endpoint_name, EndpointConfigName=config["EndpointConfigName"]
        )
        action = "created"
    return {
        "action": action,
        "endpoint": settings.endpoint_name,
        "endpoint_config": config["EndpointConfigName"],
        "model": model["ModelName"],
        "model_package": package_arn,
        "alarms": alarm_names(settings.endpoint_name),
    }
