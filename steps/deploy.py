"""CheckDeploy -> EndpointConfig -> Endpoint -> RecordChampion: deploy when the ``DeployModel``
parameter is "true", then keep the deployed archive as the champion later evaluations compare with.

The endpoint step creates the endpoint when it does not exist and updates it (a new endpoint
config, blue/green by the service) when it does. Config names carry the execution id, so each
execution's config is its own and the previous one stays for rollback. With
``endpoint_capture_percent`` set, the config captures that share of the endpoint's answers (never the
requests) as ``medtx deploy`` does, to the same destination.
"""

from __future__ import annotations

from typing import Any

from sagemaker.core.helper.session_helper import production_variant
from sagemaker.core.workflow.conditions import ConditionEquals
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.mlops.workflow import ConditionStep, EndpointConfigStep, EndpointStep

from pipeline.deploy import capture_request
from steps import champion
from steps.common import StepContext

NAME = "CheckDeploy"
CONFIG_NAME = "EndpointConfig"
ENDPOINT_NAME = "Endpoint"


def build(ctx: StepContext, create_model: Any, train: Any, register: Any) -> ConditionStep:
    p, cfg = ctx.params, ctx.config
    capture = (
        capture_request(cfg.endpoint_capture_percent, cfg.endpoint_capture_uri(), cfg.kms_key_id)
        if cfg.endpoint_capture_percent
        else None
    )
    config_name = Join(on="-", values=[cfg.endpoint_name, ExecutionVariables.PIPELINE_EXECUTION_ID])
    config_args = ctx.session.create_endpoint_config(
        name=config_name,
        kms_key=cfg.kms_key_id,
        production_variants=[
            production_variant(
                model_name=create_model.properties.ModelName,
                instance_type=p.endpoint_instance_type,
                initial_instance_count=cfg.endpoint_instance_count,
            )
        ],
        data_capture_config_dict=capture,
    )
    config_step = EndpointConfigStep(
        name=CONFIG_NAME,
        description="Endpoint configuration: the model, EndpointInstanceType, data capture.",
        step_args=config_args,
        retry_policies=ctx.service_retries,
    )
    endpoint_args = ctx.session.create_endpoint(
        endpoint_name=cfg.endpoint_name, config_name=config_step.properties.EndpointConfigName
    )
    endpoint_step = EndpointStep(
        name=ENDPOINT_NAME,
        description="Create the endpoint, or update it to the new configuration.",
        step_args=endpoint_args,
    )
    record = champion.build(ctx, train, register, endpoint_step)
    return ConditionStep(
        name=NAME,
        description=(
            "Deploy from the pipeline only when DeployModel is true (the stack deploys a version when "
            "it is approved)."
        ),
        conditions=[ConditionEquals(left=p.deploy_model, right="true")],
        if_steps=[config_step, endpoint_step, record],
        else_steps=[],
    )
