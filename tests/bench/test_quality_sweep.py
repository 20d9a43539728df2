"""``bench/quality_sweep.py``'s configurations: every one must be arguments the scripts accept.

A device session has 15 minutes; a misspelt flag or an out-of-range choice in a GPU configuration would
only show there, as that configuration's error, after its preprocessing had run. Parsing them here
catches it on any machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

import preprocess
import train
from bench import quality_sweep
from medtx_common import parse_bool

SWEEPS = {"gpu": quality_sweep.configurations(cpu=False), "cpu": quality_sweep.configurations(cpu=True)}


def _reads_as(parsed, value) -> bool:
    """Whether a parsed argument is the configured value, in the argument's own type."""
    if isinstance(parsed, bool):
        return parsed == parse_bool(value)  # reads True as well as "true"
    return parsed == type(parsed)(value)


CASES = [(sweep, config) for sweep, (configs, _) in SWEEPS.items() for config in configs]


@pytest.mark.parametrize("sweep", sorted(SWEEPS))
def test_names_are_unique(sweep):
    names = [config["name"] for config in SWEEPS[sweep][0]]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("sweep", sorted(SWEEPS))
def test_a_seed_twin_is_its_configuration_on_another_seed(sweep):
    # the paired comparisons read a "-seed<N>" result as the same setting: nothing else may differ
    configs = {config["name"]: config for config in SWEEPS[sweep][0]}
    twins = {
        name: (match["base"], int(match["seed"]))
        for name in configs
        if (match := re.fullmatch(r"(?P<base>.+)-seed(?P<seed>\d+)", name)) and match["base"] in configs
    }
    assert twins
    for name, (base, seed) in twins.items():
        assert configs[name] == quality_sweep.with_seed(configs[base], seed=seed), name


@pytest.mark.parametrize(("sweep", "config"), CASES, ids=[f"{s}:{c['name']}" for s, c in CASES])
def test_configuration_parses_as_the_scripts_arguments(sweep, config, tmp_path: Path):
    _, base = SWEEPS[sweep]
    pre = preprocess.parse_args(quality_sweep.preprocess_argv("data.csv", tmp_path, config["pre"], tmp_path))
    settings = quality_sweep.train_settings(config, base)
    args = train.parse_args(quality_sweep.train_argv(settings, tmp_path, tmp_path, tmp_path))
    # what the configuration asks for is what each script reads (no flag swallowed by another)
    for key, value in quality_sweep.preprocess_settings(config["pre"]).items():
        assert _reads_as(getattr(pre, key.replace("-", "_")), value), key
    for key, value in settings.items():
        assert _reads_as(getattr(args, key.replace("-", "_")), value), key
    # preprocessing and training read inputs of the same length
    assert args.max_length == pre.max_length


def test_window_pooling_pools_each_note_its_own_way():
    import numpy as np

    # note 0: two windows, one sure of class 0, one of class 1; note 1: one window
    logits = np.array([[4.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    docs = np.array([0, 0, 1])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    mean_logits = quality_sweep.pool_windows(logits, docs, 2, "mean_logits")
    np.testing.assert_allclose(mean_logits, [[2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    mean_probs = quality_sweep.pool_windows(logits, docs, 2, "mean_probs")
    np.testing.assert_allclose(mean_probs, [(probs[0] + probs[1]) / 2, probs[2]], rtol=1e-6)
    np.testing.assert_allclose(mean_probs.sum(axis=1), 1.0)
    max_probs = quality_sweep.pool_windows(logits, docs, 2, "max_probs")
    np.testing.assert_allclose(max_probs, [np.maximum(probs[0], probs[1]), probs[2]], rtol=1e-6)
    assert mean_probs[0].argmax() == 0 and max_probs[0, 1] > mean_probs[0, 1]
    with pytest.raises(ValueError, match="unknown window pooling 'median'"):
        quality_sweep.pool_windows(logits, docs, 2, "median")


def _result(name: str, pred: list[str], target: list[str], texts: list[str]) -> dict:
    """A kept result over the classes a-d: each row's target and prediction by index."""
    labels = ["a", "b", "c", "d"]
    kept = {"labels": labels, "row_id": list(range(len(target))), "text_sha1": texts}
    index = {"target": [labels.index(v) for v in target], "pred": [labels.index(v) for v in pred]}
    return {"name": name, "validation_predictions": {**kept, **index}}


def test_compare_sets_two_runs_side_by_side_as_models_compare_does():
    target = ["a", "b", "c"] * 20
    texts = [f"{i // 2:012x}" for i in range(60)]  # two rows a text: they are drawn together
    right = _result("right", target, target, texts)
    half = _result("half", target[:30] + ["b", "c", "a"] * 10, target, texts)
    found = quality_sweep.compare(right, half)
    # over the four classes of the label map, as the evaluation step scores ("d": 0 in both)
    assert found["a"]["macro_f1"] == pytest.approx(0.75) and found["b"]["macro_f1"] < 0.75
    assert found["paired"] and found["rows"] == 60 and found["texts"] == 30
    assert found["disagreements"] == {"rows": 30, "only_a_right": 30, "only_b_right": 0}
    low, high = found["bootstrap"]["interval"]
    assert 0 < low <= found["macro_f1_difference"] <= high and found["bootstrap"]["share_a_ahead"] == 1.0
    assert found["verdict"].startswith("right is ahead of half")
    assert {c["label"] for c in found["classes"]} == {"a", "b", "c"}
    assert quality_sweep.compare(half, right)["bootstrap"]["share_a_ahead"] == 0.0
    same = quality_sweep.compare(half, half)
    assert same["macro_f1_difference"] == 0 and same["bootstrap"]["interval"] == [0, 0]
    assert same["verdict"] == "half and half predict the same class on every row: no difference to tell"
    # rows of another split are not paired; a result from before the predictions were kept is refused
    other = _result("other", target, target, [f"{i:012x}" for i in range(100, 160)])
    unpaired = quality_sweep.compare(right, other)
    assert not unpaired["paired"] and "different validation rows" in unpaired["reason"]
    with pytest.raises(ValueError, match="old: no validation_predictions"):
        quality_sweep.compare(right, {"name": "old"})


def test_kept_predictions_hash_the_note_so_runs_of_other_text_fields_pair(tmp_path: Path):
    """The bootstrap's unit is the note (its transcription): a run that joins the description to it
    keeps the same hashes as one that does not, so the two pair row for row."""
    import pandas as pd

    from medtx_common import TextEncoding, join_fields, save_label_map

    notes, descriptions = ["HISTORY: knee pain.", "EXAM: normal | fine."], ["Knee sprain.", ""]
    kept = {}
    for name, fields in (("note", ("transcription",)), ("both", ("description", "transcription"))):
        folder = tmp_path / name
        save_label_map(folder, ["a", "b"])
        TextEncoding(max_length=32, text_fields=fields).save(folder)
        texts = [join_fields([d, n][-len(fields) :]) for d, n in zip(descriptions, notes, strict=True)]
        table = pd.DataFrame({"row_id": [3, 7], "text": texts, "target": [0, 1], "pred": [0, 0]})
        table.to_csv(folder / "model-performance.csv", index=False)
        kept[name] = quality_sweep.validation_predictions(folder, folder)
    assert kept["note"] == kept["both"] and kept["note"]["labels"] == ["a", "b"]
    assert len(set(kept["note"]["text_sha1"])) == 2


def test_results_keep_plain_lists_on_one_line(tmp_path: Path):
    import json

    row = {"name": "x", "epochs": [0.1, 0.2], "kept": {"pred": ["a / b", "c"]}, "checks": [{"k": 1}]}
    summary = {"results": [row, {"name": "y", "quoted": ['say "x"', "z"]}]}
    text = quality_sweep.dumps(summary)
    assert json.loads(text) == summary
    assert '"epochs": [0.1, 0.2]' in text and '"pred": ["a / b", "c"]' in text
    path = tmp_path / "sweep.json"
    path.write_text(text)
    assert quality_sweep.load_result(f"{path}:y")["quoted"] == ['say "x"', "z"]
    with pytest.raises(ValueError, match="2 results match"):
        quality_sweep.load_result(str(path))
    with pytest.raises(ValueError, match="0 results match"):
        quality_sweep.load_result(f"{path}:nope")


def test_only_takes_the_named_configurations_in_the_sweeps_order_and_refuses_an_unknown_name():
    configs, _ = SWEEPS["cpu"]
    first, second = configs[0]["name"], configs[1]["name"]
    assert [c["name"] for c in quality_sweep.chosen(configs, f"{second}, {first}")] == [first, second]
    assert quality_sweep.chosen(configs, "") == configs
    with pytest.raises(ValueError, match=r"does not have: no-such-config \(--list prints its \d+ names\)"):
        quality_sweep.chosen(configs, f"{first},no-such-config")


RECORDED = re.compile(r"quality_sweep\.py(?P<args>(?: --?[a-z-]+(?: [^\s`-][^\s`]*)?)*)")


def test_every_recorded_sweep_command_names_configurations_the_sweep_has():
    """bench/RESULTS.md and the docs give the command behind each figure; each configuration they
    name must still be in the sweep it ran in (the GPU one, or ``--cpu``'s), so the figure can be
    reproduced by copying the command."""
    root = Path(__file__).resolve().parents[2]
    pages = [root / "bench" / "RESULTS.md", root / "README.md", *sorted((root / "docs").glob("*.md"))]
    recorded = []
    for page in pages:
        for match in RECORDED.finditer(page.read_text()):
            if only := re.search(r"--only[ =](\S+)", match["args"]):
                sweep = "cpu" if "--cpu" in match["args"].split() else "gpu"
                recorded += [(page.name, sweep, name) for name in only[1].split(",")]
    assert len(recorded) >= 10  # the pattern still finds the commands
    names = {sweep: {config["name"] for config in configs} for sweep, (configs, _) in SWEEPS.items()}
    assert [(page, sweep, name) for page, sweep, name in recorded if name not in names[sweep]] == []
