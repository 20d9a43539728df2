"""Train step: ``scripts/train.py`` on the Hugging Face PyTorch training DLC through ``ModelTrainer``.

The SDK runs the entry script through its own driver (an ``sm_drivers`` input channel and a
``/bin/bash -c .../sm_train.sh`` entrypoint) and passes hyperparameters as ``--name value``. Its
driver folder is uploaded by ``ContentAddressedModelTrainer`` to a content-addressed key, so the
definition is reproducible (the SDK would use a timestamped job-name key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import PrivateAttr
from sagemaker.mlops.workflow import TrainingStep
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import (
    CheckpointConfig,
    Compute,
    InputData,
    MetricDefinition,
    Networking,
    OutputDataConfig,
    SourceCode,
    StoppingCondition,
)
from sagemaker.train.distributed import Torchrun

from pipeline.code_bundle import upload_folder
from scripts.medtx_config import MLM_METRICS, TRAINING_METRICS, metric_regex
from steps.common import CONTAINER_ENV, StepContext, training_image
from steps.preprocess import output_uri

NAME = "Train"
#: Training jobs are named ``huggingface-<suffix>`` (the reference layout's model folder names).
JOB_PREFIX = "huggingface"
#: The checkpoint folder in the container; SageMaker syncs it to the per-execution S3 prefix.
CHECKPOINT_DIR = "/opt/ml/checkpoints"


class ContentAddressedModelTrainer(ModelTrainer):
    """``ModelTrainer`` whose local code channels (the SDK driver) go to content-addressed keys."""

    _code_prefix: str = PrivateAttr(default="code")

    def create_input_data_channel(
        self, channel_name: str, data_source: Any, key_prefix: str | None = None, **kwargs: Any
    ):
        if isinstance(data_source, str) and Path(data_source).is_dir():
            data_source = upload_folder(
                self.sagemaker_session.boto_session.client("s3"),
                Path(data_source),
                self.sagemaker_session.default_bucket(),
                self._code_prefix,
                channel_name,
            )
        return super().create_input_data_channel(channel_name, data_source, key_prefix=key_prefix, **kwargs)


class PrefixedTrainingStep(TrainingStep):
    """``TrainingStep`` that keeps its job-name prefix in the definition.

    ``ModelTrainer`` drops the job name under a ``PipelineSession`` whatever the pipeline's
    ``use_custom_job_prefix`` says (processing steps keep theirs); the service then names the job
    ``pipelines-<execution>-Train-<suffix>``. With the prefix the job is ``huggingface-<suffix>``.
    """

    def __init__(self, *args: Any, job_prefix: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job_prefix = job_prefix

    @property
    def arguments(self):
        return {**super().arguments, "TrainingJobName": self.job_prefix}


def hyperparameters(ctx: StepContext) -> dict[str, Any]:
    """Strings or string parameters only: the service passes hyperparameters as strings."""
    p, t = ctx.params, ctx.config.train
    return {
        "model-name": p.model_name,
        "max-length": p.max_length,
        "epochs": p.epochs,
        "learning-rate": p.learning_rate,
        "train-batch-size": p.train_batch_size,
        "eval-batch-size": str(t.eval_batch_size),
        "warmup-ratio": str(t.warmup_ratio),
        "lr-scheduler": t.lr_scheduler,
        "layer-lr-decay": str(t.layer_lr_decay),
        "pooling": t.pooling,
        "chunk-loss": t.chunk_loss,
        "pad-to-multiple-of": str(t.pad_to_multiple_of),
        "precision": t.precision,
        "weight-decay": str(t.weight_decay),
        "label-smoothing": str(t.label_smoothing),
        "imbalance": t.imbalance,
        "mlm-epochs": str(t.mlm_epochs),
        "mlm-learning-rate": str(t.mlm_learning_rate),
        "mlm-probability": str(t.mlm_probability),
        "calibrate": str(t.calibrate).lower(),
        "seed": str(t.seed),
        "gradient-accumulation-steps": str(t.gradient_accumulation_steps),
        "group-by-length": str(t.group_by_length).lower(),
        "torch-compile": str(t.torch_compile).lower(),
        "dataloader-workers": str(t.dataloader_workers),
        "save-steps": str(t.save_steps),
        "logging-steps": str(t.logging_steps),
        "disable-tqdm": "true",
        "checkpoint-dir": CHECKPOINT_DIR,
    }


def metric_definitions() -> list[MetricDefinition]:
    """The training metrics SageMaker reads from the job's ``[metrics]`` lines (``TRAINING_METRICS``
    and, when the masked-language-model stage runs, ``MLM_METRICS``)."""
    names = [*TRAINING_METRICS.values(), *MLM_METRICS.values()]
    return [MetricDefinition(name=name, regex=metric_regex(name)) for name in names]


def build(ctx: StepContext, preprocess: Any) -> TrainingStep:
    p = ctx.params
    trainer = ContentAddressedModelTrainer(
        training_image=training_image(ctx),
        role=ctx.role,
        sagemaker_session=ctx.session,
        base_job_name=JOB_PREFIX,
        compute=Compute(
            instance_type=p.training_instance_type,
            instance_count=p.training_instance_count,
            volume_size_in_gb=ctx.config.volume_size_gb,
            volume_kms_key_id=ctx.config.kms_key_id,
            enable_managed_spot_training=ctx.config.spot_training or None,
        ),
        networking=Networking(
            enable_network_isolation=ctx.config.network_isolation_training,
            enable_inter_container_traffic_encryption=ctx.config.encrypt_inter_container_traffic,
            **ctx.vpc,
        ),
        source_code=SourceCode(source_dir=ctx.code["train"], entry_script="train.py"),
        distributed=Torchrun(),
        hyperparameters=hyperparameters(ctx),
        output_data_config=OutputDataConfig(
            s3_output_path=ctx.s3("models"), kms_key_id=ctx.config.kms_key_id
        ),
        checkpoint_config=CheckpointConfig(s3_uri=ctx.run_s3("checkpoints"), local_path=CHECKPOINT_DIR),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=ctx.config.max_training_seconds,
            max_wait_time_in_seconds=ctx.config.max_spot_wait_seconds if ctx.config.spot_training else None,
        ),
        environment=dict(CONTAINER_ENV),
    )
    trainer._code_prefix = ctx.config.code_prefix
    trainer.with_metric_definitions(metric_definitions())
    step_args = trainer.train(
        input_data_config=[
            InputData(channel_name="train", data_source=output_uri(preprocess, "train")),
            InputData(channel_name="test", data_source=output_uri(preprocess, "test")),
        ]
    )
    return PrefixedTrainingStep(
        name=NAME,
        description=(
            "Fine-tune the transformer (Hugging Face Trainer, class-weighted loss) on the training split; "
            "training metrics per epoch, checkpoints for spot restarts."
        ),
        step_args=step_args,
        cache_config=ctx.cache,
        retry_policies=ctx.job_retries,
        job_prefix=JOB_PREFIX,
    )
