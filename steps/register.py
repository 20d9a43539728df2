"""RegisterModel and CreateModel steps (ModelStep) on the Hugging Face inference DLC.

The model archive already carries the endpoint handler in ``code/`` (``scripts/train.py`` puts it
there), so neither step needs a repack job. The package's model-quality metrics point at this
execution's ``evaluation.json``, which the Model Registry shows, and its model card
(``steps/model_card.py``) says what the version is for, how it was trained and how it did. The model
CreateModel makes carries the package's ARN in its environment (``PACKAGE_ENV``): an endpoint the
pipeline deploys serves that model, and ``medtx endpoint status`` / ``models list`` name its version
from it.
"""

from __future__ import annotations

import tempfile
from typing import Any

from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.training.configs import Networking
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.mlops.workflow import ModelStep
from sagemaker.serve.model_builder import ModelBuilder

from pipeline.deploy import PACKAGE_ENV
from steps import model_card
from steps.common import CONTAINER_ENV, StepContext, inference_image
from steps.evaluate import evaluation_json_uri

REGISTER_NAME = "RegisterModel"
CREATE_NAME = "CreateModel"
CONTENT_TYPE = "application/json"


def model_builder(
    ctx: StepContext, train: Any, model_path: str, environment: dict[str, Any] | None = None
) -> ModelBuilder:
    builder = ModelBuilder(
        image_uri=inference_image(ctx),
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        role_arn=ctx.role,
        sagemaker_session=ctx.session,
        model_path=model_path,  # the SDK makes a random /tmp folder otherwise
        env_vars={
            **CONTAINER_ENV,
            "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
            # the endpoint's limits and arithmetic (scripts/inference.py reads them back)
            **ctx.config.container.inference.environment(),
            **(environment or {}),
        },
        network=Networking(
            enable_network_isolation=ctx.config.network_isolation_endpoint,
            **ctx.vpc,
        ),
    )
    # The model name is a prefix the service completes (``use_custom_job_prefix``); without it the
    # SDK draws a random ``model-<uuid>`` and the definition would change on every build.
    builder.model_name = ctx.config.endpoint_name
    return builder


def lineage_properties(ctx: StepContext) -> dict[str, Any]:
    """What a version is made of, on the package itself (``CustomerMetadataProperties``: Studio's
    Model Registry shows them, ``medtx models show`` prints them): the data and its version, the base
    model, the code (``CodeBundle``: Train's bundle, which trained the model and is its endpoint
    handler; ``EvaluationCodeBundle``: the one that measured it), the commit the definition was
    upserted from (``SourceCommit``) and the execution. Every value is non-empty, as the API
    requires."""
    p = ctx.params
    return {
        "InputDataUri": p.input_data_uri,
        "InputDataVersion": p.input_data_version,
        "BaseModel": p.model_name,
        "CodeBundle": ctx.code["train"].rstrip("/"),
        "EvaluationCodeBundle": ctx.code["evaluate"].rstrip("/"),
        "SourceCommit": p.source_commit,
        "PipelineExecutionId": ExecutionVariables.PIPELINE_EXECUTION_ID,
    }


def build(ctx: StepContext, preprocess: Any, train: Any, evaluate: Any) -> tuple[ModelStep, ModelStep]:
    p = ctx.params
    lineage = lineage_properties(ctx)
    with tempfile.TemporaryDirectory() as model_path:
        builder = model_builder(ctx, train, model_path)
        register_args = builder.register(
            model_package_group_name=ctx.config.model_package_group,
            approval_status=p.model_approval_status,
            content_types=[CONTENT_TYPE],
            response_types=[CONTENT_TYPE],
            inference_instances=[ctx.config.endpoint_instance_type],
            transform_instances=[ctx.config.endpoint_instance_type],
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    s3_uri=evaluation_json_uri(evaluate), content_type=CONTENT_TYPE
                )
            ),
            description="Medical-specialty classifier of transcripts (medtx)",
            customer_metadata_properties=lineage,
            domain="NATURAL_LANGUAGE_PROCESSING",
            task="CLASSIFICATION",
            model_card=model_card.build(ctx, preprocess, train, evaluate, lineage),
        )
        register = ModelStep(
            name=REGISTER_NAME,
            description=(
                "A model package version of the archive: its evaluation metrics, what it is made of, "
                "the approval status the ModelApprovalStatus parameter gives."
            ),
            step_args=register_args,
            retry_policies=ctx.service_retries,
        )
        # the package registered from the same archive, so the endpoint names the version it serves
        registered = {PACKAGE_ENV: register.properties.ModelPackageArn}
        create = ModelStep(
            name=CREATE_NAME,
            description="The SageMaker model of the same archive, naming the package version it serves.",
            step_args=model_builder(ctx, train, model_path, registered).build(),
            retry_policies=ctx.service_retries,
        )
    return register, create
