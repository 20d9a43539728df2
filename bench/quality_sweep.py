"""Model quality: macro-F1 of fine-tuning settings on the mtsamples split, through the product's scripts.

Every configuration runs ``scripts/preprocess.py`` (23-class rule, leak-free grouped split, the
configured text fields and long-text encoding), ``scripts/train.py`` (the WeightedLossTrainer) and
``scripts/evaluate.py`` (batched inference on the held-out rows, the figures ``evaluation.json``
reports). Nothing here scores differently from a pipeline run: the sweep only chooses arguments.

The TF-IDF + logistic-regression baseline is the one ``evaluate.py`` fits on the same split and the
same text; it needs no GPU, so ``--baseline`` computes it here once per text-field choice (on a
device run pass ``--no-baseline`` and read the figures from a CPU run of ``--baseline-only``, which
also fits it on each note's first 128 and 512 word pieces and with weaker and stronger class weights).

A window configuration (``long-text: chunks``) also re-scores its trained model with prediction
reading 1, 3, 5, 8 and all of each note's windows (``macro_f1_by_predicted_windows``): whether reading
more of the note matters when training or only when predicting; and with the windows' scores pooled
three ways (``macro_f1_by_window_pooling``: the mean of their logits, as the product predicts, the
mean of their probabilities, the most confident window per class), each against the first on the
same bootstrap draws. ``--rescore MODEL --split DIR`` runs both checks on a trained model alone.

Every configuration's model is also re-scored with its logits shifted by ``tau`` times the log of each
class's training share (``macro_f1_by_prior_correction``, tau in ``PRIOR_TAUS``; 0 is the product):
the class-weighted loss trains the model as if the classes were balanced, and a tau above 0 takes
part of that back at prediction, so rare specialties are predicted less often. Each against tau 0 on
the same bootstrap draws.

Results go to ``--out`` (JSON) after every configuration, so a run cut short keeps what it finished;
``--deadline`` skips configurations that would start after that many seconds. Each result keeps its
validation predictions (``validation_predictions``: each row's target and predicted class, and a
short hash of its text), so two configurations run apart, on the same split, can be compared paired:
``--compare A.json:NAME B.json:NAME`` sets them side by side as ``medtx models compare`` sets two
registered versions (``pipeline.compare``): both scored on the same bootstrap draws of the validation
texts, the difference's interval, narrower than the two runs' intervals side by side, and each class.

    python bench/quality_sweep.py --data mtsamples.csv --model DIR --out quality.json
    python bench/quality_sweep.py --compare quality.json:chunks-256 other.json:chunks-256-headings
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import lzma
import platform
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import evaluate  # noqa: E402
import preprocess  # noqa: E402
import train  # noqa: E402
from medtx_common import (  # noqa: E402
    TextEncoding,
    classification_metrics,
    load_classifier,
    load_labels,
    mean_by_text,
    predict_proba,
    read_json,
    split_fields,
    window_logits,
)

CHUNKS_128 = {"max-length": 128, "long-text": "chunks", "chunk-stride": 16, "max-chunks": 3}
CHUNKS_256 = {"long-text": "chunks", "max-length": 256, "chunk-stride": 64}
DESC = {"text-fields": "description,transcription"}
#: The description as one model input of its own beside the windows (``fields_window``), not in front
#: of the note's first window.
DESC_WINDOW = {**DESC, "fields-window": "true"}
#: The sample's title (``sample_name``) and the description together as that input; the title alone.
TITLE_DESC_WINDOW = {**DESC_WINDOW, "text-fields": "sample_name,description,transcription"}
TITLE = {"text-fields": "sample_name,transcription"}
TITLE_WINDOW = {**TITLE, "fields-window": "true"}
#: The best measured inputs beside the note's windows: its title as an input of its own, and its headings.
TITLE_HEADINGS = {**TITLE_WINDOW, "headings-window": "true"}
TRUNCATE = {"long-text": "truncate"}


def with_seed(config: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    """``config`` trained on another seed, under the name its results carry (``<name>-seed<seed>``)."""
    train_args = {**config["train"], "seed": seed}
    return {"name": f"{config['name']}-seed{seed}", "pre": config["pre"], "train": train_args}


def on_split(config: dict[str, Any], split: int) -> dict[str, Any]:
    """``config`` on the validation notes drawn with another split seed (``<name>-split<split>``)."""
    pre_args = {**config["pre"], "split-seed": split}
    return {"name": f"{config['name']}-split{split}", "pre": pre_args, "train": config["train"]}


def on_two_seeds(config: dict[str, Any]) -> list[dict[str, Any]]:
    """``config`` and its seed-7 twin, in that order: a pair splices into a list with ``*``."""
    return [config, with_seed(config)]


#: The best CPU-scale truncation at 512 tokens (six epochs at 128 tokens: 0.439; cls at 1e-4: 0.426).
TRUNCATE_512_BEST = {
    "name": "truncate-512-mean-lr2e-4",
    "pre": TRUNCATE,
    "train": {"epochs": 10, "learning-rate": 2e-4},
}

#: CPU scale's best setting at 512 tokens: the title and headings inputs beside the first window
#: alone, as good (0.504 and 0.498) as three windows at half the cost.
FIRST_512_RECIPE: dict[str, Any] = {
    "name": "first-512-lr2e-4-title-headings",
    "pre": {"long-text": "chunks", "max-chunks": 1, **TITLE_HEADINGS},
    "train": {"epochs": 10, "learning-rate": 2e-4},
}

#: Preprocess settings (the encoding and the text fields) and training settings per configuration,
#: in the order they run (a device call's deadline may stop the list early, so the likeliest levers
#: come first). Keys are the scripts' own flags. The TF-IDF baseline reading only the first 512 word
#: pieces scores as well as on the whole note (``--baseline-only``: 0.469 vs 0.467), so the pooling
#: and the schedule come first; of the long-text modes, windows trained one by one come third: at CPU
#: scale they beat the first window alone by 0.041 (and six epochs of it, at like cost, by 0.017).
CONFIGS: list[dict[str, Any]] = [
    TRUNCATE_512_BEST,
    {  # transformers' head: the plain fine-tune baselines.md reports (0.431)
        "name": "truncate-512-cls",
        "pre": TRUNCATE,
        "train": {"epochs": 10, "pooling": "cls"},
    },
    {  # CPU scale, three epochs: windows 0.456, pooled-note loss 0.430, first window only 0.415
        "name": "chunks-256-lr2e-4",
        "pre": CHUNKS_256,
        "train": {"epochs": 6, "learning-rate": 2e-4},
    },
    {  # CPU scale: the sample's title as an input of its own (``fields_window``) beside the windows and
        # headings, 0.497 and 0.500: +0.021 and +0.025 over TF-IDF on its text, both intervals clear
        "name": "chunks-256-lr2e-4-title-headings",
        "pre": {**CHUNKS_256, **TITLE_HEADINGS},
        "train": {"epochs": 6, "learning-rate": 2e-4},
    },
    FIRST_512_RECIPE,
    # the same on the split drawn with seed 7, where at CPU scale its margin over TF-IDF (0.478 on
    # that split's text) fell from +0.028 to +0.003: a margin worth quoting holds on two splits
    on_split(FIRST_512_RECIPE, 7),
    {  # CPU scale: the note's section headings as one more input beside its windows
        "name": "chunks-256-lr2e-4-headings",
        "pre": {**CHUNKS_256, "headings-window": "true"},
        "train": {"epochs": 6, "learning-rate": 2e-4},
    },
    {  # CPU scale: the description as an input of its own beside windows and headings, 0.480 and 0.477
        "name": "chunks-256-lr2e-4-desc-headings",
        "pre": {**CHUNKS_256, **DESC_WINDOW, "headings-window": "true"},
        "train": {"epochs": 6, "learning-rate": 2e-4},
    },
    {  # CPU scale: the sample's title with the description in that input, 0.487 and 0.492
        "name": "chunks-256-lr2e-4-title-desc-headings",
        "pre": {**CHUNKS_256, **TITLE_DESC_WINDOW, "headings-window": "true"},
        "train": {"epochs": 6, "learning-rate": 2e-4},
    },
    {  # CPU scale: the headings beside the first window alone, +0.02 (0.441 against 0.417-0.422)
        "name": "first-512-headings-lr2e-4",
        "pre": {"long-text": "chunks", "max-chunks": 1, "headings-window": "true"},
        "train": {"epochs": 10, "learning-rate": 2e-4},
    },
    {  # task-adaptive pretraining first; the GPU affords the longer masked-token schedules it calls for
        "name": "chunks-256-lr2e-4-mlm20",
        "pre": CHUNKS_256,
        "train": {"epochs": 6, "learning-rate": 2e-4, "mlm-epochs": 20},
    },
    {"name": "truncate-512-mean", "pre": TRUNCATE, "train": {"epochs": 10}},
    with_seed(TRUNCATE_512_BEST),
    {  # CPU scale: 0.460 on three windows (0.441-0.462 without); first 128 tokens, two seeds: +0.002
        "name": "chunks-256-lr2e-4-llrd0.8",
        "pre": CHUNKS_256,
        "train": {"epochs": 6, "learning-rate": 2e-4, "layer-lr-decay": 0.8},
    },
    {"name": "truncate-512-mean-ls0.1", "pre": TRUNCATE, "train": {"epochs": 10, "label-smoothing": 0.1}},
    {
        "name": "truncate-512-mean-20ep-cosine",
        "pre": TRUNCATE,
        "train": {"epochs": 20, "lr-scheduler": "cosine"},
    },
    {  # the loss on the pooled note, as prediction scores it; 12 notes ~ 32 windows per step
        "name": "chunks-256-desc-note",
        "pre": {**CHUNKS_256, **DESC},
        "train": {"epochs": 6, "chunk-loss": "note", "train-batch-size": 12},
    },
    {"name": "head-tail-512-desc", "pre": {"long-text": "head_tail", **DESC}, "train": {"epochs": 10}},
    {"name": "chunks-256-desc", "pre": {**CHUNKS_256, **DESC}, "train": {"epochs": 6}},
    {"name": "chunks-256", "pre": CHUNKS_256, "train": {"epochs": 6}},
    {
        "name": "chunks-512-desc",
        "pre": {"long-text": "chunks", "chunk-stride": 128, **DESC},
        "train": {"epochs": 8},
    },
]
#: The same comparison at the local ``quick`` profile's scale (all-MiniLM-L6-v2, 128 tokens; one epoch
#: at 1e-4 unless a configuration says otherwise, the profile's schedule until 2026-12-06), which 2 CPU
#: cores finish in minutes per configuration: the direction of each change, not the GPU-scale figures.
CPU_CONFIGS: list[dict[str, Any]] = [
    {"name": "cpu-truncate-128", "pre": {"max-length": 128}, "train": {}},
    {"name": "cpu-truncate-128-desc", "pre": {"max-length": 128, **DESC}, "train": {}},
    {
        "name": "cpu-head-tail-128-desc",
        "pre": {"max-length": 128, "long-text": "head_tail", "head-tokens": 64, **DESC},
        "train": {},
    },
    {
        "name": "cpu-chunks-128-desc",
        "pre": {**CHUNKS_128, **DESC},
        "train": {},
    },
]
CPU_CONFIGS += [  # two epochs: does seeing the whole note pay once the model is less undertrained?
    {"name": "cpu-truncate-128-2ep", "pre": {"max-length": 128}, "train": {"epochs": 2}},
    {
        "name": "cpu-chunks-128-2ep",
        "pre": CHUNKS_128,
        "train": {"epochs": 2},
    },
    {  # how far a longer schedule takes the model at 128 tokens (TF-IDF on the first 128: 0.4435)
        "name": "cpu-truncate-128-6ep",
        "pre": {"max-length": 128},
        "train": {"epochs": 6},
    },
    {
        "name": "cpu-truncate-128-6ep-mean",
        "pre": {"max-length": 128},
        "train": {"epochs": 6, "pooling": "mean"},
    },
    {"name": "cpu-truncate-128-3ep-seed7", "pre": {"max-length": 128}, "train": {"epochs": 3, "seed": 7}},
    {
        "name": "cpu-truncate-128-3ep-seed7-mean",
        "pre": {"max-length": 128},
        "train": {"epochs": 3, "seed": 7, "pooling": "mean"},
    },
    {
        "name": "cpu-truncate-128-6ep-lr2e-4",
        "pre": {"max-length": 128},
        "train": {"epochs": 6, "learning-rate": 2e-4},
    },
    *on_two_seeds(
        {  # fine-tuning at 1e-4 ends barely above the frozen encoder's linear probe (0.421)
            "name": "cpu-truncate-128-6ep-mean-lr2e-4",
            "pre": {"max-length": 128},
            "train": {"epochs": 6, "learning-rate": 2e-4, "pooling": "mean"},
        }
    ),
    {  # 6 notes ~ 16 windows per step (2.9 windows per note), so as many steps as per-window loss
        "name": "cpu-chunks-128-note-2ep",
        "pre": CHUNKS_128,
        "train": {"epochs": 2, "chunk-loss": "note", "train-batch-size": 6},
    },
]
BEST_128 = {"epochs": 3, "learning-rate": 2e-4, "pooling": "mean"}
CPU_CONFIGS += [  # three windows spread over the note against its first 128 tokens, best head and rate
    {"name": "cpu-truncate-128-3ep-mean-lr2e-4", "pre": {"max-length": 128}, "train": BEST_128},
    {
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-note",
        "pre": CHUNKS_128,
        "train": {**BEST_128, "chunk-loss": "note", "train-batch-size": 6},
    },
    *on_two_seeds({"name": "cpu-chunks-128-3ep-mean-lr2e-4", "pre": CHUNKS_128, "train": BEST_128}),
    # six epochs of windows: does the schedule that took truncation from 0.415 to 0.439 add to windows?
    {"name": "cpu-chunks-128-6ep-mean-lr2e-4", "pre": CHUNKS_128, "train": {**BEST_128, "epochs": 6}},
    # a window need not carry its note's specialty: soften the targets it is trained on
    {
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-ls0.1",
        "pre": CHUNKS_128,
        "train": {**BEST_128, "label-smoothing": 0.1},
    },
    # more of the note: five windows spread over it instead of three (about 630 of its word pieces, not 380)
    {"name": "cpu-chunks5-128-3ep-mean-lr2e-4", "pre": {**CHUNKS_128, "max-chunks": 5}, "train": BEST_128},
    # longer windows: three of 256 tokens read up to 760 word pieces of a note (three of 128: 380)
    {"name": "cpu-chunks-256-3ep-mean-lr2e-4", "pre": {**CHUNKS_128, "max-length": 256}, "train": BEST_128},
    # task-adaptive pretraining: two epochs of masked-token training on the same training windows first
    {
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-mlm2",
        "pre": CHUNKS_128,
        "train": {**BEST_128, "mlm-epochs": 2},
    },
    {  # the description (a one-line summary) in front of the note, so in the first window
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-desc",
        "pre": {**CHUNKS_128, **DESC},
        "train": BEST_128,
    },
    {  # the scrape's line-break commas dropped: 8% of a first window's word pieces, 3% after
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-commas",
        "pre": {**CHUNKS_128, "drop-line-break-commas": "true"},
        "train": BEST_128,
    },
    {  # layer-wise rates: the head at 2e-4, each of the 6 layers below at 0.8x, embeddings at 0.42e-4
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-llrd0.8",
        "pre": CHUNKS_128,
        "train": {**BEST_128, "layer-lr-decay": 0.8},
    },
    {  # the same on the first 128 tokens alone, a third of the cost: 0.427 (plain twin, same split: 0.423)
        "name": "cpu-truncate-128-3ep-mean-lr2e-4-llrd0.8",
        "pre": {"max-length": 128},
        "train": {**BEST_128, "layer-lr-decay": 0.8},
    },
]
CPU_CONFIGS += [  # a second seed of that pair: 0.418 without decay, 0.417 with it
    with_seed(config)
    for config in CPU_CONFIGS
    if config["name"] in {"cpu-truncate-128-3ep-mean-lr2e-4", "cpu-truncate-128-3ep-mean-lr2e-4-llrd0.8"}
]
CPU_CONFIGS += [  # bf16 autocast, native on this CPU (AMX): the same two seeds as the fp32 pair above
    *on_two_seeds(
        {
            "name": "cpu-truncate-128-3ep-mean-lr2e-4-bf16",
            "pre": {"max-length": 128},
            "train": {**BEST_128, "precision": "bf16"},
        }
    ),
    *on_two_seeds(
        {  # the best CPU-scale setting (three 128-token windows) in bf16, now the CPU default there
            "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16",
            "pre": CHUNKS_128,
            "train": {**BEST_128, "precision": "bf16"},
        }
    ),
]
CPU_CONFIGS += [  # shorter windows: 256 scored under 128, and all-MiniLM-L6-v2 was trained on 128-token
    # inputs; six windows of 64 tokens read as much of a note as three of 128 (about 380 word pieces)
    {
        "name": "cpu-chunks-64x6-3ep-mean-lr2e-4-bf16",
        "pre": {"max-length": 64, "long-text": "chunks", "chunk-stride": 8, "max-chunks": 6},
        "train": {**BEST_128, "precision": "bf16"},
    },
    # logit adjustment in place of the class-weighted loss (Menon et al., 2021), on the bf16 pair's
    # three 128-token windows
    {
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-la",
        "pre": CHUNKS_128,
        "train": {**BEST_128, "precision": "bf16", "imbalance": "logit_adjustment"},
    },
    # layer-wise decay 0.8 on the windows, now beside the bf16 pair of the same split (its fp32 run,
    # 0.460, was set against runs of an older split)
    *on_two_seeds(
        {
            "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-llrd0.8",
            "pre": CHUNKS_128,
            "train": {**BEST_128, "precision": "bf16", "layer-lr-decay": 0.8},
        }
    ),
]
CPU_CONFIGS += [  # a fourth input per note: its section headings, which say what kind of document it is
    *on_two_seeds(
        {
            "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-headings",
            "pre": {**CHUNKS_128, "headings-window": "true"},
            "train": {**BEST_128, "precision": "bf16"},
        }
    ),
    *on_two_seeds(
        {  # the first window and the headings only: the coverage check's 1-window figure, trained that way
            "name": "cpu-chunks-128x1-3ep-mean-lr2e-4-bf16-headings",
            "pre": {**CHUNKS_128, "max-chunks": 1, "headings-window": "true"},
            "train": {**BEST_128, "precision": "bf16"},
        }
    ),
    {  # twice the rate: 1e-4 -> 2e-4 helped every CPU setting; does the small model take more?
        "name": "cpu-chunks-128-3ep-mean-lr4e-4-bf16-headings",
        "pre": {**CHUNKS_128, "headings-window": "true"},
        "train": {**BEST_128, "precision": "bf16", "learning-rate": 4e-4},
    },
]
#: The best CPU-scale setting (docs/data-and-training.md, "Long notes"): each note's first 128 tokens,
#: its title as an input of its own and its headings, 3 epochs at 2e-4 in bf16.
CPU_RECIPE: dict[str, Any] = {
    "name": "cpu-chunks-128x1-3ep-mean-lr2e-4-bf16-title-headings",
    "pre": {**CHUNKS_128, "max-chunks": 1, **TITLE_HEADINGS},
    "train": {**BEST_128, "precision": "bf16"},
}
CPU_CONFIGS += [  # the description as an input of its own (``fields_window``): a prototype, 0.480 / 0.477
    *on_two_seeds(
        {
            "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-desc-headings",
            "pre": {**CHUNKS_128, **DESC_WINDOW, "headings-window": "true"},
            "train": {**BEST_128, "precision": "bf16"},
        }
    ),
    {  # the description without the headings: what each adds beside the windows
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-desc",
        "pre": {**CHUNKS_128, **DESC_WINDOW},
        "train": {**BEST_128, "precision": "bf16"},
    },
    *on_two_seeds(
        {  # the sample's title in front of the description, in the same input
            "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-title-desc-headings",
            "pre": {**CHUNKS_128, **TITLE_DESC_WINDOW, "headings-window": "true"},
            "train": {**BEST_128, "precision": "bf16"},
        }
    ),
    *on_two_seeds(
        {  # the title alone in that input: what the description adds beside it
            "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-title-headings",
            "pre": {**CHUNKS_128, **TITLE_HEADINGS},
            "train": {**BEST_128, "precision": "bf16"},
        }
    ),
    {  # the title without the headings: what the headings add once the title is there
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-title",
        "pre": {**CHUNKS_128, **TITLE_WINDOW},
        "train": {**BEST_128, "precision": "bf16"},
    },
    {  # the title in front of the note's first window instead (a few tokens: little of the note pushed out)
        "name": "cpu-chunks-128-3ep-mean-lr2e-4-bf16-title-front-headings",
        "pre": {**CHUNKS_128, **TITLE, "headings-window": "true"},
        "train": {**BEST_128, "precision": "bf16"},
    },
    {  # the recipe for a fourth epoch: training's own per-input F1 still rose from epoch 2 to 3
        "name": "cpu-chunks-128-4ep-mean-lr2e-4-bf16-title-headings",
        "pre": {**CHUNKS_128, **TITLE_HEADINGS},
        "train": {**BEST_128, "precision": "bf16", "epochs": 4},
    },
    # the recipe on the first window alone: with the title, prediction reading it alone scored as well
    *on_two_seeds(CPU_RECIPE),
    {  # that first window at 256 tokens: TF-IDF reading a note's first 128 word pieces lost 0.024
        "name": "cpu-chunks-256x1-3ep-mean-lr2e-4-bf16-title-headings",
        "pre": {**CPU_RECIPE["pre"], "max-length": 256},
        "train": CPU_RECIPE["train"],
    },
    with_seed(CPU_RECIPE, seed=3),  # a third seed for the recipe's mean
    {  # the recipe's three inputs scored together: a title alone ("Wound Debridement") need not name
        # the specialty, the note's pooled logits do. 5 notes ~ 15 inputs per step, as many steps as 16
        "name": "cpu-chunks-128x1-3ep-mean-lr2e-4-bf16-title-headings-note",
        "pre": CPU_RECIPE["pre"],
        "train": {**CPU_RECIPE["train"], "chunk-loss": "note", "train-batch-size": 5},
    },
    {  # the recipe without the headings: do they still add beside the first window and the title?
        "name": "cpu-chunks-128x1-3ep-mean-lr2e-4-bf16-title",
        "pre": {**CHUNKS_128, "max-chunks": 1, **TITLE_WINDOW},
        "train": CPU_RECIPE["train"],
    },
    {  # a title or an outline alone often fits several specialties: softer targets for every input
        "name": "cpu-chunks-128x1-3ep-mean-lr2e-4-bf16-title-headings-ls0.1",
        "pre": CPU_RECIPE["pre"],
        "train": {**CPU_RECIPE["train"], "label-smoothing": 0.1},
    },
    {  # a fourth epoch: one input per note where three windows had three, so 40% fewer steps an epoch
        "name": "cpu-chunks-128x1-4ep-mean-lr2e-4-bf16-title-headings",
        "pre": CPU_RECIPE["pre"],
        "train": {**CPU_RECIPE["train"], "epochs": 4},
    },
]
#: The recipe on other draws of the validation notes (split seeds 7 and 3): is its margin over TF-IDF
#: the project's split's?
RECIPE_SPLITS = [on_split(CPU_RECIPE, split) for split in (7, 3)]
# and split 7's small margin on a second seed: the split's, or the seed's?
CPU_CONFIGS += [*RECIPE_SPLITS, with_seed(RECIPE_SPLITS[0])]
#: The CPU configurations were measured while ``cls`` was ``TrainConfig``'s default and training ran
#: in float32 on a CPU; they keep both unless they say otherwise, so each reruns as recorded.
CPU_TRAIN = {"epochs": 1, "train-batch-size": 16, "pooling": "cls", "precision": "fp32"}
#: Shared by every configuration unless it says otherwise (the pooling is written out so each
#: result records it).
TRAIN_DEFAULTS = {
    "learning-rate": 1e-4,
    "train-batch-size": 32,
    "max-length": 512,
    "seed": 42,
    "pooling": "mean",
}


def configurations(cpu: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The configurations a run chooses from (``--cpu``: the 2-core ones) and their training defaults."""
    return (CPU_CONFIGS, {**TRAIN_DEFAULTS, **CPU_TRAIN}) if cpu else (CONFIGS, TRAIN_DEFAULTS)


def chosen(configs: list[dict[str, Any]], only: str) -> list[dict[str, Any]]:
    """The configurations ``--only`` names (comma-separated; empty: all), in the sweep's order. A name
    the sweep does not have is refused rather than skipped: a misspelt name would otherwise run nothing
    of what was asked and say nothing."""
    names = [name.strip() for name in only.split(",") if name.strip()]
    known = [config["name"] for config in configs]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"--only names configuration(s) this sweep does not have: {', '.join(unknown)} "
            f"(--list prints its {len(known)} names)"
        )
    return [config for config in configs if not names or config["name"] in names]


def flags(settings: dict[str, Any]) -> list[str]:
    return [item for key, value in settings.items() for item in (f"--{key}", str(value))]


def unpack_model(folder: Path, work: Path) -> Path:
    """A model folder as is; a carried ``model.safetensors.xz`` (fp16) unpacked to fp32 weights."""
    packed = folder / "model.safetensors.xz"
    if not packed.exists():
        return folder
    import torch
    from safetensors.torch import load_file, save_file

    target = work / "model-fp32"
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("*.xz"))
    with lzma.open(packed) as src, open(work / "fp16.safetensors", "wb") as dst:
        shutil.copyfileobj(src, dst)
    state = {
        k: v.to(torch.float32) if v.is_floating_point() else v
        for k, v in load_file(work / "fp16.safetensors").items()
    }
    save_file(state, target / "model.safetensors", metadata={"format": "pt"})
    return target


def preprocessed(cache: dict[str, Path], data: str, model: Path, pre: dict[str, Any], work: Path) -> Path:
    key = json.dumps(preprocess_settings(pre), sort_keys=True)
    if key not in cache:
        out = work / f"data-{len(cache)}"
        preprocess.main(preprocess_argv(data, model, pre, out))
        cache[key] = out
    return cache[key]


def preprocess_settings(pre: dict[str, Any]) -> dict[str, Any]:
    """A configuration's preprocessing flags; inputs are 512 tokens unless it says otherwise."""
    return {"max-length": 512, **pre}


def preprocess_argv(data: str, model: Path, pre: dict[str, Any], out: Path) -> list[str]:
    """``scripts/preprocess.py``'s arguments for a configuration's ``pre`` settings."""
    flagged = flags(preprocess_settings(pre))
    return ["--input", data, "--output-dir", str(out), "--model-name", str(model), *flagged]


def train_settings(config: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The training flags a configuration runs with: ``base``, its own, and its inputs' length."""
    settings = {**base, **config["train"]}
    settings["max-length"] = config["pre"].get("max-length", settings["max-length"])
    return settings


def train_argv(settings: dict[str, Any], data_dir: Path, model: Path, work: Path) -> list[str]:
    """``scripts/train.py``'s arguments: the split under ``data_dir``, outputs under ``work``."""
    return [
        "--train-dir", str(data_dir / "train"), "--test-dir", str(data_dir / "test"),
        "--model-dir", str(work / "model"), "--output-data-dir", str(work / "out"),
        "--checkpoint-dir", str(work / "ckpt"), "--model-name", str(model),
        "--save-steps", "1000000", "--logging-steps", "100", "--disable-tqdm", "true",
        *flags(settings),
    ]  # fmt: skip


def run_config(
    config: dict[str, Any], data_dir: Path, model: Path, work: Path, baseline: bool, base: dict[str, Any]
) -> dict[str, Any]:
    name = config["name"]
    settings = train_settings(config, base)
    started = time.perf_counter()
    metrics = train.main(train_argv(settings, data_dir, model, work / name))
    train_seconds = time.perf_counter() - started
    report = evaluate.main(
        [
            "--model", str(work / name / "model"), "--validation", str(data_dir / "eval"),
            "--train-data", str(data_dir / "pre-processed") if baseline else "",
            "--output-dir", str(work / name / "evaluation"),
        ]
    )  # fmt: skip
    figures = {k: v["value"] for k, v in report["multiclass_classification_metrics"].items() if "value" in v}
    result = {
        "name": name,
        "preprocess": config["pre"],
        "train": settings,
        "model_inputs": read_json(data_dir / "report" / "data-report.json")["model_inputs"],
        "train_seconds": round(train_seconds, 1),
        "train_samples_per_second": metrics["train"].get("train_samples_per_second"),
        **figures,
        # macro-F1 after each epoch from training's own evaluation (per model input; per note with
        # chunk_loss=note): how many epochs the setting needs
        "epoch_macro_f1": [round(e["eval_macro_f1"], 4) for e in metrics.get("eval_history", [])],
    }
    if "domain_adaptation" in metrics:  # masked-token training first: its cost and held-out loss
        result["domain_adaptation"] = metrics["domain_adaptation"]
    if "baseline" in report:
        result["baseline_macro_f1"] = report["baseline"]["macro_f1"]
        result["baseline_accuracy"] = report["baseline"]["accuracy"]
    # per note, as the endpoint answers one (right when the answer is any specialty the note is filed
    # under), and the share answered at the review target (evaluation.json's ``selective``)
    for key, found in (("selective", report), ("baseline_selective", report.get("baseline"))):
        if found:
            result[key] = {k: v for k, v in found["selective"].items() if k != "curve"}
    if "bootstrap" in report:  # intervals over the validation texts (paired with the baseline's)
        result["bootstrap"] = {
            k: v for k, v in report["bootstrap"].items() if k in ("interval", "share_above_baseline")
        }
    result["macro_f1_by_prior_correction"] = prior_correction(work / name / "model", data_dir)
    if config["pre"].get("long-text") == "chunks":
        result["macro_f1_by_predicted_windows"] = window_coverage(work / name / "model", data_dir / "eval")
        result["macro_f1_by_window_pooling"] = window_pooling(work / name / "model", data_dir / "eval")
    result["validation_predictions"] = validation_predictions(
        work / name / "evaluation", work / name / "model"
    )
    return result


def validation_predictions(evaluation: Path, model_dir: Path) -> dict[str, list[Any]]:
    """The model's classes, and each validation row of the evaluation's ``model-performance.csv``: its
    id, a short hash of its note (the transcription, without the description or sample name that
    ``text_fields`` may join to it: the bootstrap's unit, a note's rows stand or fall together, and
    the same on every choice of fields, so runs that differ in them pair), its target and predicted
    class (their index in ``labels``). What ``--compare`` pairs two runs on; the texts themselves stay
    out of the results."""
    table = evaluate.read_table(
        evaluation, evaluate.MODEL_PERFORMANCE_CSV, ["row_id", "text", "target", "pred"]
    )
    fields = len(TextEncoding.load(model_dir, 512).text_fields)
    notes = [split_fields(str(t), fields)[1] if fields > 1 else str(t) for t in table["text"]]
    return {
        "labels": load_labels(model_dir),
        "row_id": table["row_id"].astype(int).tolist(),
        "text_sha1": [hashlib.sha1(n.encode()).hexdigest()[:12] for n in notes],
        "target": table["target"].astype(int).tolist(),
        "pred": table["pred"].astype(int).tolist(),
    }


def compare(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two results as ``medtx models compare`` sets two registered versions side by side
    (``pipeline.compare``): each one's figures, and when they were scored on the same validation rows
    the difference of their macro-F1 (first minus second) with its paired bootstrap interval and the
    share of draws in which the first is ahead, the rows where only one is right and each class's F1
    in both, with a one-sentence ``verdict``. Results of different splits or label sets are not
    paired (``reason`` says why)."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from pipeline.compare import compare as compare_versions
    from pipeline.compare import verdict

    reports, tables = [], []
    for result in (first, second):
        kept = result.get("validation_predictions")
        if kept is None:
            raise ValueError(f"{result['name']}: no validation_predictions (kept from 2026-12-05 on)")
        target, pred = kept["target"], kept["pred"]
        figures = classification_metrics(np.asarray(target), np.asarray(pred), len(kept["labels"]))
        report = {
            "labels": kept["labels"],
            "multiclass_classification_metrics": {k: {"value": v} for k, v in figures.items()},
        }
        baseline = result.get("baseline_macro_f1")
        if baseline is not None:  # as evaluation.json has it: the TF-IDF fit on the same rows
            report.update(
                baseline={"macro_f1": baseline}, macro_f1_minus_baseline=figures["macro_f1"] - baseline
            )
        reports.append(report)
        labels = [kept["labels"][i] for i in target]
        columns = {"row_id": kept["row_id"], "text": kept["text_sha1"], "target_label": labels}
        tables.append(pd.DataFrame({**columns, "target": target, "pred": pred}))
    found = compare_versions(reports[0], tables[0], reports[1], tables[1], evaluate.EvalConfig())
    return {
        "first": first["name"],
        "second": second["name"],
        **found,
        "verdict": verdict(found, first["name"], second["name"]),
    }


def load_result(spec: str) -> dict[str, Any]:
    """``FILE.json:NAME``: that configuration's result in a sweep's output (``FILE.json`` alone: its
    only result)."""
    path, _, name = spec.partition(".json:")
    path = path if path.endswith(".json") else f"{path}.json"
    found = [r for r in read_json(Path(path))["results"] if not name or r["name"] == name]
    if len(found) != 1:
        raise ValueError(f"{spec}: {len(found)} results match (name one as FILE.json:NAME)")
    return found[0]


def dumps(summary: dict[str, Any]) -> str:
    """The summary as indented JSON with each list of plain values on one line (the predictions would
    otherwise take a line per row)."""
    text = json.dumps(summary, indent=2)
    scalar = r'(?:"[^"\\\n]*"|-?[\d.]+(?:[eE][-+]?\d+)?|null|true|false)'
    inline = rf"\[\s*{scalar}(?:,\s*{scalar})*\s*\]"
    return re.sub(inline, lambda m: json.dumps(json.loads(m[0])), text) + "\n"


#: Windows per note that prediction reads in the coverage check of window configurations (0: all).
PREDICTED_WINDOWS = (1, 3, 5, 8, 0)


def window_coverage(model_dir: Path, eval_dir: Path) -> dict[str, float]:
    """Macro-F1 of the same trained window model when prediction reads each ``PREDICTED_WINDOWS``
    count of a note's windows (spread as in training) instead of the ``max_chunks`` it was trained
    with: whether the note's coverage matters at training or only at prediction. The figure at the
    trained ``max_chunks`` repeats the evaluation step's (same code path; a deliberate check)."""
    validation = evaluate.read_table(eval_dir, "validation.csv", ["text", "target"])
    texts, targets = validation["text"].tolist(), validation["target"].astype(int).to_numpy()
    classifier = load_classifier(model_dir)
    trained, batch_size = classifier["encoding"], evaluate.EvalConfig().batch_size
    figures = {}
    for windows in PREDICTED_WINDOWS:
        classifier["encoding"] = dataclasses.replace(trained, max_chunks=windows or sys.maxsize)
        predicted = predict_proba(classifier, texts, batch_size).argmax(axis=1)
        f1 = classification_metrics(targets, predicted, len(classifier["labels"]))["macro_f1"]
        figures[str(windows or "all")] = round(f1, 4)
    return figures


#: How the pooling check turns a note's window logits into its scores (the product: ``mean_logits``).
WINDOW_POOLINGS = ("mean_logits", "mean_probs", "max_probs")


def pool_windows(logits: np.ndarray, docs: np.ndarray, notes: int, how: str) -> np.ndarray:
    """One row of scores per note from its windows' logits: mean logits, mean probabilities, or each
    class's highest probability over the windows."""
    if how == "mean_logits":
        values = logits.astype(np.float64)
    else:
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        values = shifted / shifted.sum(axis=1, keepdims=True)
    if how == "max_probs":
        pooled = np.full((notes, logits.shape[1]), -np.inf)
        np.maximum.at(pooled, docs, values)
        return pooled
    if how not in ("mean_logits", "mean_probs"):
        raise ValueError(f"unknown window pooling {how!r} ({', '.join(WINDOW_POOLINGS)})")
    return mean_by_text(values, docs, notes)


def window_pooling(model_dir: Path, eval_dir: Path) -> dict[str, Any]:
    """Macro-F1 of the trained window model under each ``WINDOW_POOLINGS`` (the windows scored once),
    and for each alternative the paired bootstrap interval of its difference to ``mean_logits``: a
    difference between poolings of one model is far less noisy than one between training runs."""
    validation = evaluate.read_table(eval_dir, "validation.csv", ["text", "target"])
    texts, targets = validation["text"].tolist(), validation["target"].astype(int).to_numpy()
    classifier = load_classifier(model_dir)
    position: dict[str, int] = {}
    inverse = np.fromiter((position.setdefault(t, len(position)) for t in texts), np.int64, len(texts))
    logits, docs = window_logits(classifier, list(position), evaluate.EvalConfig().batch_size)
    predicted = {
        how: pool_windows(logits, docs, len(position), how)[inverse].argmax(axis=1) for how in WINDOW_POOLINGS
    }
    labels, cfg = len(classifier["labels"]), evaluate.EvalConfig()
    figures: dict[str, Any] = {}
    for how, pred in predicted.items():
        figures[how] = {"macro_f1": round(classification_metrics(targets, pred, labels)["macro_f1"], 4)}
        if how != WINDOW_POOLINGS[0]:
            paired = evaluate.bootstrap_figures(
                targets, pred, texts, labels, cfg, baseline_pred=predicted[WINDOW_POOLINGS[0]]
            )
            figures[how]["minus_mean_logits_interval"] = [
                round(v, 4) for v in paired["interval"]["macro_f1_minus_baseline"]
            ]
            figures[how]["share_above_mean_logits"] = round(paired["share_above_baseline"], 4)
            figures[how]["predictions_changed"] = int((pred != predicted[WINDOW_POOLINGS[0]]).sum())
    return figures


#: Shares of the log class prior added back to the logits in the prior-correction check (0: none).
PRIOR_TAUS = (0.0, 0.1, 0.25, 0.5)


def prior_correction(model_dir: Path, split: Path) -> dict[str, Any]:
    """Macro-F1 (and accuracy, macro precision and recall) of the trained model on the validation rows
    with ``tau * log(class share)`` added to its log-probabilities as served (at the model's fitted
    temperature, ``TrainConfig.calibrate``; figures before 2026-12-06 at 1) for each ``PRIOR_TAUS``; the class
    shares are those the balanced weights of ``preprocess.py`` came from (a share is proportional to
    one over the weight). Each tau above 0 against tau 0 on the same bootstrap draws."""
    validation = evaluate.read_table(split / "eval", "validation.csv", ["text", "target"])
    texts, targets = validation["text"].tolist(), validation["target"].astype(int).to_numpy()
    cfg = evaluate.EvalConfig()
    probs = predict_proba(load_classifier(model_dir), texts, cfg.batch_size)
    shares = 1 / np.asarray(read_json(split / "train" / "class_weights.json")["weights"])
    shares /= shares.sum()
    log_probs, labels = np.log(np.clip(probs, 1e-12, None)), probs.shape[1]
    predicted = {tau: (log_probs + tau * np.log(shares)).argmax(axis=1) for tau in PRIOR_TAUS}
    figures: dict[str, Any] = {}
    for tau, pred in predicted.items():
        found = classification_metrics(targets, pred, labels)
        figures[str(tau)] = {
            k: round(found[k], 4) for k in ("macro_f1", "accuracy", "macro_precision", "macro_recall")
        }
        if tau:
            none = predicted[0.0]
            paired = evaluate.bootstrap_figures(targets, pred, texts, labels, cfg, baseline_pred=none)
            figures[str(tau)]["minus_none_interval"] = [
                round(v, 4) for v in paired["interval"]["macro_f1_minus_baseline"]
            ]
            figures[str(tau)]["share_above_none"] = round(paired["share_above_baseline"], 4)
    return figures


def baseline_only(data: str, model: Path, work: Path) -> list[dict[str, Any]]:
    """The TF-IDF baseline for each text-field choice of ``CONFIGS`` (CPU, no model training)."""
    results, seen = [], set()
    for config in CONFIGS:
        fields = config["pre"].get("text-fields", "transcription")
        if fields in seen:
            continue
        seen.add(fields)
        folder = work / f"baseline-{len(seen)}"
        preprocess.main(
            [
                "--input",
                data,
                "--output-dir",
                str(folder),
                "--model-name",
                str(model),
                "--text-fields",
                fields,
            ]
        )
        train_rows = evaluate.read_table(
            folder / "pre-processed", "pre-processed.csv", ["text", "label", "split"]
        )
        train_rows = train_rows[train_rows["split"] == "train"]
        validation = evaluate.read_table(folder / "eval", "validation.csv", ["text", "target"])
        train_texts, test_texts = train_rows["text"].tolist(), validation["text"].tolist()
        split = {
            "train_labels": train_rows["label"].astype(int).to_numpy(),
            "test_labels": validation["target"].astype(int).to_numpy(),
            "num_labels": len(read_json(folder / "train" / "label_map.json")["id2label"]),
        }
        cfg = evaluate.EvalConfig()
        figures, _ = evaluate.fit_baseline(train_texts=train_texts, test_texts=test_texts, cfg=cfg, **split)
        results.append({"text_fields": fields, **figures})
        print(json.dumps(results[-1]), flush=True)
        if fields != "transcription":
            continue
        # What the linear model scores when it reads only what a truncating transformer reads.
        for tokens in BASELINE_CUTS:
            figures, _ = evaluate.fit_baseline(
                train_texts=first_tokens(train_texts, model, tokens),
                test_texts=first_tokens(test_texts, model, tokens),
                cfg=cfg,
                **split,
            )
            results.append({"text_fields": fields, "first_tokens": tokens, **figures})
            print(json.dumps(results[-1]), flush=True)
        for power, figures in weighting_sweep(train_texts, test_texts, cfg, **split):
            results.append({"text_fields": fields, "class_weight_power": power, **figures})
            print(json.dumps(results[-1]), flush=True)
    return results


#: Exponents of the balanced class weights for the weighting check: 0 is no weighting, 1 is
#: ``compute_class_weight('balanced')`` (what preprocessing writes for the weighted loss and what the
#: baseline uses).
WEIGHT_POWERS = (0.0, 0.5, 0.75, 1.0, 1.25)


def weighting_sweep(
    train_texts: list[str],
    test_texts: list[str],
    cfg: evaluate.EvalConfig,
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    num_labels: int,
) -> list[tuple[float, dict[str, Any]]]:
    """The baseline with class weights ``(n / (k * count)) ** power``: how macro-F1 on this data
    responds to the strength of class weighting (the same features for every power)."""
    from sklearn.linear_model import LogisticRegression

    vectorizer = evaluate.baseline_vectorizer(cfg)
    features, test_features = vectorizer.fit_transform(train_texts), vectorizer.transform(test_texts)
    balanced = preprocess.class_weights(train_labels, num_labels)
    results = []
    for power in WEIGHT_POWERS:
        weights = {label: weight**power for label, weight in enumerate(balanced)}
        model = LogisticRegression(class_weight=weights, max_iter=cfg.baseline_max_iter)
        model.fit(features, train_labels)
        figures = evaluate.classification_metrics(test_labels, model.predict(test_features), num_labels)
        results.append((power, figures))
    return results


#: Cuts for the baseline-only comparison: the text of the first N word pieces.
BASELINE_CUTS = (128, 512)


def first_tokens(texts: list[str], model: Path, tokens: int) -> list[str]:
    """Each text up to the end of its first ``tokens`` word pieces (the model's tokenizer, special
    tokens counted, as ``--long-text truncate --max-length N`` keeps them)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, use_fast=True)
    spans = tokenizer(texts, truncation=True, max_length=tokens, return_offsets_mapping=True)
    return [
        text[: max(end for _, end in offsets)]
        for text, offsets in zip(texts, spans["offset_mapping"], strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="raw mtsamples CSV (.csv or .csv.gz)")
    parser.add_argument("--model", type=Path, help="model folder (or one with model.safetensors.xz)")
    parser.add_argument(
        "--rescore", type=Path, help="a trained window model: run the window checks on it, no training"
    )
    parser.add_argument("--split", type=Path, help="with --rescore: preprocess.py's output folder")
    parser.add_argument("--out", type=Path, default=Path("quality.json"))
    parser.add_argument("--only", default="", help="comma-separated configuration names")
    parser.add_argument("--list", action="store_true", help="print the configuration names and exit")
    parser.add_argument(
        "--deadline", type=float, default=float("inf"), help="seconds; later configs are skipped"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline (fit it on CPU)")
    parser.add_argument("--baseline-only", action="store_true", help="only the baselines, no training")
    parser.add_argument("--smoke", action="store_true", help="tiny settings on CPU (checks the code)")
    parser.add_argument("--cpu", action="store_true", help="the quick-profile-scale configurations")
    parser.add_argument(
        "--compare", nargs=2, metavar="FILE.json:NAME", help="two kept results: their paired difference"
    )
    cli = parser.parse_args()
    configs, base = configurations(cli.cpu)
    if cli.list:
        print("\n".join(config["name"] for config in configs))
        return
    try:
        configs = chosen(configs, cli.only)
    except ValueError as err:
        parser.error(str(err))
    if cli.compare:
        try:
            print(json.dumps(compare(*(load_result(spec) for spec in cli.compare)), indent=2))
        except (ValueError, OSError, KeyError) as err:
            parser.error(str(err))
        return
    if cli.rescore:
        if not cli.split:
            parser.error("--rescore needs --split (the folder preprocess.py wrote, with eval/)")
        checks = {
            "model": str(cli.rescore),
            "macro_f1_by_predicted_windows": window_coverage(cli.rescore, cli.split / "eval"),
            "macro_f1_by_window_pooling": window_pooling(cli.rescore, cli.split / "eval"),
            "macro_f1_by_prior_correction": prior_correction(cli.rescore, cli.split),
        }
        print(json.dumps(checks, indent=2))
        cli.out.write_text(json.dumps(checks, indent=2) + "\n")
        return
    if not cli.data or not cli.model:
        parser.error("--data and --model are required (or --rescore MODEL --split DIR)")
    started = time.perf_counter()
    import torch
    import transformers

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = cli.data
        if data.endswith(".gz"):
            import gzip

            with gzip.open(data) as src, open(work / "data.csv", "wb") as dst:
                shutil.copyfileobj(src, dst)
            data = str(work / "data.csv")
        model = unpack_model(cli.model, work)
        summary: dict[str, Any] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)",
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
            "model": str(cli.model.name),
            "results": [],
            "skipped": [],
        }
        if cli.baseline_only:
            summary["baselines"] = baseline_only(data, model, work)
            cli.out.write_text(dumps(summary))
            return
        cache: dict[str, Path] = {}
        for config in configs:
            if time.perf_counter() - started > cli.deadline:
                summary["skipped"].append(config["name"])
                continue
            if cli.smoke:
                config = {
                    "name": config["name"],
                    "pre": {**config["pre"], "max-length": 32, "chunk-stride": 8},
                    "train": {**config["train"], "epochs": 1, "max-train-samples": 64},
                }
            data_dir = preprocessed(cache, data, model, config["pre"], work)
            try:
                result = run_config(config, data_dir, model, work, not cli.no_baseline, base)
            except Exception as exc:  # keep the other configurations' figures
                result = {"name": config["name"], "error": repr(exc)[:500]}
            summary["results"].append(result)
            shown = {k: v for k, v in result.items() if k != "validation_predictions"}
            print("[quality]", json.dumps(shown), flush=True)
            cli.out.write_text(dumps(summary))
            shutil.rmtree(work / config["name"], ignore_errors=True)
        summary["wall_seconds"] = round(time.perf_counter() - started, 1)
        cli.out.write_text(dumps(summary))
    for row in summary["results"]:
        if "error" in row:
            print(f"{row['name']:32s} error {row['error']}")
        else:
            figures = f"macro-F1 {row['macro_f1']:.4f} accuracy {row['accuracy']:.4f}"
            print(f"{row['name']:32s} {figures} ({row['train_seconds']} s)")


if __name__ == "__main__":
    main()
