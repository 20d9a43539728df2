"""Preprocess step: ``scripts/preprocess.py`` in a ProcessingStep.

Outputs go to a per-execution prefix (``executions/<id>/preprocess/...``, what the next steps read)
and, through ``--publish-dir``, to the stable keys QuickSight reads: ``preprocess/train/``,
``preprocess/test/``, ``preprocess/pre-processed/pre-processed.csv`` and
``preprocess/pre-processed/eval/validation.csv``.
"""

from __future__ import annotations

from sagemaker.mlops.workflow import ProcessingStep

from steps.common import CODE_DIR, StepContext, processing_input, processing_output, script_processor

NAME = "Preprocess"
OUT = "/opt/ml/processing/output"
PUBLISH = "/opt/ml/processing/publish"
#: Output name -> subfolder of ``--output-dir``.
OUTPUTS = ("train", "test", "pre-processed", "eval", "report")


def build(ctx: StepContext) -> ProcessingStep:
    p, t = ctx.params, ctx.config.train
    processor = script_processor(
        ctx,
        "preprocess.py",
        p.processing_instance_type,
        "medtx-preprocess",
        isolated=ctx.config.network_isolation_preprocess,
    )
    outputs = [processing_output(name, f"{OUT}/{name}", ctx.run_s3("preprocess", name)) for name in OUTPUTS]
    outputs.append(processing_output("publish", PUBLISH, ctx.s3("preprocess")))
    step_args = processor.run(
        inputs=[
            processing_input("code", ctx.code["preprocess"], CODE_DIR),
            processing_input("raw", p.input_data_uri, "/opt/ml/processing/input/data"),
        ],
        outputs=outputs,
        arguments=[
            "--input",
            "/opt/ml/processing/input/data",
            # SageMaker's cache key holds the input's URI, not its contents: the version makes data
            # replaced at the same key a cache miss (``medtx start`` fills it in)
            "--input-version",
            p.input_data_version,
            "--output-dir",
            OUT,
            "--publish-dir",
            PUBLISH,
            "--model-name",
            p.model_name,
            "--max-length",
            p.max_length,
            "--long-text",
            t.long_text,
            "--head-tokens",
            str(t.head_tokens),
            "--chunk-stride",
            str(t.chunk_stride),
            "--max-chunks",
            str(t.max_chunks),
            "--drop-line-break-commas",
            str(t.drop_line_break_commas).lower(),
            "--headings-window",
            str(t.headings_window).lower(),
            "--fields-window",
            str(t.fields_window).lower(),
            "--min-class-samples",
            p.min_class_samples,
            "--num-classes",
            str(ctx.config.data.num_classes or 0),
            "--drop-document-types",
            str(ctx.config.data.drop_document_types).lower(),
            "--validation-fraction",
            str(ctx.config.data.validation_fraction),
            "--split-seed",
            str(ctx.config.data.split_seed),
            "--text-fields",
            ",".join(ctx.config.data.text_fields),
        ],
    )
    return ProcessingStep(
        name=NAME,
        description=(
            "Clean the raw CSV (every removed row counted by reason), keep the classes with enough rows, "
            "split train/validation with no note on both sides, tokenize, class weights; data report and "
            "EDA dataset."
        ),
        step_args=step_args,
        cache_config=ctx.cache,
        retry_policies=ctx.job_retries,
    )


def output_uri(step: ProcessingStep, name: str):
    return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri
