"""Evaluate step: ``scripts/evaluate.py`` in a ProcessingStep; ``evaluation.json`` is a PropertyFile.

Reads the model archive of the Train step, the validation/pre-processed CSVs of this execution's
Preprocess step, and the champion folder (``PipelineConfig.champion_uri``: the archive of the model
the endpoint serves, scored on the same rows; only a README until a model is served). Dashboard
files are also published to ``preprocess/pre-processed/eval/``, and the evaluation's headline as
one row to ``history/evaluations/<execution id>/evaluation-summary.csv`` (the figures over
retrainings).

Not cached: SageMaker keys a step's cache on its arguments, not on its inputs' contents, so a cached
Evaluate behind a cached Train would hand the gate the comparison with whichever model was served
when the step first ran. Evaluating again costs minutes of one instance; a stale gate decision costs a
worse model in production.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow import ProcessingStep

from pipeline.config import EVALUATION_HISTORY_PREFIX, EvalConfig
from steps.common import CODE_DIR, StepContext, processing_input, processing_output, script_processor
from steps.preprocess import output_uri

NAME = "Evaluate"
OUT = "/opt/ml/processing/evaluation"
PUBLISH = "/opt/ml/processing/publish"
HISTORY = "/opt/ml/processing/history"
CHAMPION = "/opt/ml/processing/champion"
REPORT = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")


def build(ctx: StepContext, preprocess: Any, train: Any) -> ProcessingStep:
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts
    processor = script_processor(
        ctx,
        "evaluate.py",
        ctx.params.evaluation_instance_type,
        "medtx-evaluate",
        isolated=ctx.config.network_isolation_evaluation,
    )
    step_args = processor.run(
        inputs=[
            processing_input("code", ctx.code["evaluate"], CODE_DIR),
            processing_input("model", model_data, "/opt/ml/processing/model"),
            processing_input("validation", output_uri(preprocess, "eval"), "/opt/ml/processing/validation"),
            processing_input(
                "pre-processed", output_uri(preprocess, "pre-processed"), "/opt/ml/processing/pre-processed"
            ),
            processing_input("champion", ctx.config.champion_uri(), CHAMPION),
        ],
        outputs=[
            processing_output("evaluation", OUT, ctx.run_s3("evaluation")),
            processing_output("publish", PUBLISH, ctx.s3("preprocess", "pre-processed", "eval")),
            processing_output(
                "history",
                HISTORY,
                Join(
                    on="/",
                    values=[ctx.s3(EVALUATION_HISTORY_PREFIX), ExecutionVariables.PIPELINE_EXECUTION_ID],
                ),
            ),
        ],
        arguments=[
            "--model",
            "/opt/ml/processing/model",
            # what was evaluated: the archive (a champion recorded as this archive is not scored
            # again) and the data it was trained on (a Train cache hit implies the same version)
            "--model-data",
            model_data,
            "--input-version",
            ctx.params.input_data_version,
            "--validation",
            "/opt/ml/processing/validation",
            "--train-data",
            "/opt/ml/processing/pre-processed",
            "--champion",
            CHAMPION,
            "--output-dir",
            OUT,
            "--publish-dir",
            PUBLISH,
            "--history-dir",
            HISTORY,
            "--execution-id",
            ExecutionVariables.PIPELINE_EXECUTION_ID,
            *evaluation_settings(ctx.config.container.evaluate),
            # the forward pass's arithmetic is the endpoint's, so the gate judges what is served
            "--precision",
            ctx.config.container.inference.precision,
        ],
    )
    return ProcessingStep(
        name=NAME,
        description=(
            "Batched inference on the validation split: macro-F1 with bootstrap intervals, per-class "
            "metrics, confusion matrix, against the TF-IDF baseline and the served model on the same rows."
        ),
        step_args=step_args,
        property_files=[REPORT],
        retry_policies=ctx.job_retries,
    )


def evaluation_settings(cfg: EvalConfig) -> list[str]:
    """Every ``EvalConfig`` field as ``scripts/evaluate.py``'s flag (``--baseline-ngram-max 2``...; a
    tuple as its comma-separated items)."""

    def value(v: object) -> str:
        return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)

    return [a for f in fields(cfg) for a in (f"--{f.name.replace('_', '-')}", value(getattr(cfg, f.name)))]


def evaluation_json_uri(step: ProcessingStep) -> Join:
    return Join(
        on="/",
        values=[
            step.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            "evaluation.json",
        ],
    )
