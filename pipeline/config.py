"""The one typed configuration: every default of the pipeline, in one place.

``PipelineConfig`` nests the container-side settings (``scripts/medtx_config.py``, shipped with the
scripts so they run without this package) and adds the AWS-side ones. Pipeline parameters take their
defaults from here; ``get_pipeline(**overrides)`` and ``medtx ... --set name=value`` replace fields.
Nothing account-specific (account id, role, region) has a default: those come from arguments or the
environment (as CodeBuild passes them).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from typing import Any

from scripts.medtx_config import (
    OFFLINE_MODEL_NAME,
    SAGEMAKER_MODEL_NAME,
    ContainerConfig,
    DataConfig,
    EvalConfig,
    InferenceConfig,
    TrainConfig,
)

__all__ = [
    "LOCAL_PROFILES",
    "OFFLINE_MODEL_NAME",
    "SAGEMAKER_MODEL_NAME",
    "ContainerConfig",
    "DataConfig",
    "EvalConfig",
    "InferenceConfig",
    "LocalProfile",
    "ModelCardConfig",
    "PipelineConfig",
    "TrainConfig",
]

#: Environment variables read when an argument is not given (CodeBuild sets these from the stack).
ENV_ROLE = "SAGEMAKER_PIPELINE_ROLE_ARN"
ENV_BUCKET = "ARTIFACT_BUCKET"
ENV_REGION = ("AWS_REGION", "AWS_DEFAULT_REGION")
ENV_KMS = "PIPELINE_KMS_KEY_ID"
#: Where the Evaluate step writes each execution's one-row ``evaluation-summary.csv`` (under
#: ``<prefix><execution id>/``), and what QuickSight reads as the figures over retrainings.
EVALUATION_HISTORY_PREFIX = "history/evaluations/"


#: The groups of ``group__name`` settings: the container's, and the model card's.
_GROUPS = ("data", "train", "evaluate", "inference", "model_card")

#: Where the quality gate reads the baseline margin (``PipelineConfig.baseline_margin_from``).
BASELINE_MARGIN_SOURCES = ("estimate", "interval_low")
#: The quality gate's thresholds: pipeline parameter -> (``PipelineConfig`` field, lowest, highest).
#: SageMaker checks only that a Float parameter is a number, so a share given in percent
#: (``MinMacroF1=40``) would fail every execution at the gate, after training: the config refuses
#: such a default, ``definition.check_parameter_values`` such a value before a start.
GATE_THRESHOLDS: dict[str, tuple[str, float, float]] = {
    "MinMacroF1": ("min_macro_f1", 0.0, 1.0),
    "MinBaselineMargin": ("min_baseline_margin", -1.0, 1.0),
    "MinChampionMargin": ("min_champion_margin", -1.0, 1.0),
    "MinBehaviourAgreement": ("min_behaviour_agreement", 0.0, 1.0),
}


#: ``ModelCardStatus`` values the Model Registry accepts.
MODEL_CARD_STATUSES = ("Draft", "PendingReview", "Approved", "Archived")
#: A model card's ``risk_rating`` values.
RISK_RATINGS = ("High", "Medium", "Low", "Unknown")


@dataclass(frozen=True)
class ModelCardConfig:
    """What the model card of every registered version says besides its figures (the Register step
    adds the training and evaluation details of the execution). Each text is at most 2,048 characters
    (the definition build checks the card against the model card schema).
    ``--set model_card__risk_rating=High`` replaces one."""

    #: ``ModelCardStatus`` the pipeline registers the card with: the card is complete when it is
    #: registered, so it waits for the same review as the version itself (``medtx models approve``
    #: approves a ``PendingReview`` card with its version; ``Draft`` stays a draft).
    status: str = "PendingReview"
    #: Who made the model (empty: not stated).
    creator: str = ""
    purpose: str = (
        "Assigns a medical transcription note to one of the medical specialties it was trained on, so "
        "that notes can be routed, sorted and searched by specialty."
    )
    intended_uses: str = (
        "Decision support for routing and indexing transcripts, with a person reviewing the outcome. The "
        "endpoint answers each text with its most likely specialties and their probabilities; answers "
        "with a low top probability should go to a person. Not for diagnosis or for any decision about "
        "a patient's care."
    )
    factors: str = (
        "Trained on the mtsamples transcription samples (English, US, about 5,000 notes in 40 labels, "
        "the classes with too few samples removed). Notes from other sources, templates or languages "
        "may score lower. Notes longer than the model's window are cut or split (the long_text "
        "setting). Several labels are document types rather than specialties (Surgery, Consult, "
        "Discharge Summary, SOAP notes, Radiology) and overlap the specialties; the same text is filed "
        "under more than one label in the source data."
    )
    risk_rating: str = "Medium"
    risk_explanation: str = (
        "A wrong specialty misroutes or delays a note; it does not by itself change a patient's care. "
        "The texts are clinical notes: real transcripts carry protected health information, so the "
        "endpoint, its captured requests and the training data must stay under the account's controls."
    )
    ethical_considerations: str = (
        "Minority specialties have few training notes; per-class F1 (the evaluation's per-class table) "
        "shows which specialties the model serves worse. The class weights in the loss raise their "
        "recall at some cost in precision."
    )
    caveats: str = (
        "Compare the version with the TF-IDF baseline and the served model on the same rows before "
        "approving it (medtx models show / compare). Retrain when the notes the endpoint receives "
        "change (their source, templates or the specialties asked for)."
    )

    def __post_init__(self) -> None:
        if self.status not in MODEL_CARD_STATUSES:
            raise ValueError(
                f"model_card status must be one of {', '.join(MODEL_CARD_STATUSES)}; got {self.status!r}"
            )
        if self.risk_rating not in RISK_RATINGS:
            raise ValueError(
                f"model_card risk_rating must be one of {', '.join(RISK_RATINGS)}; got {self.risk_rating!r}"
            )


@dataclass(frozen=True)
class PipelineConfig:
    """AWS-side settings plus the container settings they pass on."""

    pipeline_name: str = "medtx-specialty-classifier"
    bucket: str = "medical-transcription-repo"
    #: Key of the raw CSV in the bucket (the reference layout's ``dataset/dataset.csv``).
    dataset_key: str = "dataset/dataset.csv"
    #: Prefix of the content-addressed code bundles (each step's scripts and the SDK's training driver).
    code_prefix: str = "code"
    model_package_group: str = "medtx-specialty-classifier"
    endpoint_name: str = "medtx-specialty-classifier"

    # Hugging Face DLCs (versions known to the SDK's image table; see docs/versions.md).
    hf_training_version: str = "5.3.0"
    hf_training_pytorch: str = "pytorch2.9.0"
    hf_inference_version: str = "5.5.3"
    hf_inference_pytorch: str = "pytorch2.6.0"
    hf_py_version: str = "py312"

    processing_instance_type: str = "ml.m5.xlarge"
    training_instance_type: str = "ml.g5.xlarge"
    training_instance_count: int = 1
    evaluation_instance_type: str = "ml.m5.2xlarge"
    endpoint_instance_type: str = "ml.m5.xlarge"
    endpoint_instance_count: int = 1
    #: ``medtx deploy`` autoscales the endpoint between ``endpoint_instance_count`` and this many
    #: instances (equal: a fixed fleet), tracking ``endpoint_invocations_per_instance``: invocations
    #: per instance per minute, which depends on the model, MaxLength and the instance type, so it has
    #: no default (docs/operations.md says how to find it).
    endpoint_max_instance_count: int = 1
    endpoint_invocations_per_instance: int | None = None
    #: ``medtx deploy`` and the pipeline's own deploy step (``DeployModel=true``) capture this share
    #: (0-100) of the endpoint's answers, in SageMaker's data capture format under
    #: ``s3://<bucket>/<endpoint_capture_prefix>/`` (KMS-encrypted): what it predicts, for Model
    #: Monitor or Athena. Answers only, never the request: the request is a transcript. 0: no capture.
    endpoint_capture_percent: int = 0
    endpoint_capture_prefix: str = "endpoint-capture"
    #: ``medtx predict --batch-transform``: a SageMaker Batch Transform job scores a CSV with the model
    #: the endpoint serves, on its own instances (the endpoint's by default); its requests and answers
    #: are kept under ``s3://<bucket>/<batch_transform_prefix>/<job>/`` (KMS-encrypted).
    batch_transform_prefix: str = "batch-predict"
    batch_transform_instance_type: str | None = None
    volume_size_gb: int = 30
    max_training_seconds: int = 4 * 3600
    #: Managed spot training: the Train step's job runs on spare capacity (often 60-90% cheaper), may
    #: wait for it, and when interrupted resumes from its last checkpoint (``train.save_steps``; 0
    #: saves at the end of each epoch). ``max_spot_wait_seconds`` bounds training plus waiting.
    spot_training: bool = False
    max_spot_wait_seconds: int = 8 * 3600

    #: Quality gate: evaluation macro-F1 must reach this...
    min_macro_f1: float = 0.40
    #: ...and be at least this much above the TF-IDF baseline (-1 switches the comparison off).
    min_baseline_margin: float = -1.0
    #: ...and at least this much above the model the endpoint serves (the champion), scored by the
    #: Evaluate step on the same rows (-1 switches the comparison off; with nothing served the
    #: champion is the null model, macro-F1 0). -0.01: no more than a point worse than production.
    min_champion_margin: float = -1.0
    #: What both margins are read from: ``estimate``, the held-out difference itself; ``interval_low``,
    #: the low end of its paired bootstrap interval (``evaluation.json``'s ``bootstrap``), so a model
    #: passes only when it is ahead by the margin at ``evaluate.confidence_level`` (95%).
    baseline_margin_from: str = "estimate"
    #: ...and every behavioural check (``evaluate.behaviour_checks``) must keep at least this share of
    #: the notes it rewrote at their predicted label (``evaluation.json``'s ``behaviour_agreement``:
    #: the lowest share; a check that altered no note counts as 1). 0 switches it off; 0.95 registers
    #: no model whose prediction moves in more than one note in twenty when only the pronouns change.
    min_behaviour_agreement: float = 0.0
    #: Where the served model's archive is kept for the Evaluate step: ``s3://<bucket>/<prefix>/<endpoint>/``
    #: (``model.tar.gz`` and ``champion.json``), written by the pipeline's deploy branch and by
    #: ``medtx deploy``.
    champion_prefix: str = "champion"
    model_approval_status: str = "PendingManualApproval"
    deploy_model: bool = False

    cache_expire_after: str = "P30D"

    # Security (transcripts are protected health information).
    #: KMS key (id, ARN or alias) for job volumes, job outputs and endpoint storage; also read from
    #: PIPELINE_KMS_KEY_ID (the CodeBuild project of infra/template.yaml sets it). None: AWS-managed keys.
    kms_key_id: str | None = None
    #: Network isolation (no outbound traffic from the container). Preprocess and Train fetch the
    #: tokenizer and model from the Hugging Face hub, so they need the internet unless the model comes
    #: from S3; Evaluate reads only the model archive and the CSVs, so it is isolated.
    network_isolation_preprocess: bool = False
    network_isolation_training: bool = False
    network_isolation_evaluation: bool = True
    #: The endpoint's model serves the archive it carries: no outbound traffic needed.
    network_isolation_endpoint: bool = True
    #: VPC for the jobs: subnets and security groups (both or neither; with isolation off and no NAT,
    #: hub downloads fail).
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    #: Encrypt traffic between training instances (only matters with TrainingInstanceCount > 1).
    encrypt_inter_container_traffic: bool = True

    container: ContainerConfig = field(default_factory=ContainerConfig)
    model_card: ModelCardConfig = field(default_factory=ModelCardConfig)

    def __post_init__(self) -> None:
        if self.spot_training and self.max_spot_wait_seconds < self.max_training_seconds:
            raise ValueError(
                f"max_spot_wait_seconds ({self.max_spot_wait_seconds}) must be at least max_training_seconds "
                f"({self.max_training_seconds}): it bounds training and the wait for spot capacity together"
            )
        percent = self.endpoint_capture_percent
        if not 0 <= percent <= 100:
            raise ValueError(f"endpoint_capture_percent must be 0 to 100; got {percent}")
        if self.baseline_margin_from not in BASELINE_MARGIN_SOURCES:
            raise ValueError(
                f"baseline_margin_from must be one of {', '.join(BASELINE_MARGIN_SOURCES)}; "
                f"got {self.baseline_margin_from!r}"
            )
        if self.baseline_margin_from == "interval_low" and not self.container.evaluate.bootstrap_resamples:
            raise ValueError("baseline_margin_from=interval_low needs evaluate.bootstrap_resamples > 0")
        for name, low, high in GATE_THRESHOLDS.values():
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"{name} must lie in [{low:g}, {high:g}]; got {getattr(self, name)}")
        if self.min_behaviour_agreement and not self.container.evaluate.behaviour_checks:
            raise ValueError(
                "min_behaviour_agreement > 0 needs evaluate.behaviour_checks: with no check run there is "
                "nothing to gate on"
            )

    @property
    def data(self) -> DataConfig:
        return self.container.data

    @property
    def train(self) -> TrainConfig:
        return self.container.train

    @property
    def input_data_uri(self) -> str:
        return f"s3://{self.bucket}/{self.dataset_key}"

    def champion_uri(self, bucket: str | None = None, endpoint: str | None = None) -> str:
        """The folder of the served model's archive that the Evaluate step reads (no trailing slash):
        the config's endpoint, or ``endpoint``, in ``bucket`` (the stack's) or the config's."""
        return f"s3://{bucket or self.bucket}/{self.champion_prefix}/{endpoint or self.endpoint_name}"

    def endpoint_capture_uri(self, bucket: str | None = None) -> str:
        """Where ``medtx deploy`` captures the endpoint's answers: ``bucket`` (the stack's, from
        ARTIFACT_BUCKET) or the config's."""
        return f"s3://{bucket or self.bucket}/{self.endpoint_capture_prefix}"

    def settings_group(self, group: str) -> Any:
        """The settings of ``group`` (one of ``_GROUPS``): the model card's, or a container group's."""
        return self.model_card if group == "model_card" else getattr(self.container, group)

    def replace(self, **overrides: Any) -> PipelineConfig:
        """A copy with fields replaced; ``train__epochs=5`` reaches into the container settings.
        ``preset=NAME`` stands for the settings of ``SETTING_PRESETS[NAME]``; any given beside it wins."""
        overrides = with_preset(overrides)
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in overrides.items():
            if "__" in key:
                group, name = key.split("__", 1)
                nested.setdefault(group, {})[name] = value
            else:
                top[key] = value
        unknown = set(top) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        model_card = self.model_card
        groups: dict[str, Any] = {}
        for group, values in nested.items():
            if group not in _GROUPS:
                raise ValueError(f"unknown settings group {group!r} ({', '.join(_GROUPS)})")
            current = self.settings_group(group)
            bad = set(values) - {f.name for f in dataclasses.fields(current)}
            if bad:
                raise ValueError(f"unknown {group} setting(s): {', '.join(sorted(bad))}")
            kinds = typing.get_type_hints(type(current))
            typed = dataclasses.replace(
                current, **{k: _coerce(f"{group}__{k}", kinds[k], v) for k, v in values.items()}
            )
            if group == "model_card":
                model_card = typed
            else:
                groups[group] = typed
        # every group at once: settings of two groups are checked together (``ContainerConfig``)
        container = dataclasses.replace(self.container, **groups)
        kinds = typing.get_type_hints(type(self))
        typed_top = {k: _coerce(k, kinds[k], v) for k, v in top.items()}
        return dataclasses.replace(self, container=container, model_card=model_card, **typed_top)


@dataclass(frozen=True)
class LocalProfile:
    """Pipeline parameters of a local run (``medtx run --local --profile NAME``).

    A profile only sets parameter values: the definition is the one ``medtx upsert`` sends.
    ``--param Name=Value`` overrides any of them.
    """

    max_length: int
    epochs: float
    train_batch_size: int
    learning_rate: float
    model_name: str = OFFLINE_MODEL_NAME
    #: The local endpoint is started at the end of a local run (``medtx endpoint stop`` stops it).
    deploy_model: bool = True
    #: Quality gate of the profile (None: the pipeline's ``min_macro_f1``).
    min_macro_f1: float | None = None

    def parameters(self) -> dict[str, str]:
        return {
            "ModelName": self.model_name,
            "MaxLength": str(self.max_length),
            "Epochs": f"{self.epochs:g}",
            "TrainBatchSize": str(self.train_batch_size),
            "LearningRate": f"{self.learning_rate:g}",
            "DeployModel": str(self.deploy_model).lower(),
            **({"MinMacroF1": f"{self.min_macro_f1:g}"} if self.min_macro_f1 is not None else {}),
        }


LOCAL_PROFILES: dict[str, LocalProfile] = {
    # Minutes on 2 CPU cores: short sequences, and the schedule that served the small model best at this
    # length in bench/RESULTS.md (three epochs at 2e-4; one epoch at 1e-4 left it undertrained). On the
    # bundled data it edges past the TF-IDF baseline (0.59 against 0.57); on mtsamples it reaches
    # macro-F1 0.42 (TF-IDF: 0.47) in about 12 minutes. Its gate stays under the pipeline's 0.40 so that
    # a run on other data is not failed by a seed; `--param MinMacroF1=...` sets another.
    "quick": LocalProfile(
        max_length=128, epochs=3, train_batch_size=16, learning_rate=2e-4, min_macro_f1=0.2
    ),
    # The SageMaker schedule's sequence length and epochs; uses a GPU when there is one.
    "full": LocalProfile(max_length=512, epochs=3, train_batch_size=16, learning_rate=5e-5),
}


#: Named sets of settings (``--set preset=NAME``, ``preset=NAME`` in ``MEDTX_SETTINGS``,
#: ``PipelineConfig().replace(preset=NAME)``): one name for a combination measured together, each
#: setting in it still overridable (``--set preset=title-headings --set train__max_chunks=3``).
SETTING_PRESETS: dict[str, dict[str, str]] = {
    # The best setting measured at CPU scale (bench/RESULTS.md): each note's first window, its section
    # headings and its title (``sample_name``) as three model inputs, their logits pooled. With the
    # quick profile on mtsamples: 0.504, 0.498 and 0.501 macro-F1 over three seeds against TF-IDF's 0.476
    # on the same text; +0.018 on average over three validation splits. The endpoint then takes each
    # note with its title (``{"sample_name": ..., "transcription": ...}``).
    "title-headings": {
        "train__long_text": "chunks",
        "train__max_chunks": "1",
        "train__headings_window": "true",
        "train__fields_window": "true",
        "data__text_fields": "sample_name,transcription",
    },
}


def flat_settings(cfg: PipelineConfig) -> dict[str, Any]:
    """Every setting of ``cfg`` by the name ``--set`` takes (``min_macro_f1``, ``train__epochs``,
    ``model_card__risk_rating``), top-level fields first, then each group's in ``_GROUPS`` order."""
    found = {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(cfg)
        if f.name not in ("container", "model_card")
    }
    for group in _GROUPS:
        values = cfg.settings_group(group)
        found.update({f"{group}__{f.name}": getattr(values, f.name) for f in dataclasses.fields(values)})
    return found


def with_preset(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` with a ``preset`` entry replaced by that preset's settings (the others win)."""
    if "preset" not in overrides:
        return overrides
    rest = {k: v for k, v in overrides.items() if k != "preset"}
    name = overrides["preset"]
    if name not in SETTING_PRESETS:
        raise ValueError(f"unknown preset {name!r} (presets: {', '.join(SETTING_PRESETS)})")
    return {**SETTING_PRESETS[name], **rest}


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """CLI overrides arrive as strings: give them the setting's declared type (an error names the
    setting: ``train__epochs='abc' is not an integer``). A setting that may be unset (``int | None``)
    takes ``none`` for unset."""
    if not isinstance(value, str):
        return value
    choices = typing.get_args(kind)
    if type(None) in choices:
        if value.strip().lower() in ("none", ""):
            return None
        kind = next(choice for choice in choices if choice is not type(None))
    kind = typing.get_origin(kind) or kind
    if kind is bool:
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"setting {name}={value!r} is not true or false")
    if kind is tuple:
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if kind in (int, float):
        try:
            return kind(value)
        except ValueError as err:
            raise ValueError(
                f"setting {name}={value!r} is not {'an integer' if kind is int else 'a number'}"
            ) from err
    return value


def aws_region(given: str | None) -> str | None:
    """``given``, else AWS_REGION or AWS_DEFAULT_REGION, else the region of the AWS profile in use
    (``aws configure``'s, or AWS_PROFILE's), as the AWS CLI and boto3 find it; None where none is
    set (or the SDK is not installed)."""
    found = from_env(ENV_REGION, given)
    if found:
        return found
    try:
        import botocore.session
        from botocore.exceptions import BotoCoreError
    except ImportError:
        return None
    try:
        return botocore.session.Session().get_config_variable("region") or None
    except BotoCoreError:  # AWS_PROFILE names no profile: the AWS call after says so
        return None


def from_env(name: str | tuple[str, ...], given: str | None) -> str | None:
    """An explicit argument wins; else the first environment variable that is set."""
    if given:
        return given
    for var in (name,) if isinstance(name, str) else name:
        if os.environ.get(var):
            return os.environ[var]
    return None
