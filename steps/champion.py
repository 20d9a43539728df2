"""RecordChampion step: after the pipeline's own Endpoint step, ``scripts/champion.py`` copies the
deployed archive and its package's ARN to the champion folder (``PipelineConfig.champion_uri``),
which the Evaluate step of later executions scores on the same rows as the model it evaluates.
"""

from __future__ import annotations

from typing import Any

from sagemaker.mlops.workflow import ProcessingStep

from steps.common import CODE_DIR, StepContext, processing_input, processing_output, script_processor

NAME = "RecordChampion"
OUT = "/opt/ml/processing/champion"


def build(ctx: StepContext, train: Any, register: Any, endpoint: Any) -> ProcessingStep:
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts
    processor = script_processor(
        ctx, "champion.py", ctx.params.processing_instance_type, "medtx-champion", isolated=True
    )
    step_args = processor.run(
        inputs=[
            processing_input("code", ctx.code["champion"], CODE_DIR),
            processing_input("model", model_data, "/opt/ml/processing/model"),
        ],
        outputs=[processing_output("champion", OUT, ctx.config.champion_uri())],
        arguments=[
            "--model",
            "/opt/ml/processing/model",
            "--model-data",
            model_data,
            "--model-package-arn",
            register.properties.ModelPackageArn,
            "--output-dir",
            OUT,
        ],
    )
    return ProcessingStep(
        name=NAME,
        description="Record the served archive and its package where the next Evaluate reads the champion.",
        step_args=step_args,
        depends_on=[endpoint],
        retry_policies=ctx.job_retries,
    )
