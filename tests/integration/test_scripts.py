"""Each container script's ``main()`` end to end on the bundled CSV, with a few training steps.

One preprocess -> train -> evaluate chain is built per module and its files are checked step by step.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import BUNDLED_CSV, OFFLINE_MODEL, ROOT

from pipeline import code_bundle

pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

MAX_LENGTH = "64"


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    import evaluate
    import preprocess
    import train

    root = tmp_path_factory.mktemp("chain")
    report = preprocess.main(
        [
            "--input",
            str(BUNDLED_CSV),
            "--output-dir",
            str(root / "pp"),
            "--model-name",
            OFFLINE_MODEL,
            "--max-length",
            MAX_LENGTH,
            "--publish-dir",
            str(root / "published"),
            "--input-version",
            "sha256-0123456789abcdef",
        ]
    )
    metrics = train.main(
        [
            "--train-dir",
            str(root / "pp" / "train"),
            "--test-dir",
            str(root / "pp" / "test"),
            "--model-dir",
            str(root / "model"),
            "--output-data-dir",
            str(root / "train-out"),
            "--checkpoint-dir",
            str(root / "ckpt"),
            "--model-name",
            OFFLINE_MODEL,
            "--max-length",
            "48",
            "--max-train-samples",
            "48",
            "--max-eval-samples",
            "24",
            "--max-steps",
            "3",
            "--logging-steps",
            "1",
            "--train-batch-size",
            "16",
            "--disable-tqdm",
            "true",
        ]
    )
    with tarfile.open(root / "model.tar.gz", "w:gz") as tar:  # as SageMaker packs SM_MODEL_DIR
        for item in (root / "model").iterdir():
            tar.add(item, arcname=item.name)
    evaluation = evaluate.main(
        [
            "--model",
            str(root / "model.tar.gz"),
            "--validation",
            str(root / "pp" / "eval"),
            "--train-data",
            str(root / "pp" / "pre-processed"),
            "--output-dir",
            str(root / "eval"),
            "--publish-dir",
            str(root / "published" / "pre-processed" / "eval"),
        ]
    )
    return {"root": root, "report": report, "metrics": metrics, "evaluation": evaluation}


def test_preprocess_writes_datasets_maps_weights_and_report(chain):
    from datasets import load_from_disk

    pp = chain["root"] / "pp"
    train, test = load_from_disk(str(pp / "train")), load_from_disk(str(pp / "test"))
    assert {"input_ids", "attention_mask", "labels", "length"} <= set(train.column_names)
    assert max(train["length"]) <= int(MAX_LENGTH)
    label_map = json.loads((pp / "train" / "label_map.json").read_text())
    assert len(label_map["id2label"]) == 23
    weights = json.loads((pp / "train" / "class_weights.json").read_text())
    assert len(weights["weights"]) == 23 and weights["labels"] == [
        label_map["id2label"][str(i)] for i in range(23)
    ]

    eda = pd.read_csv(pp / "pre-processed" / "pre-processed.csv", keep_default_na=False)
    assert set(eda["split"]) == {"train", "validation"}
    assert not set(eda.loc[eda.split == "train", "text"]) & set(eda.loc[eda.split == "validation", "text"])
    assert "keywords" not in eda.columns
    validation = pd.read_csv(pp / "eval" / "validation.csv", keep_default_na=False)
    assert len(validation) == len(test) == (eda.split == "validation").sum()
    assert len(train) == (eda.split == "train").sum()

    report = json.loads((pp / "report" / "data-report.json").read_text())
    assert report["rows_in"] == report["rows_out"] + sum(report["dropped"].values())
    assert report["split"]["texts_on_both_sides"] == 0
    assert report["input_version"] == "sha256-0123456789abcdef"


def test_train_writes_model_with_label_names_and_metrics(chain):
    model_dir = chain["root"] / "model"
    config = json.loads((model_dir / "config.json").read_text())
    assert len(config["id2label"]) == 23 and config["id2label"]["0"] == "Cardiovascular / Pulmonary"
    assert (model_dir / "tokenizer.json").exists() and (model_dir / "label_map.json").exists()
    metrics = json.loads((chain["root"] / "train-out" / "train_metrics.json").read_text())
    assert metrics["train"]["epoch"] > 0 and metrics["train"]["train_loss"] > 0
    assert "eval_macro_f1" in metrics["eval"]
    # the model archive carries the same record, for evaluation and whoever holds the archive
    assert json.loads((model_dir / "train_metrics.json").read_text()) == metrics
    # the scores' temperature, fitted on the (24) validation notes, travels in the archive
    found = metrics["calibration"]
    assert found["notes"] == 24 and found["log_loss_after"] <= found["log_loss_before"] + 1e-9
    training = json.loads((model_dir / "training_config.json").read_text())
    assert training["temperature"] == found["temperature"] and 0.05 <= found["temperature"] <= 20


def test_one_seed_trains_one_model(chain, tmp_path):
    """``--seed`` decides the classifier's initial weights and the training after them, whatever state
    torch's generator was left in: two jobs with one seed save the same weights, another seed others."""
    import torch
    from safetensors.torch import load_file

    import train

    def trained(name: str, seed: str) -> dict:
        torch.rand(7)  # the generator moves on between jobs, as it does in any longer-lived process
        train.main(
            [
                "--train-dir", str(chain["root"] / "pp" / "train"), "--test-dir", str(tmp_path / "none"),
                "--model-dir", str(tmp_path / name), "--output-data-dir", str(tmp_path / f"{name}-out"),
                "--checkpoint-dir", str(tmp_path / f"{name}-ckpt"), "--model-name", OFFLINE_MODEL,
                "--max-length", "32", "--max-train-samples", "32", "--max-steps", "2",
                "--train-batch-size", "16", "--disable-tqdm", "true", "--seed", seed,
            ]
        )  # fmt: skip
        weights = sorted((tmp_path / name).glob("*.safetensors"))  # the encoder's, the head's
        return {f"{path.name}:{key}": value for path in weights for key, value in load_file(path).items()}

    first, again, other = trained("a", "7"), trained("b", "7"), trained("c", "8")
    assert first.keys() == again.keys() == other.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_evaluate_figures_equal_what_the_csv_gives(chain):
    from medtx_common import classification_metrics

    out = chain["root"] / "eval"
    table = pd.read_csv(out / "model-performance.csv", keep_default_na=False)
    assert {"text", "target", "pred", "score", "target_label", "pred_label"} <= set(table.columns)
    validation = pd.read_csv(chain["root"] / "pp" / "eval" / "validation.csv", keep_default_na=False)
    assert table["row_id"].tolist() == validation["row_id"].tolist()
    report = json.loads((out / "evaluation.json").read_text())
    recomputed = classification_metrics(table["target"], table["pred"], len(report["labels"]))
    for name, value in recomputed.items():
        assert report["multiclass_classification_metrics"][name]["value"] == pytest.approx(value)
    assert 0.0 <= report["baseline"]["macro_f1"] <= 1.0 and report["baseline"]["train_rows"] > 0
    assert (out / "per-class-metrics.csv").exists() and (out / "confusion-matrix.csv").exists()
    # what scored it, as the endpoint logs it: `auto` is bfloat16 only where the CPU has it natively
    import torch
    import transformers

    from medtx_common import native_bf16

    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert report["scored_with"] == {
        "device": device,
        "arithmetic": "bfloat16" if native_bf16(device) else "float32",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    # calibration: the bins hold every row, and their gaps are the table's own scores and hits
    calibration = report["calibration"]
    bins = calibration["bins"]
    assert sum(b["rows"] for b in bins) == len(table) and all(b["low"] < b["high"] for b in bins)
    which = np.minimum((table["score"].to_numpy() * 10).astype(int), 9)
    gaps = [
        (which == i).sum() * abs(table["score"][which == i].mean() - table["correct"][which == i].mean())
        for i in set(which)
    ]
    assert calibration["expected_calibration_error"] == pytest.approx(sum(gaps) / len(table), abs=1e-4)
    assert calibration["overconfidence"] == pytest.approx(
        table["score"].mean() - table["correct"].mean(), abs=1e-4
    )
    assert calibration["log_loss"] > 0 and 0 <= calibration["brier_score"] <= 2
    # scored at the temperature training fitted; the figures without it beside them
    temperature = json.loads((chain["root"] / "model" / "training_config.json").read_text())["temperature"]
    assert calibration["temperature"] == temperature != 1.0
    assert set(calibration["without_temperature"]) == {
        "expected_calibration_error", "overconfidence", "log_loss", "brier_score"
    }  # fmt: skip
    # top-k accuracy as the dashboards read it: the report's figures, the model's and the baseline's
    top_k = pd.read_csv(out / "top-k-accuracy.csv")
    for name, figures in (
        ("model", report["top_k_accuracy"]),
        ("TF-IDF baseline", report["baseline"]["top_k_accuracy"]),
    ):
        rows = top_k[top_k["model"] == name]
        assert dict(zip(rows["k"], rows["accuracy"], strict=True)) == pytest.approx(
            {int(k.removeprefix("top_")): v for k, v in figures.items()}
        )
    # the accuracy/coverage curves as the dashboards read them, the model's and the baseline's
    selective = pd.read_csv(out / "selective-prediction.csv")
    for name, figures in (
        ("model", report["selective"]),
        ("TF-IDF baseline", report["baseline"]["selective"]),
    ):
        rows = selective[selective["model"] == name].drop(columns="model").reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, pd.DataFrame(figures["curve"])[list(rows.columns)], rtol=1e-9)
        assert rows["coverage"].iloc[-1] == 1.0 and figures["accuracy_target"] == 0.9
    # the learning curve the archive carries, as a table: each logged loss, each epoch's evaluation
    trained = json.loads((chain["root"] / "model" / "train_metrics.json").read_text())
    curve = pd.read_csv(out / "training-history.csv")
    assert (curve["series"] == "training").sum() == len(trained["train_history"]) == 3  # every step logged
    assert curve.loc[curve["series"] == "validation", "macro_f1"].tolist() == pytest.approx(
        [e["eval_macro_f1"] for e in trained["eval_history"]]
    )
    # bootstrap over the validation texts: every figure gets a spread, the difference a paired interval
    spread = report["bootstrap"]
    assert spread["texts"] == table["text"].nunique()
    for name, figure in report["multiclass_classification_metrics"].items():
        if name != "confusion_matrix":
            low, high = spread["interval"][name]
            assert low <= figure["value"] <= high and figure["standard_deviation"] > 0
    low, high = spread["interval"]["macro_f1_minus_baseline"]
    assert low <= report["macro_f1_minus_baseline"] <= high and 0 <= spread["share_above_baseline"] <= 1
    # the behavioural checks: every one configured, each over the texts it altered
    from medtx_config import BEHAVIOUR_CHECKS

    assert tuple(report["behaviour"]) == BEHAVIOUR_CHECKS
    for found in report["behaviour"].values():
        assert 0 < found["texts_altered"] <= table["text"].nunique()
        assert found["agreement"] == pytest.approx(1 - found["texts_changed"] / found["texts_altered"])
        assert found["macro_f1"] - found["macro_f1_change"] == pytest.approx(recomputed["macro_f1"])
    lowest = min(report["behaviour"], key=lambda name: report["behaviour"][name]["agreement"])
    assert report["behaviour_agreement"] == {
        "value": report["behaviour"][lowest]["agreement"],
        "check": lowest,
    }


def test_evaluate_scores_the_champion_on_the_same_rows(chain, tmp_path):
    """Nothing served: the null champion (macro-F1 0). The same model served: the same figures, a
    difference of exactly 0. A champion whose label map names one class otherwise: its rows of that
    class count as wrong, the class is named, and the paired interval holds the difference."""
    import evaluate

    def run(champion: object, *more: str) -> dict:
        return evaluate.main(
            [
                *("--model", str(chain["root"] / "model.tar.gz")),
                *("--validation", str(chain["root"] / "pp" / "eval")),
                *("--train-data", ""),
                *("--output-dir", str(tmp_path / "out")),
                *("--bootstrap-resamples", "200"),
                *("--champion", str(champion)),
                *more,
            ]
        )

    nothing = run(tmp_path / "empty")
    macro_f1 = nothing["multiclass_classification_metrics"]["macro_f1"]["value"]
    assert nothing["champion"] == {"served": False, "macro_f1": 0.0}
    assert nothing["macro_f1_minus_champion"] == macro_f1
    assert (
        nothing["bootstrap"]["interval"]["macro_f1_minus_champion"]
        == nothing["bootstrap"]["interval"]["macro_f1"]
    )

    same = tmp_path / "same"
    same.mkdir()
    shutil.copy(chain["root"] / "model.tar.gz", same / "model.tar.gz")
    (same / "champion.json").write_text(json.dumps({"model_package": "arn:...:model-package/g/1"}))
    served = run(same)
    assert served["champion"]["served"] and served["champion"]["model_package"] == "arn:...:model-package/g/1"
    assert (
        served["champion"]["macro_f1"] == pytest.approx(macro_f1) and served["macro_f1_minus_champion"] == 0
    )
    assert served["bootstrap"]["interval"]["macro_f1_minus_champion"] == [0.0, 0.0]
    assert served["champion"]["rows_only_this_model_gets_right"] == 0
    assert served["champion"]["rows_predicted_differently"] == 0
    assert served["champion"]["same_archive"] is False and served["model_data"] is None

    # the record names the archive under evaluation: not loaded again (this one would not load), its
    # predictions are the model's; the report says what was evaluated on which data
    uri = "s3://bucket/models/huggingface-1/output/model.tar.gz"
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    (recorded / "model.tar.gz").write_bytes(b"not an archive")
    (recorded / "champion.json").write_text(
        json.dumps({"model_package": "arn:...:model-package/g/2", "model_data": uri})
    )
    itself = run(recorded, "--model-data", uri, "--input-version", "sha256-0123456789abcdef")
    assert itself["champion"]["same_archive"] is True and itself["champion"]["model_data"] == uri
    assert (
        itself["macro_f1_minus_champion"] == 0
        and itself["champion"]["rows_only_the_champion_gets_right"] == 0
    )
    assert itself["model_data"] == uri and itself["input_version"] == "sha256-0123456789abcdef"
    with pytest.raises(tarfile.ReadError):  # another archive at that record is scored, so read
        run(recorded, "--model-data", "s3://bucket/models/huggingface-2/output/model.tar.gz")

    # a champion that calls one class by another name: never right on its rows
    renamed = tmp_path / "renamed"
    (renamed / "model").mkdir(parents=True)
    with tarfile.open(chain["root"] / "model.tar.gz") as tar:
        tar.extractall(renamed / "model", filter="data")
    config = json.loads((renamed / "model" / "config.json").read_text())
    table = pd.read_csv(chain["root"] / "eval" / "model-performance.csv", keep_default_na=False)
    hit = table[table["correct"] == 1]["pred"].value_counts().index[0]  # a class the model gets right
    old_name = config["id2label"][str(hit)]
    config["id2label"][str(hit)] = "Retired specialty"
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (renamed / "model" / "config.json").write_text(json.dumps(config))
    with tarfile.open(renamed / "model.tar.gz", "w:gz") as tar:
        for item in (renamed / "model").iterdir():
            tar.add(item, arcname=item.name)
    shutil.rmtree(renamed / "model")
    other = run(renamed)["champion"]
    assert other["labels_only_champion_has"] == ["Retired specialty"] and other["labels_champion_lacks"] == [
        old_name
    ]
    lost = int(((table["pred"] == hit) & (table["correct"] == 1)).sum())
    assert other["rows_only_this_model_gets_right"] == lost > 0
    assert other["rows_predicted_differently"] == int((table["pred"] == hit).sum())  # renamed: never equal
    assert other["macro_f1"] < macro_f1


def test_inference_handler_serves_the_trained_model(chain, caplog, monkeypatch):
    import transformers

    import inference
    from medtx_config import InferenceConfig

    monkeypatch.setattr(inference, "CONFIG", InferenceConfig(precision="fp32"))
    with caplog.at_level("INFO", logger="medtx"):
        handler = inference.model_fn(str(chain["root"] / "model"))
    loaded = f"with {len(handler['labels'])} labels on {handler['device']} in float32 (torch "
    said = [line for line in caplog.messages if loaded in line and transformers.__version__ in line]
    assert said, caplog.messages
    assert handler["autocast"] is None
    request = inference.input_fn(
        json.dumps({"inputs": ["colonoscopy polyp", "knee fracture", "x"], "parameters": {"top_k": 2}}),
        "application/json",
    )
    answer = json.loads(inference.output_fn(inference.predict_fn(request, handler), "application/json"))
    assert len(answer) == 3
    for item in answer:
        assert item["label"] in handler["labels"] and 0 < item["score"] <= 1
        assert item["label"] == handler["labels"][item["class_id"]]
        assert item["top_k"][0]["label"] == item["label"] and len(item["top_k"]) == 2


def test_serving_parity_compares_two_stacks_answers(chain, tmp_path, capsys):
    """``bench/serving_parity.py``: the same stack twice agrees; a changed label or score is caught."""
    sys.path.insert(0, str(ROOT / "bench"))
    import serving_parity

    files = [tmp_path / "a.json", tmp_path / "b.json"]
    score = ["score", "--model", str(chain["root"] / "model"), "--data", str(BUNDLED_CSV), "--rows", "9"]
    for out in files:
        assert serving_parity.main([*score, "--batch", "4", "--top-k", "3", "--out", str(out)]) == 0
    first = json.loads(files[0].read_text())
    assert first["texts"] == len(first["answers"]) == 9 and first["versions"]["transformers"]
    assert serving_parity.main(["compare", *map(str, files)]) == 0

    other = json.loads(files[1].read_text())
    other["answers"][4]["label"] = "not the same"
    other["answers"][7]["top_k"][1]["score"] += 0.01
    files[1].write_text(json.dumps(other))
    capsys.readouterr()
    assert serving_parity.main(["compare", *map(str, files)]) == 1
    said = json.loads(capsys.readouterr().out)
    assert said["same_label"] == 8
    assert said["largest_score_difference"] == pytest.approx(0.01)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_train_resumes_from_last_checkpoint(chain, tmp_path, pooling):
    import shutil

    import evaluate
    import inference
    import train
    from medtx_common import load_classifier

    args = [
        "--train-dir",
        str(chain["root"] / "pp" / "train"),
        "--test-dir",
        str(chain["root"] / "pp" / "test"),
        "--max-eval-samples",
        "16",
        "--model-dir",
        str(tmp_path / "model"),
        "--output-data-dir",
        str(tmp_path / "out"),
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
        "--model-name",
        OFFLINE_MODEL,
        "--max-length",
        "32",
        "--max-train-samples",
        "32",
        "--epochs",
        "2",
        "--train-batch-size",
        "16",
        "--disable-tqdm",
        "true",
        "--pooling",
        pooling,
        "--logging-steps",
        "1",
    ]
    first = train.main(args)
    assert first["resumed_from"] is None
    assert [e["epoch"] for e in first["eval_history"]] == pytest.approx([1.0, 2.0])  # the learning curve
    assert first["eval_history"][-1]["eval_macro_f1"] == pytest.approx(first["eval"]["eval_macro_f1"])
    shutil.rmtree(tmp_path / "ckpt" / "checkpoint-4")  # as if the job died during epoch 2
    second = train.main(args)
    assert second["resumed_from"].endswith("checkpoint-2")
    assert second["train"]["epoch"] == pytest.approx(2.0)
    assert [e["epoch"] for e in second["eval_history"]] == pytest.approx([1.0, 2.0])  # kept across resume
    assert [e["step"] for e in second["eval_history"]] == [2, 4]
    # the training loss at every logging step (2 steps an epoch here), the first epoch's from the
    # checkpoint's log
    assert [e["step"] for e in first["train_history"]] == [1, 2, 3, 4]
    assert [e["step"] for e in second["train_history"]] == [1, 2, 3, 4]
    assert second["train_history"][:2] == first["train_history"][:2]
    assert all(e["loss"] > 0 and e["learning_rate"] >= 0 for e in second["train_history"])

    # the saved model evaluates and serves with the pooling it was trained with
    report = evaluate.main(
        [
            "--model", str(tmp_path / "model"), "--validation", str(chain["root"] / "pp" / "eval"),
            "--train-data", "", "--output-dir", str(tmp_path / "eval"), "--precision", "fp32",
        ]
    )  # fmt: skip
    assert 0.0 <= report["multiclass_classification_metrics"]["macro_f1"]["value"] <= 1.0
    handler = load_classifier(tmp_path / "model", precision="fp32")
    assert (
        type(handler["model"]).__name__
        == {"cls": "BertForSequenceClassification", "mean": "MeanPoolingClassifier"}[pooling]
    )
    table = pd.read_csv(tmp_path / "eval" / "model-performance.csv", keep_default_na=False)
    answer = inference.predict_fn({"texts": table["text"].tolist()[:3], "top_k": 1}, handler)
    assert [a["class_id"] for a in answer] == table["pred"].tolist()[:3]


@pytest.mark.parametrize("bundle", sorted(code_bundle.STEP_BUNDLES))
def test_each_step_bundle_starts_from_a_folder_holding_only_it(bundle, tmp_path):
    """A step's job sees its own bundle only (``pipeline.code_bundle.STEP_BUNDLES``): its entry script
    starts with nothing else beside it, and no module of scripts/ is reachable any other way."""
    for path in code_bundle.step_bundle_files(bundle):
        shutil.copy(path, tmp_path / path.name)
    entry = code_bundle.STEP_BUNDLES[bundle][0]
    command = [sys.executable, "-E", entry, "--help"]  # -E: PYTHONPATH reaches nothing
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "usage" in result.stdout, result.stderr


def test_every_file_of_scripts_is_in_a_step_bundle():
    """A file no bundle holds never reaches a container: a data file a script reads at run time, or a
    module only reached in a way the import walk cannot see, would be missing there."""
    bundled = {path for name in code_bundle.STEP_BUNDLES for path in code_bundle.step_bundle_files(name)}
    left_out = set(code_bundle.bundle_files(code_bundle.SCRIPTS_DIR)) - bundled
    # the package marker the tests import by; a new step's entry script belongs in STEP_BUNDLES
    assert sorted(p.name for p in left_out) == ["__init__.py"], "in no bundle of code_bundle.STEP_BUNDLES"


def test_the_archives_handler_is_what_training_ships_and_in_its_bundle():
    """``train.py`` copies ``HANDLER_FILES`` into the model archive's ``code/``: they must be the
    handler and everything it imports (lazily too), and training's bundle must hold them."""
    import train

    handler = code_bundle.script_closure(["inference.py"])
    assert sorted(train.HANDLER_FILES) == [p.name for p in handler]
    assert set(handler) <= set(code_bundle.step_bundle_files("train"))


def test_a_bundle_follows_imports_in_functions_and_through_other_modules(tmp_path):
    (tmp_path / "entry.py").write_text("import json\nfrom first import x\n")
    (tmp_path / "first.py").write_text("x = 1\n\ndef later():\n    from second.sub import y\n    return y\n")
    (tmp_path / "second.py").write_text("import entry\n")  # a cycle is walked once
    (tmp_path / "unrelated.py").write_text("")
    found = code_bundle.script_closure(["entry.py"], tmp_path)
    assert [p.name for p in found] == ["entry.py", "first.py", "second.py"]
    with pytest.raises(FileNotFoundError, match=r"missing\.py is not a file"):
        code_bundle.script_closure(["missing.py"], tmp_path)


def test_bad_input_exits_with_one_clear_message(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(",description,transcription\n0,a,b\n")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "preprocess.py"),
            "--input",
            str(bad),
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "missing column(s) medical_specialty, sample_name" in result.stderr
    assert "Traceback" not in result.stderr


def test_publish_dirs_hold_the_reference_layout(chain):
    published = chain["root"] / "published"
    for key in (
        "train/dataset_info.json",
        "test/dataset_info.json",
        "pre-processed/pre-processed.csv",
        "pre-processed/eval/validation.csv",
        "pre-processed/eval/model-performance.csv",
        "pre-processed/eval/evaluation.json",
    ):
        assert (published / key).is_file(), key


def test_model_archive_carries_the_endpoint_handler(chain):
    code = chain["root"] / "model" / "code"
    handler = {"inference.py", "medtx_common.py", "medtx_config.py", "medtx_model.py"}
    assert {p.name for p in code.iterdir()} >= handler


def test_chunked_notes_train_and_evaluate_as_one_prediction_per_row(tmp_path, monkeypatch):
    """``--long-text chunks``: several training rows per long note, the encoding travels with the
    model, and evaluation pools the windows back to one prediction per validation row. With the
    description as an input of its own (``--fields-window``), the endpoint joins a request's fields as
    preprocessing joined the CSV's and answers as evaluation scored."""
    from datasets import load_from_disk

    import evaluate
    import inference
    import preprocess
    import train
    from medtx_common import InputError, TextEncoding, load_classifier, split_fields

    encoding = ["--long-text", "chunks", "--max-length", "32", "--chunk-stride", "8", "--max-chunks", "4",
                "--drop-line-break-commas", "true", "--headings-window", "true",
                "--text-fields", "description,transcription", "--fields-window", "true"]  # fmt: skip
    report = preprocess.main(
        [
            "--input",
            str(BUNDLED_CSV),
            "--output-dir",
            str(tmp_path / "pp"),
            "--model-name",
            OFFLINE_MODEL,
            *encoding,
        ]
    )
    rows = report.split["train_rows"]
    assert rows < report.model_inputs["train"] <= 6 * rows  # four windows, the description, the headings
    assert report.encoding["long_text"] == "chunks" and report.encoding["drop_line_break_commas"] is True
    assert report.encoding["headings_window"] is True and report.encoding["fields_window"] is True
    dataset = load_from_disk(str(tmp_path / "pp" / "train"))
    assert sorted(set(dataset["doc"])) == list(range(rows)) and max(dataset["length"]) <= 32
    eda = pd.read_csv(tmp_path / "pp" / "pre-processed" / "pre-processed.csv", keep_default_na=False)
    labels = eda.loc[eda.split == "train", "label"].to_numpy()
    assert all(labels[d] == label for d, label in zip(dataset["doc"], dataset["labels"], strict=True))

    args = [
        "--train-dir", str(tmp_path / "pp" / "train"), "--test-dir", str(tmp_path / "none"),
        "--model-dir", str(tmp_path / "model"), "--output-data-dir", str(tmp_path / "out"),
        "--checkpoint-dir", str(tmp_path / "ckpt"), "--model-name", OFFLINE_MODEL,
        "--max-steps", "2", "--train-batch-size", "8", "--disable-tqdm", "true",
    ]  # fmt: skip
    with pytest.raises(InputError, match=r"needs preprocess\.py --max-length 16"):
        train.main([*args, "--max-length", "16"])
    train.main([*args, "--max-length", "32"])
    assert TextEncoding.load(tmp_path / "model", 512) == TextEncoding(
        32, "chunks", 128, 8, 4, True, True, ("description", "transcription"), True
    )

    # chunk_loss=note: a training row is a note (its windows pooled), in training and its evaluation
    note_args = [
        *args, "--max-length", "32", "--chunk-loss", "note", "--test-dir", str(tmp_path / "pp" / "test"),
        "--model-dir", str(tmp_path / "model-note"), "--checkpoint-dir", str(tmp_path / "ckpt-note"),
    ]  # fmt: skip
    trainer = train.build_trainer(train.parse_args(note_args))
    assert len(trainer.train_dataset) == rows and len(trainer.eval_dataset) == report.split["validation_rows"]
    metrics = train.main(note_args)
    assert 0.0 <= metrics["eval"]["eval_macro_f1"] <= 1.0 and np.isfinite(metrics["eval"]["eval_loss"])
    assert metrics["calibration"]["notes"] == report.split["validation_rows"]  # a temperature per note

    evaluation = evaluate.main(
        [
            "--model", str(tmp_path / "model"), "--validation", str(tmp_path / "pp" / "eval"),
            "--train-data", "", "--output-dir", str(tmp_path / "eval"), "--precision", "fp32",
        ]
    )  # fmt: skip
    table = pd.read_csv(tmp_path / "eval" / "model-performance.csv", keep_default_na=False)
    assert len(table) == evaluation["validation_rows"] == report.split["validation_rows"]
    handler = load_classifier(tmp_path / "model", precision="fp32")  # as evaluated: same arithmetic
    assert handler["encoding"].long_text == "chunks" and handler["encoding"].drop_line_break_commas
    assert handler["encoding"].headings_window and handler["encoding"].fields_window
    answer = inference.predict_fn({"texts": table["text"].tolist()[:3], "top_k": 1}, handler)
    assert [a["class_id"] for a in answer] == table["pred"].tolist()[:3]
    # a request names the note's fields; the handler joins them as preprocessing did
    monkeypatch.setattr(inference, "CONFIG", replace(inference.CONFIG, precision="fp32"))
    monkeypatch.setattr(inference, "MODEL_TEXT_FIELDS", inference.MODEL_TEXT_FIELDS)
    served = inference.model_fn(str(tmp_path / "model"))
    notes = [
        dict(zip(("description", "transcription"), split_fields(t, 2), strict=True)) for t in table["text"]
    ]
    body = json.dumps({"inputs": [*notes[:3], {"transcription": notes[3]["transcription"]}]})
    data = inference.input_fn(body, "application/json")
    assert data["texts"][:3] == table["text"].tolist()[:3]
    answer = inference.predict_fn(data, served)
    assert [a["class_id"] for a in answer[:3]] == table["pred"].tolist()[:3]


def test_domain_adaptation_trains_the_encoder_on_the_training_split_before_fine_tuning(chain, tmp_path):
    """``--mlm-epochs``: masked-token training on the training split's inputs first; the classifier
    starts from that encoder, the held-out masked-token loss is reported before and after, and a
    restarted job reuses the finished adaptation."""
    import torch
    from transformers import AutoModel

    import train
    from medtx_common import resolve_model_path

    args = [
        "--train-dir", str(chain["root"] / "pp" / "train"), "--test-dir", str(chain["root"] / "pp" / "test"),
        "--model-dir", str(tmp_path / "model"), "--output-data-dir", str(tmp_path / "out"),
        "--checkpoint-dir", str(tmp_path / "ckpt"), "--model-name", OFFLINE_MODEL, "--max-length", "32",
        "--max-train-samples", "32", "--max-eval-samples", "16", "--max-steps", "2",
        "--train-batch-size", "8", "--disable-tqdm", "true", "--pooling", "cls",
        "--mlm-epochs", "2", "--mlm-learning-rate", "1e-3",
    ]  # fmt: skip
    metrics = train.main(args)
    adaptation = metrics["domain_adaptation"]
    assert 0 < adaptation["train_inputs"] <= 32 and 0 < adaptation["heldout_inputs"] <= 16
    assert adaptation["epochs"] == 2 and adaptation["train_loss"] > 0
    assert adaptation["head_pretrained"] is False  # the offline sentence encoder ships no masked-LM head
    # the masked-token loss on text it never trained on falls: it learned the notes' language
    assert adaptation["heldout_loss_after"] < adaptation["heldout_loss_before"]

    adapted_dir = tmp_path / "ckpt" / train.ADAPTED_DIR
    original = AutoModel.from_pretrained(resolve_model_path(OFFLINE_MODEL))
    adapted = AutoModel.from_pretrained(adapted_dir)
    word = "embeddings.word_embeddings.weight"
    assert not torch.equal(original.state_dict()[word], adapted.state_dict()[word])
    # the masked-LM model has no pooler; the one the cls head reads is the original's
    assert torch.equal(original.pooler.dense.weight, adapted.pooler.dense.weight)

    # a restarted job starts the classifier from the finished adaptation instead of redoing it
    written = (adapted_dir / train.ADAPTATION_FILE).stat().st_mtime_ns
    trainer = train.build_trainer(train.parse_args(args))
    assert (adapted_dir / train.ADAPTATION_FILE).stat().st_mtime_ns == written
    encoder = trainer.model.base_model.state_dict()
    assert torch.equal(encoder[word], adapted.state_dict()[word])
