"""Train: fine-tune a Hugging Face sequence classifier with class-weighted cross-entropy.

Runs as the SageMaker TrainingStep's entry script (Hugging Face PyTorch DLC, also under ``torchrun``
for several GPUs: the Trainer does the DDP) and as plain Python on a laptop.

Inputs are the ``train`` and ``test`` folders written by ``preprocess.py`` (tokenized datasets, label
map, class weights). Writes the model, tokenizer and label map to the model dir (``id2label`` in the
config, so the endpoint answers with names) with ``training_config.json`` (input length, labels, and
the scores' temperature fitted on the validation notes, ``TrainConfig.calibrate``), and
``train_metrics.json`` (figures and learning curve) to the output data dir and into the model dir.
Resumes from the newest checkpoint in the checkpoint dir, so managed spot training can be enabled.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    DataCollatorForLanguageModeling,
    DataCollatorWithPadding,
    PreTrainedModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import get_last_checkpoint

from medtx_common import (
    CLASS_WEIGHTS_FILE,
    LABEL_MAP_FILE,
    LOG,
    TRAINING_CONFIG_FILE,
    InputError,
    TextEncoding,
    classification_metrics,
    fit_temperature,
    load_labels,
    load_tokenizer,
    mean_by_text,
    native_bf16,
    parse_bool,
    read_json,
    resolve_model_path,
    run_cli,
    setup_logging,
    tempered_log_loss,
    write_json,
)
from medtx_config import (
    CHUNK_LOSSES,
    IMBALANCE_LOSSES,
    MLM_METRICS,
    POOLINGS,
    TRAIN_METRICS_FILE,
    TRAIN_PRECISIONS,
    TRAINING_METRICS,
    TrainConfig,
    metric_line,
)
from medtx_model import MeanPoolingClassifier, build_classifier


class LengthGroupedTrainer(Trainer):
    """``Trainer`` that groups rows by the precomputed ``length`` column."""

    def _get_train_sampler(self, train_dataset=None):
        """Group by the precomputed ``length`` column.

        The stock sampler only sees the dataset after unused columns are removed, so it measures every
        row again on start-up; that costs more than the padding it saves.
        """
        dataset: Any = self.train_dataset  # a datasets.Dataset (build_trainer's), typed as torch's
        if self.args.train_sampling_strategy == "group_by_length" and "length" in dataset.column_names:
            return LengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=list(dataset["length"]),  # a plain list: indexing a Column costs per row
            )
        return super()._get_train_sampler(train_dataset)


class WeightedLossTrainer(LengthGroupedTrainer):
    """``Trainer`` whose loss answers the class imbalance (optionally label-smoothed): class-weighted
    cross-entropy, or with ``imbalance="logit_adjustment"`` logit-adjusted cross-entropy.

    The loss is the (weighted) mean over the micro-batch. ``num_items_in_batch`` (passed by the pinned
    transformers) counts tokens/rows, which is the wrong normaliser for a weighted mean, so the
    trainer is told the model does not take loss kwargs; it then divides by the gradient-accumulation
    steps itself, which keeps accumulation exact for equal-sized micro-batches.
    """

    def __init__(
        self,
        *args: Any,
        class_weights: torch.Tensor,
        label_smoothing: float = 0.0,
        imbalance: str = TrainConfig.imbalance,
        layer_lr_decay: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.imbalance = imbalance
        self.layer_lr_decay = layer_lr_decay
        self.model_accepts_loss_kwargs = False

    def create_optimizer(self, model: torch.nn.Module | None = None) -> torch.optim.Optimizer:
        """The Trainer's optimizer, with one learning rate per layer when ``layer_lr_decay`` < 1
        (weight decay as the Trainer applies it: not on biases and norms). The scheduler scales
        every group's rate alike, so warm-up and decay keep the ratios between layers."""
        if self.layer_lr_decay == 1.0 or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        assert opt_model is not None  # the Trainer holds its model from the start
        decayed = set(self.get_decay_parameter_names(opt_model))
        depths = layer_depths(opt_model)
        top = max(depths.values())
        groups: dict[tuple[int, bool], list[torch.nn.Parameter]] = {}
        for name, param in opt_model.named_parameters():
            if param.requires_grad:
                groups.setdefault((depths[name], name in decayed), []).append(param)
        optimizer_cls, kwargs = self.optimizer_cls_and_kwargs or self.get_optimizer_cls_and_kwargs(
            self.args,
            cast(PreTrainedModel, opt_model),  # typed so; the Trainer passes any module too
        )
        self.optimizer = optimizer_cls(
            [
                {
                    "params": params,
                    "lr": self.args.learning_rate * self.layer_lr_decay ** (top - depth),
                    "weight_decay": self.args.weight_decay if decay else 0.0,
                }
                for (depth, decay), params in sorted(groups.items())  # keys are unique
            ],
            **kwargs,
        )
        LOG.info(
            "layer-wise learning rates (decay %s): embeddings %.3g ... top %.3g over %d layers",
            self.layer_lr_decay,
            self.args.learning_rate * self.layer_lr_decay**top,
            self.args.learning_rate,
            top - 1,
        )
        return self.optimizer

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        labels = inputs.pop("labels")
        window_note = inputs.pop("window_note", None)  # set by NoteCollator (chunk_loss=note)
        outputs = model(**inputs)
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        if window_note is not None:
            logits = pool_window_logits(logits, window_note, labels.shape[0])
            outputs = {"logits": logits}  # one row per note, as evaluation and the endpoint score
        if self.class_weights.device != logits.device:
            # once: a host-to-device copy every step would wait for the GPU each time
            self.class_weights = self.class_weights.to(logits.device)
        loss = IMBALANCE_LOSS[self.imbalance](logits, labels, self.class_weights, self.label_smoothing)
        return (loss, outputs) if return_outputs else loss


_LAYER_INDEX = re.compile(r"(?:^|\.)layer\.(\d+)\.")


def layer_depths(model: torch.nn.Module) -> dict[str, int]:
    """Each parameter's depth for layer-wise learning rates: 0 for the embeddings, ``i + 1`` for
    transformer layer ``i`` (``encoder.layer.i`` in BERT, ``transformer.layer.i`` in DistilBERT), and
    one above the last layer for the rest (pooler, classification head)."""
    names = [name for name, _ in model.named_parameters()]
    layer = {name: int(m.group(1)) for name in names if (m := _LAYER_INDEX.search(name))}
    if not layer:
        raise InputError("layer_lr_decay: no transformer layers (`layer.N.`) among the model's parameters")
    top = max(layer.values()) + 2
    return {name: layer[name] + 1 if name in layer else 0 if "embeddings." in name else top for name in names}


class ProgressLines(TrainerCallback):
    """Machine-readable progress every 5% of the steps (``[progress] step=40/235 epoch=0.17
    loss=2.9100``, the latest logged loss), which the local runner shows live and CloudWatch keeps;
    tqdm bars are off in jobs. Each log of the Trainer's that holds one of ``metrics`` (log key ->
    metric name) is also printed as a ``[metrics]`` line, which SageMaker reads as training metrics."""

    def __init__(self, metrics: dict[str, str]) -> None:
        self.loss: float | None = None
        self.metrics = metrics

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])
        line = metric_line(logs or {}, self.metrics)
        if line and state.is_world_process_zero:
            print(line, flush=True)

    def on_step_end(self, args, state, control, **kwargs):
        every = max(1, state.max_steps // 20)
        if state.is_world_process_zero and (
            state.global_step % every == 0 or state.global_step == state.max_steps
        ):
            loss = f" loss={self.loss:.4f}" if self.loss is not None else ""
            print(
                f"[progress] step={state.global_step}/{state.max_steps} epoch={state.epoch or 0:.2f}{loss}",
                flush=True,
            )


def weighted_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Class-weighted cross-entropy in float32, weights moved to the logits' device."""
    return F.cross_entropy(
        logits.float(),
        labels,
        weight=weights.to(device=logits.device, dtype=torch.float32),
        label_smoothing=label_smoothing,
    )


def logit_adjusted_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Unweighted cross-entropy on the logits plus the log of each class's training share (Menon et
    al., 2021, with tau 1), in float32. The balanced weights are n / (k * count), so a class's share
    is proportional to 1 / weight: adding -log(weight) adds the log-share up to a constant, which the
    softmax ignores."""
    shift = -torch.log(weights.to(device=logits.device, dtype=torch.float32))
    return F.cross_entropy(logits.float() + shift, labels, label_smoothing=label_smoothing)


#: ``TrainConfig.imbalance`` -> the loss ``WeightedLossTrainer`` computes.
IMBALANCE_LOSS = {"weights": weighted_cross_entropy, "logit_adjustment": logit_adjusted_cross_entropy}


def pool_window_logits(logits: torch.Tensor, window_note: torch.Tensor, notes: int) -> torch.Tensor:
    """The mean of each note's window logits, in float32 (``predict_proba`` pools the same way).

    ``window_note[i]`` is the batch row of the note window ``i`` belongs to. Counts come from
    ``index_add_`` rather than ``bincount``, which would wait for the GPU to size its output.
    """
    logits = logits.float()
    total = logits.new_zeros(notes, logits.shape[-1]).index_add_(0, window_note, logits)
    count = logits.new_zeros(notes).index_add_(0, window_note, torch.ones_like(logits[:, 0]))
    return total / count.clamp_min(1)[:, None]


#: Tokenizer outputs that are model inputs (the rest of a dataset row is bookkeeping).
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class NoteCollator:
    """Batches whole notes for ``chunk_loss=note``: the windows of every note in the batch are padded
    into one batch of model inputs, ``labels`` has one entry per note and ``window_note`` says which
    note each window belongs to."""

    def __init__(self, pad: DataCollatorWithPadding) -> None:
        self.pad = pad

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        keys = [k for k in MODEL_INPUTS if k in features[0]]
        windows = [{k: f[k][w] for k in keys} for f in features for w in range(len(f["input_ids"]))]
        batch = self.pad(windows)
        batch["labels"] = torch.tensor([int(f["labels"]) for f in features])
        batch["window_note"] = torch.tensor([i for i, f in enumerate(features) for _ in f["input_ids"]])
        return batch


def group_windows(dataset):
    """One row per note from one row per window (``doc`` says whose): the note's windows in
    ``input_ids``/``attention_mask``/``token_type_ids`` as lists, its label, and its total tokens in
    ``length`` (for length grouping)."""
    from datasets import Dataset

    rows = dataset.to_dict()
    notes: dict[int, list[int]] = {}
    for i, doc in enumerate(rows["doc"]):
        notes.setdefault(int(doc), []).append(i)
    inputs = [k for k in MODEL_INPUTS if k in rows]
    grouped: dict[str, list] = {k: [] for k in (*inputs, "labels", "length")}
    for doc, windows in notes.items():
        labels = {rows["labels"][i] for i in windows}
        if len(labels) != 1:
            raise InputError(f"note {doc} has windows with different labels {sorted(labels)}")
        for key in inputs:
            grouped[key].append([rows[key][i] for i in windows])
        grouped["labels"].append(labels.pop())
        grouped["length"].append(sum(rows["length"][i] for i in windows))
    return Dataset.from_dict(grouped)


def load_class_weights(train_dir: Path, labels: Sequence[str]) -> torch.Tensor:
    payload = read_json(train_dir / CLASS_WEIGHTS_FILE)
    if list(payload["labels"]) != list(labels):
        raise InputError(f"{train_dir / CLASS_WEIGHTS_FILE}: labels differ from {LABEL_MAP_FILE}")
    return torch.tensor(payload["weights"], dtype=torch.float32)


def precision_flags(precision: str = TrainConfig.precision) -> dict[str, bool]:
    """``TrainingArguments``' precision settings. ``auto``: bf16 on a GPU that has it, fp16 on an older
    GPU; on a CPU bf16 where it is native (AVX512-BF16 or AMX), else fp32. bf16 on a CPU is autocast
    with float32 weights, as on a GPU; transformers asks for ``use_cpu`` to allow it."""
    gpu = torch.cuda.is_available()
    if precision == "auto":
        if gpu:
            precision = "bf16" if native_bf16("cuda") else "fp16"
        else:
            precision = "bf16" if native_bf16("cpu") else "fp32"
    if precision == "fp16" and not gpu:
        raise InputError("precision fp16 needs a GPU; on a CPU use bf16 or fp32")
    cpu_bf16 = precision == "bf16" and not gpu
    return {"bf16": precision == "bf16", "fp16": precision == "fp16", "use_cpu": cpu_bf16}


def split_encoding(folder: Path, max_length: int) -> TextEncoding:
    """How preprocess encoded the split, with ``max_length`` lowered to the training length.

    A shorter training length only shortens truncated rows; windows and head+tail cuts depend on the
    length they were made for, so those need preprocessing at the training length.
    """
    encoding = TextEncoding.load(folder, max_length)
    if max_length >= encoding.max_length:
        return encoding
    if encoding.long_text != "truncate":
        raise InputError(
            f"{folder}: tokenized as {encoding.long_text} at {encoding.max_length} tokens; training at "
            f"{max_length} needs preprocess.py --max-length {max_length}"
        )
    return dataclasses.replace(encoding, max_length=max_length)


def load_split(folder: Path, max_samples: int | None, max_length: int, seed: int, by_note: bool = False):
    """Load a tokenized split, optionally subsample it, and cut rows longer than ``max_length``.

    ``by_note``: one row per note with its windows (``group_windows``); ``max_samples`` counts notes.
    """
    from datasets import load_from_disk

    if not (folder / "dataset_info.json").exists():
        raise InputError(f"{folder}: no tokenized dataset (run preprocess.py and pass its output)")
    split_encoding(folder, max_length)  # refuses a length its windows were not made for
    dataset = load_from_disk(str(folder))
    if by_note:
        dataset = group_windows(dataset)
    if max_samples is not None and max_samples < len(dataset):
        dataset = dataset.shuffle(seed=seed).select(range(max_samples))
    if max(dataset["length"]) > max_length:

        def cut(batch: dict[str, list]) -> dict[str, list]:
            out = {k: [v[:max_length] for v in batch[k]] for k in MODEL_INPUTS if k in batch}
            out["length"] = [min(n, max_length) for n in batch["length"]]
            return out

        dataset = dataset.map(cut, batched=True, desc=f"truncate to {max_length}")
    return dataset


def build_training_args(
    args: argparse.Namespace, output_dir: str, has_eval: bool, **overrides: Any
) -> TrainingArguments:
    """The run's ``TrainingArguments``; ``overrides`` replace single arguments (the adaptation stage's
    schedule)."""
    on_gpu = torch.cuda.is_available()
    strategy = "epoch" if has_eval and args.max_steps < 0 else "no"
    settings: dict[str, Any] = dict(
        output_dir=output_dir,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.train_batch_size,
        per_device_eval_batch_size=args.eval_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_ratio,  # a float below 1 is a share of the steps
        lr_scheduler_type=args.lr_scheduler,
        weight_decay=args.weight_decay,
        seed=args.seed,
        eval_strategy=strategy,
        save_strategy="steps" if args.save_steps > 0 else "epoch" if args.max_steps < 0 else "no",
        save_steps=args.save_steps or 500,
        save_total_limit=2,
        # The final epoch is kept: picking the best epoch on the validation rows would make the
        # evaluation step's figures optimistic, since it scores those same rows.
        load_best_model_at_end=False,
        logging_strategy="steps",
        logging_steps=args.logging_steps,
        report_to="none",
        train_sampling_strategy="group_by_length" if args.group_by_length else "random",
        dataloader_num_workers=args.dataloader_workers if on_gpu else 0,
        dataloader_pin_memory=on_gpu,
        dataloader_persistent_workers=on_gpu and args.dataloader_workers > 0,
        dataloader_prefetch_factor=4 if on_gpu and args.dataloader_workers > 0 else None,
        # No host-GPU synchronisation per step, so the host queues the next step while the GPU works:
        # batches are copied from pinned memory asynchronously, and the per-step NaN check of the
        # logged loss (a GPU->host read each step) is off; a NaN loss still shows in the logs.
        accelerator_config={"non_blocking": on_gpu},
        logging_nan_inf_filter=False,
        torch_compile=args.torch_compile,
        disable_tqdm=args.disable_tqdm,
        **precision_flags(args.precision),
    )
    return TrainingArguments(**{**settings, **overrides})


def pad_multiple(args: argparse.Namespace) -> int | None:
    """What batches are padded to a multiple of: ``pad_to_multiple_of`` on a GPU (few distinct shapes),
    nothing on CPU (every pad token costs there). ``None`` pads to the batch's longest row."""
    return (args.pad_to_multiple_of or None) if torch.cuda.is_available() else None


def _metrics_fn(num_labels: int):
    def compute(eval_pred) -> dict[str, float]:
        logits, labels = eval_pred
        logits = logits[0] if isinstance(logits, tuple) else logits
        return classification_metrics(labels, np.argmax(logits, axis=-1), num_labels)

    return compute


#: The encoder after task-adaptive pretraining, under the checkpoint dir (which SageMaker keeps in S3):
#: a job stopped after the adaptation resumes without repeating it.
ADAPTED_DIR = "domain-adapted"
#: Written last into ``ADAPTED_DIR``: the adaptation's figures, and the mark that it finished.
ADAPTATION_FILE = "domain_adaptation.json"


def distinct_inputs(folder: Path, max_samples: int | None, args: argparse.Namespace):
    """A split's model inputs with label columns dropped, each distinct input once: a note filed under
    several specialties is one row per specialty, and masked-token training needs its text once."""
    dataset = load_split(folder, max_samples, args.max_length, args.seed)
    first: dict[tuple[int, ...], int] = {}
    for row, ids in enumerate(dataset["input_ids"]):
        first.setdefault(tuple(ids), row)
    columns = [k for k in (*MODEL_INPUTS, "length") if k in dataset.column_names]
    return dataset.select(sorted(first.values())).select_columns(columns)


def adapt_encoder(args: argparse.Namespace, model_path: str, tokenizer: Any) -> Path:
    """Task-adaptive pretraining: masked-language-model training of the encoder on the training split's
    model inputs (``mlm_epochs`` at ``mlm_learning_rate``), saved as a plain encoder folder that
    ``build_classifier`` then starts from. The validation split is only scored (masked-token loss before
    and after, same masks), never trained on. Returns the folder; reuses it when a previous run of the
    job finished it."""
    folder = Path(args.checkpoint_dir) / ADAPTED_DIR
    if (folder / ADAPTATION_FILE).exists():
        LOG.info("reusing the adapted encoder in %s", folder)
        return folder
    started = time.perf_counter()
    train_ds = distinct_inputs(Path(args.train_dir), args.max_train_samples, args)
    test_dir = Path(args.test_dir)
    heldout = (
        distinct_inputs(test_dir, args.max_eval_samples, args)
        if (test_dir / "dataset_info.json").exists()
        else None
    )
    model, loading = AutoModelForMaskedLM.from_pretrained(
        model_path, attn_implementation=args.attn_implementation, output_loading_info=True
    )
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=args.mlm_probability, pad_to_multiple_of=pad_multiple(args)
    )
    work = Path(args.checkpoint_dir) / "domain-adaptation-run"
    trainer = LengthGroupedTrainer(
        model=model,
        args=build_training_args(
            args,
            str(work),
            has_eval=False,
            num_train_epochs=args.mlm_epochs,
            learning_rate=args.mlm_learning_rate,
            max_steps=-1,
            save_strategy="no",
        ),
        train_dataset=train_ds,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=[ProgressLines(MLM_METRICS)],
    )

    def heldout_loss() -> float | None:
        if heldout is None:
            return None
        torch.manual_seed(args.seed)  # the same masks before and after
        return float(trainer.evaluate(heldout, metric_key_prefix="heldout")["heldout_loss"])

    before = heldout_loss()
    result = trainer.train()
    after = heldout_loss()
    summary = {
        "epochs": args.mlm_epochs,
        "learning_rate": args.mlm_learning_rate,
        "mlm_probability": args.mlm_probability,
        "train_inputs": len(train_ds),
        "heldout_inputs": None if heldout is None else len(heldout),
        "train_loss": result.metrics.get("train_loss"),
        # false where the checkpoint had no masked-LM head (sentence encoders such as the offline
        # all-MiniLM-L6-v2): the head starts untrained, so the loss before measures that head
        "head_pretrained": not loading["missing_keys"],
        # mean masked-token cross-entropy on the validation split's inputs (exp of it: perplexity)
        "heldout_loss_before": before,
        "heldout_loss_after": after,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if trainer.args.should_save:
        encoder = AutoModel.from_pretrained(model_path)  # keeps a pooler the masked-LM model lacks
        adapted = trainer.accelerator.unwrap_model(trainer.model).base_model.state_dict()
        missing, unexpected = encoder.load_state_dict(adapted, strict=False)
        if unexpected or any(not k.startswith("pooler.") for k in missing):
            raise RuntimeError(f"adapted encoder does not fit {model_path}: {missing=} {unexpected=}")
        encoder.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        write_json(folder / ADAPTATION_FILE, _finite(summary))
        shutil.rmtree(work, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    LOG.info("domain adaptation: %s", json.dumps(_finite(summary)))
    return folder


def build_trainer(args: argparse.Namespace) -> WeightedLossTrainer:
    """Everything up to the training loop: data, model, collator, arguments."""
    if not 0 < args.layer_lr_decay <= 1:
        raise InputError(f"--layer-lr-decay must be in (0, 1], got {args.layer_lr_decay}")
    # The classifier's new weights (and the masked-token adaptation) draw from torch's generator
    # before the Trainer seeds it: without this, one seed trained a different model each run.
    set_seed(args.seed)
    train_dir, test_dir = Path(args.train_dir), Path(args.test_dir)
    labels = load_labels(train_dir)
    weights = load_class_weights(train_dir, labels)
    # With chunk_loss=note (and chunked splits) a row is a note and the loss scores pooled logits.
    by_note = args.chunk_loss == "note" and split_encoding(train_dir, args.max_length).long_text == "chunks"
    train_ds = load_split(train_dir, args.max_train_samples, args.max_length, args.seed, by_note)
    eval_ds = (
        load_split(test_dir, args.max_eval_samples, args.max_length, args.seed, by_note)
        if (test_dir / "dataset_info.json").exists()
        else None
    )
    model_path = resolve_model_path(args.model_name)
    tokenizer = load_tokenizer(args.model_name)
    if args.mlm_epochs > 0:
        model_path = str(adapt_encoder(args, model_path, tokenizer))
    model = build_classifier(model_path, args.pooling, labels, args.attn_implementation)
    collator: DataCollatorWithPadding | NoteCollator
    if args.pad_to_max_length:  # the reference design's padding, kept for benchmarks
        collator = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=args.max_length)
    else:
        collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_multiple(args))
    if by_note:
        collator = NoteCollator(collator)

    checkpoint_dir = Path(args.checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    trainer = WeightedLossTrainer(
        model=model,
        args=build_training_args(args, str(checkpoint_dir), eval_ds is not None),
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=_metrics_fn(len(labels)),
        class_weights=weights,
        label_smoothing=args.label_smoothing,
        imbalance=args.imbalance,
        layer_lr_decay=args.layer_lr_decay,
        callbacks=[ProgressLines(TRAINING_METRICS)],
    )
    return trainer


def last_complete_checkpoint(folder: str | Path) -> str | None:
    """The newest checkpoint the Trainer finished writing (``trainer_state.json`` is its last file).

    A job stopped while saving (spot interruption, a killed local run) leaves a partial folder, which
    ``get_last_checkpoint`` would pick and fail to load.
    """
    while (last := get_last_checkpoint(str(folder))) is not None:
        if (Path(last) / "trainer_state.json").exists():
            return last
        LOG.warning("removing the incomplete checkpoint %s", last)
        shutil.rmtree(last)
    return None


#: What ``train_history`` keeps of each of the Trainer's training-loss log entries.
TRAIN_LOG_KEYS = ("epoch", "step", "loss", "learning_rate", "grad_norm")


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Fine-tune and save; returns the metrics written to ``train_metrics.json``."""
    train_dir, model_dir = Path(args.train_dir), Path(args.model_dir)
    trainer = build_trainer(args)
    labels, tokenizer = load_labels(train_dir), trainer.processing_class  # build_trainer's label map
    assert tokenizer is not None  # build_trainer passes it
    last = last_complete_checkpoint(args.checkpoint_dir)
    if last:
        LOG.info("resuming from %s", last)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    metrics: dict[str, Any] = {"train": result.metrics, "resumed_from": last}
    if args.mlm_epochs > 0:
        metrics["domain_adaptation"] = read_json(Path(args.checkpoint_dir) / ADAPTED_DIR / ADAPTATION_FILE)
    metrics["train"]["wall_seconds"] = time.perf_counter() - started
    # The learning curve: the training loss every ``logging_steps`` steps, and the evaluation at the
    # end of each epoch (reported, never used to pick an epoch: the final one is kept). Both survive a
    # resume: the Trainer keeps its log in the checkpoint.
    metrics["train_history"] = [
        {k: entry[k] for k in TRAIN_LOG_KEYS if k in entry}
        for entry in trainer.state.log_history
        if "loss" in entry
    ]
    if trainer.eval_dataset is not None:
        metrics["eval_history"] = [
            {k: v for k, v in entry.items() if k in ("epoch", "step") or k.startswith("eval_")}
            for entry in trainer.state.log_history
            if "eval_loss" in entry
        ]
        # what ``trainer.evaluate()`` gives (and logs, for the ``[metrics]`` line), with the logits kept
        final = trainer.predict(trainer.eval_dataset, metric_key_prefix="eval")  # type: ignore[arg-type]
        metrics["eval"] = dict(final.metrics or {})
        trainer.log(metrics["eval"])
        if args.calibrate:
            metrics["calibration"] = calibration(final, trainer.eval_dataset)
    elif args.calibrate:
        LOG.warning("no validation split in %s: the scores are served at temperature 1", args.test_dir)

    model_dir.mkdir(parents=True, exist_ok=True)
    model = trainer.accelerator.unwrap_model(trainer.model)
    if not isinstance(model, MeanPoolingClassifier):
        trainer.save_model(str(model_dir))
    elif trainer.args.should_save:  # the Trainer would save a bare state dict for a plain module
        model.save_pretrained(model_dir)
    tokenizer.save_pretrained(str(model_dir))
    shutil.copy(train_dir / LABEL_MAP_FILE, model_dir / LABEL_MAP_FILE)
    ship_handler(model_dir)
    encoding = split_encoding(train_dir, args.max_length)
    encoding.save(model_dir)  # the endpoint and evaluation encode texts the same way
    write_json(
        model_dir / TRAINING_CONFIG_FILE,
        {
            "model_name": args.model_name,
            "max_length": encoding.max_length,
            "labels": labels,
            "temperature": metrics.get("calibration", {}).get("temperature", 1.0),
        },
    )
    for folder in (Path(args.output_data_dir), model_dir):
        write_json(folder / TRAIN_METRICS_FILE, _finite(metrics))
    LOG.info("saved model to %s; metrics %s", model_dir, json.dumps(_finite(metrics.get("eval", {}))))
    return metrics


def calibration(predicted: Any, dataset: Any) -> dict[str, Any]:
    """The temperature of the model's scores (``fit_temperature``), fitted on the validation notes as
    the endpoint scores them: a note's windows' logits averaged (``dataset``'s ``doc`` column says
    whose; a ``chunk_loss=note`` dataset is one row per note already), one row per note and label.
    Returns it with the notes' log loss before and after."""
    logits = predicted.predictions[0] if isinstance(predicted.predictions, tuple) else predicted.predictions
    labels = np.asarray(predicted.label_ids)
    docs = np.asarray(dataset["doc"]) if "doc" in dataset.column_names else np.arange(len(labels))
    _, first, note = np.unique(docs, return_index=True, return_inverse=True)
    pooled, note_labels = mean_by_text(np.asarray(logits, dtype=np.float64), note, len(first)), labels[first]
    temperature = fit_temperature(pooled, note_labels)
    found = {
        "temperature": temperature,
        "notes": len(note_labels),
        "log_loss_before": tempered_log_loss(pooled, note_labels, 1.0),
        "log_loss_after": tempered_log_loss(pooled, note_labels, temperature),
    }
    LOG.info(
        "score temperature %.3f on %d validation notes: log loss %.4f -> %.4f",
        temperature,
        found["notes"],
        found["log_loss_before"],
        found["log_loss_after"],
    )
    return found


HANDLER_FILES = ("inference.py", "medtx_common.py", "medtx_config.py", "medtx_model.py")


def ship_handler(model_dir: Path) -> None:
    """Put the endpoint handler in ``code/`` of the model archive, where the Hugging Face
    inference DLC looks for ``inference.py``: the model package then serves without a repack job."""
    here = Path(__file__).resolve().parent
    (model_dir / "code").mkdir(parents=True, exist_ok=True)
    for name in HANDLER_FILES:
        shutil.copy(here / name, model_dir / "code" / name)


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs: Any) -> None:
    """Accept ``--max-length`` and ``--max_length``: SageMaker hyperparameters use either."""
    parser.add_argument(f"--{name}", f"--{name.replace('-', '_')}", **kwargs)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    cfg = TrainConfig()
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _flag(parser, "model-name", default=cfg.model_name, help="hub id or local folder")
    _flag(parser, "pooling", default=cfg.pooling, choices=POOLINGS, help="how the head reads the encoder")
    _flag(parser, "max-length", type=int, default=cfg.max_length)
    _flag(parser, "epochs", type=float, default=cfg.epochs)
    _flag(parser, "train-batch-size", type=int, default=cfg.train_batch_size)
    _flag(parser, "eval-batch-size", type=int, default=cfg.eval_batch_size)
    _flag(parser, "learning-rate", type=float, default=cfg.learning_rate)
    _flag(parser, "warmup-ratio", type=float, default=cfg.warmup_ratio)
    _flag(parser, "lr-scheduler", default=cfg.lr_scheduler, help="transformers scheduler name")
    _flag(parser, "layer-lr-decay", type=float, default=cfg.layer_lr_decay, help="per layer down; 1: off")
    _flag(parser, "chunk-loss", default=cfg.chunk_loss, choices=CHUNK_LOSSES, help="with chunked splits")
    _flag(parser, "weight-decay", type=float, default=cfg.weight_decay)
    _flag(parser, "label-smoothing", type=float, default=cfg.label_smoothing)
    _flag(
        parser,
        "imbalance",
        default=cfg.imbalance,
        choices=IMBALANCE_LOSSES,
        help="weights or logit_adjustment",
    )
    _flag(parser, "mlm-epochs", type=float, default=cfg.mlm_epochs, help="task-adaptive pretraining; 0: off")
    _flag(parser, "mlm-learning-rate", type=float, default=cfg.mlm_learning_rate)
    _flag(parser, "mlm-probability", type=float, default=cfg.mlm_probability, help="share of tokens masked")
    _flag(parser, "calibrate", type=parse_bool, default=cfg.calibrate, help="fit the scores' temperature")
    _flag(parser, "seed", type=int, default=cfg.seed)
    _flag(parser, "gradient-accumulation-steps", type=int, default=cfg.gradient_accumulation_steps)
    _flag(parser, "group-by-length", type=parse_bool, default=cfg.group_by_length)
    _flag(parser, "dataloader-workers", type=int, default=cfg.dataloader_workers)
    _flag(parser, "torch-compile", type=parse_bool, default=cfg.torch_compile)
    _flag(parser, "pad-to-multiple-of", type=int, default=cfg.pad_to_multiple_of, help="GPU batches; 0: none")
    _flag(parser, "attn-implementation", default="sdpa", choices=["sdpa", "eager"])
    _flag(parser, "precision", default=cfg.precision, choices=TRAIN_PRECISIONS)
    _flag(parser, "pad-to-max-length", type=parse_bool, default=False, help="reference padding (benchmarks)")
    _flag(parser, "max-train-samples", type=int, default=None, help="subsample for quick runs")
    _flag(parser, "max-eval-samples", type=int, default=None)
    _flag(parser, "max-steps", type=int, default=-1, help="stop after N optimizer steps (tests)")
    _flag(parser, "logging-steps", type=int, default=cfg.logging_steps)
    _flag(
        parser, "save-steps", type=int, default=cfg.save_steps, help="checkpoint every N steps (0: per epoch)"
    )
    _flag(parser, "disable-tqdm", type=parse_bool, default=False)
    _flag(parser, "train-dir", default=env("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    _flag(parser, "test-dir", default=env("SM_CHANNEL_TEST", "/opt/ml/input/data/test"))
    _flag(parser, "model-dir", default=env("SM_MODEL_DIR", "/opt/ml/model"))
    _flag(parser, "output-data-dir", default=env("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    _flag(parser, "checkpoint-dir", default="/opt/ml/checkpoints", help="the job's checkpoint local path")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    setup_logging()
    return train(parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
