"""What every step builder receives: session, role, config, parameters, code location, policies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.mlops.workflow import (
    CacheConfig,
    SageMakerJobStepRetryPolicy,
    StepRetryPolicy,
)
from sagemaker.mlops.workflow.retry import SageMakerJobExceptionTypeEnum, StepExceptionTypeEnum

from pipeline.config import PipelineConfig

#: Where processing jobs find their step's code bundle inside their container.
CODE_DIR = "/opt/ml/processing/input/code"

#: Every container's environment (processing, training, the endpoint's model): the tokenizers' own
#: threads off (they fight the data loader's workers), and no progress bars from transformers
#: ("Loading weights"), the hub or datasets ("Saving the dataset", "Map"), which fill CloudWatch Logs
#: with carriage-return lines; the training loop's bar is off by its own argument (``disable-tqdm``).
CONTAINER_ENV = {
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}


@dataclass
class StepContext:
    """Shared inputs of the step builders (built once in ``pipeline.definition``)."""

    config: PipelineConfig
    session: Any  # PipelineSession
    role: str
    region: str
    params: Any  # pipeline.definition.Parameters
    #: Each step's code bundle by name (``pipeline.code_bundle.STEP_BUNDLES``): ``s3://.../<name>-<digest>/``.
    code: dict[str, str]

    def s3(self, *parts: str) -> str:
        """A stable key in the artifact bucket (what QuickSight reads)."""
        return "s3://" + "/".join([self.config.bucket, *(p.strip("/") for p in parts)])

    def run_s3(self, *parts: str) -> Join:
        """A per-execution key: no execution overwrites another's artifacts."""
        return Join(
            on="/",
            values=[
                f"s3://{self.config.bucket}/executions",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                *(p.strip("/") for p in parts),
            ],
        )

    @property
    def vpc(self) -> dict[str, list[str] | None]:
        """Subnets and security groups of every job and the endpoint model (None: no VPC)."""
        cfg = self.config
        return {
            "subnets": list(cfg.subnets) or None,
            "security_group_ids": list(cfg.security_group_ids) or None,
        }

    @property
    def cache(self) -> CacheConfig:
        return CacheConfig(enable_caching=True, expire_after=self.config.cache_expire_after)

    @property
    def service_retries(self) -> list:
        """Throttling and service faults: for every step, API calls (model, registry) included."""
        return [
            StepRetryPolicy(
                exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
                interval_seconds=10,
                backoff_rate=2.0,
                max_attempts=5,
            )
        ]

    @property
    def job_retries(self) -> list:
        """The service retries plus the job's own capacity, internal and resource-limit errors."""
        return [
            *self.service_retries,
            SageMakerJobStepRetryPolicy(
                exception_types=[
                    SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                    SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
                    SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
                ],
                interval_seconds=60,
                backoff_rate=2.0,
                max_attempts=3,
            ),
        ]


def _hf_image(ctx: StepContext, scope: str, version: str, pytorch: str, instance_type: str) -> str:
    from sagemaker.core import image_uris

    return image_uris.retrieve(
        "huggingface",
        region=ctx.region,
        version=version,
        base_framework_version=pytorch,
        py_version=ctx.config.hf_py_version,
        instance_type=instance_type,
        image_scope=scope,
    )


def training_image(ctx: StepContext) -> str:
    """The Hugging Face PyTorch training DLC (GPU builds only). Preprocess and Evaluate run in it
    too, on CPU instances: it carries the transformers/datasets the scripts are pinned to."""
    cfg = ctx.config
    return _hf_image(
        ctx, "training", cfg.hf_training_version, cfg.hf_training_pytorch, cfg.training_instance_type
    )


def inference_image(ctx: StepContext) -> str:
    cfg = ctx.config
    return _hf_image(
        ctx, "inference", cfg.hf_inference_version, cfg.hf_inference_pytorch, cfg.endpoint_instance_type
    )


def processing_input(name: str, s3_uri: Any, local_path: str):
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=s3_uri, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"
        ),
    )


def processing_output(name: str, local_path: str, s3_uri: Any):
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(s3_uri=s3_uri, local_path=local_path, s3_upload_mode="EndOfJob"),
    )


def network_config(ctx: StepContext, isolated: bool):
    """Isolation, VPC and inter-container encryption of a processing job (``PipelineConfig``)."""
    from sagemaker.core.network import NetworkConfig

    return NetworkConfig(
        enable_network_isolation=isolated,
        encrypt_inter_container_traffic=ctx.config.encrypt_inter_container_traffic,
        **ctx.vpc,
    )


def script_processor(ctx: StepContext, script: str, instance_type: Any, base_job_name: str, isolated: bool):
    """A plain ``Processor`` running ``python3 <CODE_DIR>/<script>`` from its step's code bundle."""
    from sagemaker.core.processing import Processor

    return Processor(
        role=ctx.role,
        image_uri=training_image(ctx),
        instance_count=1,
        instance_type=instance_type,
        entrypoint=["python3", f"{CODE_DIR}/{script}"],
        volume_size_in_gb=ctx.config.volume_size_gb,
        base_job_name=base_job_name,
        sagemaker_session=ctx.session,
        env={"PYTHONUNBUFFERED": "1", **CONTAINER_ENV},
        volume_kms_key=ctx.config.kms_key_id,
        output_kms_key=ctx.config.kms_key_id,
        network_config=network_config(ctx, isolated),
    )
