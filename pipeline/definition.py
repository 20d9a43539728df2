"""Assemble the SageMaker pipeline from the step modules (``steps/``). The DAG::

    Preprocess -> Train -> Evaluate -> CheckQuality
        --if-->   RegisterModel
                  CreateModel -> CheckDeploy --if--> EndpointConfig -> Endpoint -> RecordChampion
        --else--> QualityGateFailed (FailStep)

``get_pipeline(region=..., role=..., default_bucket=..., **overrides)`` is the one entry point that
CodeBuild, Studio notebooks, the CLI and the local runner call.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from pipeline.config import (
    ENV_BUCKET,
    ENV_KMS,
    ENV_ROLE,
    GATE_THRESHOLDS,
    PipelineConfig,
    aws_region,
    flat_settings,
    from_env,
)


def prepare_sdk_environment(region: str) -> None:
    """Settings the SDK reads at import or call time (see docs/pipeline.md, "SDK notes").

    Telemetry is left to the user's SDK config: with any config file present the SDK validates it
    against its JSON schema on each of ~80 look-ups while building this pipeline (~30 s), so this
    project does not write one for them.
    """
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    # ModelTrainer otherwise calls iam:SimulatePrincipalPolicy on the role, which build roles
    # (and offline builds) usually cannot; the role is validated when the job starts anyway.
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")


#: Set, the SDK's own log lines and warnings show while building (as tracebacks show on an error).
ENV_DEBUG = "MEDTX_DEBUG"


@contextlib.contextmanager
def quiet_sdk() -> Iterator[None]:
    """Build and upsert without the SDK's logging: ~50 lines of INFO and DEBUG records (credentials and
    endpoints found, telemetry, "Model has been created" for a model it did not create, fields it pops)
    and UserWarnings, from ``logging.basicConfig(level=INFO)`` that one of its modules runs on import.
    The root logger is left as it was, so later AWS calls stay quiet too; ``MEDTX_DEBUG=1`` keeps it all.
    """
    if os.environ.get(ENV_DEBUG):
        yield
        return
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
        root.handlers[:] = handlers
        root.setLevel(level)


#: The parameter that names the input's contents, so the Preprocess step's cache sees new data.
INPUT_VERSION = "InputDataVersion"
#: Its default: an execution whose starter named no version (a rule with fixed parameters).
UNVERSIONED = "unversioned"
#: The parameter that names the commit the running definition was upserted from, recorded on the
#: model package (``medtx start`` and ``run`` fill it in; the definition itself stays free of it, so
#: two builds of one commit are byte-identical and a push that changes nothing changes no definition).
SOURCE_COMMIT = "SourceCommit"
#: Its default: an execution whose starter named no commit (Studio, a rule with fixed parameters).
UNRECORDED = "unrecorded"


@dataclass(frozen=True)
class SettingParameter:
    """A pipeline parameter whose default is a setting (by its ``--set`` name): its type in the
    definition (``String`` reaches the jobs as hyperparameters and script arguments, which SageMaker
    passes as strings) and, for a string, the values it allows (none: any)."""

    setting: str
    kind: str = "String"
    allowed: tuple[str, ...] = ()


#: The parameters whose defaults are settings, in the definition's order (``Parameters.from_config``):
#: an execution's ``--param Name=Value``, or a local run's profile, overrides them without a new
#: definition. ``medtx config`` shows which setting each one is the default of.
SETTING_PARAMETERS: dict[str, SettingParameter] = {
    "ProcessingInstanceType": SettingParameter("processing_instance_type"),
    "TrainingInstanceType": SettingParameter("training_instance_type"),
    "TrainingInstanceCount": SettingParameter("training_instance_count", "Integer"),
    "EvaluationInstanceType": SettingParameter("evaluation_instance_type"),
    "ModelName": SettingParameter("train__model_name"),
    "MaxLength": SettingParameter("train__max_length"),
    "Epochs": SettingParameter("train__epochs"),
    "LearningRate": SettingParameter("train__learning_rate"),
    "TrainBatchSize": SettingParameter("train__train_batch_size"),
    "MinClassSamples": SettingParameter("data__min_class_samples"),
    "MinMacroF1": SettingParameter("min_macro_f1", "Float"),
    "MinBaselineMargin": SettingParameter("min_baseline_margin", "Float"),
    "MinChampionMargin": SettingParameter("min_champion_margin", "Float"),
    "MinBehaviourAgreement": SettingParameter("min_behaviour_agreement", "Float"),
    "ModelApprovalStatus": SettingParameter(
        "model_approval_status", allowed=("PendingManualApproval", "Approved", "Rejected")
    ),
    "DeployModel": SettingParameter("deploy_model", allowed=("true", "false")),
    "EndpointInstanceType": SettingParameter("endpoint_instance_type"),
}
#: Each of those settings and the parameter it is the default of.
PARAMETER_OF_SETTING: dict[str, str] = {spec.setting: name for name, spec in SETTING_PARAMETERS.items()}


@dataclass
class Parameters:
    """The pipeline parameters an engineer changes between executions (defaults from the config):
    the input's URI and version, one per ``SETTING_PARAMETERS`` entry, named as its setting without
    the group (``train__epochs``: ``epochs``), and the commit the definition was upserted from."""

    input_data_uri: Any
    input_data_version: Any
    processing_instance_type: Any
    training_instance_type: Any
    training_instance_count: Any
    evaluation_instance_type: Any
    model_name: Any
    max_length: Any
    epochs: Any
    learning_rate: Any
    train_batch_size: Any
    min_class_samples: Any
    min_macro_f1: Any
    min_baseline_margin: Any
    min_champion_margin: Any
    min_behaviour_agreement: Any
    model_approval_status: Any
    deploy_model: Any
    endpoint_instance_type: Any
    source_commit: Any

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> Parameters:
        from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString

        values = flat_settings(cfg)

        def parameter(name: str, spec: SettingParameter) -> Any:
            value = values[spec.setting]
            if spec.kind == "Integer":
                return ParameterInteger(name, value)
            if spec.kind == "Float":
                return ParameterFloat(name, value)
            return ParameterString(name, _text(value), enum_values=list(spec.allowed) or None)

        return cls(
            input_data_uri=ParameterString("InputDataUri", cfg.input_data_uri),
            # filled in by ``medtx start``/``run`` (``aws.input_data_version``) unless given
            input_data_version=ParameterString(INPUT_VERSION, UNVERSIONED),
            **{
                spec.setting.split("__")[-1]: parameter(name, spec)
                for name, spec in SETTING_PARAMETERS.items()
            },
            # filled in by ``medtx start``/``run`` (``aws.with_source_commit``) unless given
            source_commit=ParameterString(SOURCE_COMMIT, UNRECORDED),
        )

    def as_list(self) -> list:
        return [getattr(self, f.name) for f in fields(self)]


#: Parameters the definition types as strings (they reach the jobs as hyperparameters and script
#: arguments, which SageMaker passes as strings) that must nevertheless hold a positive number. Neither
#: SageMaker nor the local runner checks a string's content, so a bad value would fail the job it
#: reaches, after the steps before it ran; ``check_parameter_values`` refuses it before a start.
NUMERIC_STRING_PARAMETERS: dict[str, type] = {
    "MaxLength": int,
    "Epochs": float,
    "LearningRate": float,
    "TrainBatchSize": int,
    "MinClassSamples": int,
}

#: Parameters the RegisterModel step records on the package (``steps.register.lineage_properties``):
#: CreateModelPackage takes a ``CustomerMetadataProperties`` value of 1 to 256 letters, digits, spaces
#: and ``_.:/=+-@``, so a value outside that would fail the execution at RegisterModel, after training.
RECORDED_PARAMETERS = ("InputDataUri", INPUT_VERSION, "ModelName", SOURCE_COMMIT)
_RECORDABLE = re.compile(r"[\w\s.:/=+\-@]{1,256}")


def recordable(value: str) -> bool:
    """Whether the model package can record ``value`` (``RECORDED_PARAMETERS``)."""
    return bool(_RECORDABLE.fullmatch(value))


def unknown_parameters(definition: dict[str, Any], names: Iterable[str]) -> str | None:
    """The error message for ``names`` the definition does not declare, or ``None`` when all are."""
    declared = sorted(p["Name"] for p in definition.get("Parameters", []))
    unknown = sorted(set(names) - set(declared))
    if not unknown:
        return None
    return f"unknown pipeline parameter(s) {', '.join(unknown)}; known: {', '.join(declared)}"


def check_parameter_values(values: dict[str, str]) -> None:
    """One ``ValueError`` naming every number parameter in ``values`` that does not hold a positive
    number of its kind (``Epochs=abc``, ``TrainBatchSize=0``, ``MaxLength=12.5``), every gate
    threshold outside its range (``MinMacroF1=40``), and every recorded parameter the model package
    would refuse (``InputDataVersion=``, an S3 key with a comma)."""
    bad = []
    for name, kind in NUMERIC_STRING_PARAMETERS.items():
        if name not in values:
            continue
        try:
            number = kind(values[name])
        except ValueError:
            number = None
        if number is None or not (math.isfinite(number) and number > 0):
            what = "integer" if kind is int else "number"
            bad.append(f"{name}={values[name]!r} (a positive {what})")
    for name, (_, low, high) in GATE_THRESHOLDS.items():
        if name not in values:
            continue
        try:
            threshold = float(values[name])
        except ValueError:
            threshold = math.nan
        if not low <= threshold <= high:  # NaN fails too
            bad.append(f"{name}={values[name]!r} (a number from {low:g} to {high:g})")
    for name in RECORDED_PARAMETERS:
        if name in values and not recordable(values[name]):
            bad.append(
                f"{name}={values[name]!r} (recorded on the model package: 1 to 256 letters, digits, "
                "spaces and _.:/=+-@)"
            )
    if bad:
        raise ValueError(f"pipeline parameter value(s) not valid: {'; '.join(bad)}")


def _text(value: Any) -> str:
    """A setting as a string parameter's default: ``True`` -> ``"true"``, ``3.0`` -> ``"3"``, ``5e-05``
    stays (a readable number), anything else as ``str`` gives it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def resolve_target(
    region: str | None, role: str | None, default_bucket: str | None, cfg: PipelineConfig
) -> tuple[str, str, str]:
    """Region, role and bucket from the arguments, else the environment (the region also from the AWS
    profile); a clear error if missing."""
    region = aws_region(region)
    role = from_env(ENV_ROLE, role)
    bucket = from_env(ENV_BUCKET, default_bucket) or cfg.bucket
    if not (region and role):
        missing = [
            name
            for name, value in (
                ("region (AWS_REGION, or the AWS profile's)", region),
                (f"role ({ENV_ROLE})", role),
            )
            if not value
        ]
        raise ValueError(f"missing {', '.join(missing)}: pass it as an argument or set the variable")
    return region, role, bucket


#: The champion folder holds this before any model is served: the Evaluate step's input must not be
#: empty (SageMaker refuses an input prefix without objects).
CHAMPION_README = "README.txt"


def mark_champion_folder(s3: Any, cfg: PipelineConfig) -> None:
    """Write the README of ``cfg.champion_uri()``, so the Evaluate step's champion input exists before a
    model is served (its ``model.tar.gz`` comes with the first deployment)."""
    s3.put_object(
        Bucket=cfg.bucket,
        Key=f"{cfg.champion_prefix}/{cfg.endpoint_name}/{CHAMPION_README}",
        Body=(
            "The archive of the model endpoint "
            f"{cfg.endpoint_name} serves (model.tar.gz, champion.json), written by the pipeline's "
            "deploy branch and by medtx deploy; the Evaluate step scores it on the same rows.\n"
        ).encode(),
    )


def get_pipeline(
    region: str | None = None,
    role: str | None = None,
    default_bucket: str | None = None,
    pipeline_name: str | None = None,
    boto_session: Any = None,
    config: PipelineConfig | None = None,
    **overrides: Any,
):
    """Build the pipeline. ``overrides`` replace ``PipelineConfig`` fields (``train__epochs=5``).

    Uploads each step's bundle of ``scripts/`` (content-addressed) to the bucket; nothing else touches
    AWS.
    """
    cfg = (config or PipelineConfig()).replace(**overrides)
    region, role, bucket = resolve_target(region, role, default_bucket, cfg)
    cfg = cfg.replace(bucket=bucket, **({"pipeline_name": pipeline_name} if pipeline_name else {}))
    if bool(cfg.subnets) != bool(cfg.security_group_ids):
        raise ValueError("give both subnets and security_group_ids for a VPC, or neither")
    cfg = cfg.replace(kms_key_id=from_env(ENV_KMS, cfg.kms_key_id))  # the config's, else the environment's
    prepare_sdk_environment(region)

    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.pipeline_definition_config import PipelineDefinitionConfig
    from sagemaker.mlops.workflow import Pipeline

    from pipeline.code_bundle import upload_step_bundles
    from steps import deploy, evaluate, preprocess, quality_gate, register, train
    from steps.common import StepContext

    boto_session = boto_session or boto3.Session(region_name=region)
    session = PipelineSession(boto_session=boto_session, default_bucket=bucket)
    s3 = boto_session.client("s3")
    code = upload_step_bundles(s3, bucket, cfg.code_prefix)
    mark_champion_folder(s3, cfg)
    ctx = StepContext(
        config=cfg,
        session=session,
        role=role,
        region=region,
        params=Parameters.from_config(cfg),
        code=code,
    )
    preprocess_step = preprocess.build(ctx)
    train_step = train.build(ctx, preprocess_step)
    evaluate_step = evaluate.build(ctx, preprocess_step, train_step)
    register_step, create_step = register.build(ctx, preprocess_step, train_step, evaluate_step)
    deploy_step = deploy.build(ctx, create_step, train_step, register_step)
    gate = quality_gate.build(ctx, evaluate_step, [register_step, create_step, deploy_step])
    return Pipeline(
        name=cfg.pipeline_name,
        parameters=ctx.params.as_list(),
        steps=[preprocess_step, train_step, evaluate_step, gate],
        sagemaker_session=session,
        # Keep the job-name prefixes (``huggingface``, ``medtx-preprocess``, ...) in the definition:
        # SageMaker then names the jobs ``<prefix>-<suffix>``, so model archives land under
        # ``models/huggingface-*/output/`` as in the reference layout.
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=True),
    )
