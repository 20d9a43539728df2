"""The classifier network (``scripts/medtx_model.py``): mean pooling, saving and loading either kind."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from medtx_model import (  # noqa: E402
    POOLING_HEAD_FILE,
    POOLING_KEY,
    MeanPoolingClassifier,
    build_classifier,
    load_trained,
)

LABELS = ["alpha", "beta", "gamma"]


@pytest.fixture(scope="module", params=["bert", "distilbert"])
def encoder_dir(request, tmp_path_factory):
    """A tiny random encoder saved as a pretrained model folder: BERT (the offline all-MiniLM-L6-v2's
    architecture) and DistilBERT (the SageMaker default's, which takes no ``token_type_ids``)."""
    from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel, PreTrainedModel

    torch.manual_seed(0)
    encoder: PreTrainedModel
    if request.param == "bert":
        bert = BertConfig(
            vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
        )
        encoder = BertModel(bert)
    else:
        distilbert = DistilBertConfig(vocab_size=100, dim=16, n_layers=1, n_heads=2, hidden_dim=32)
        encoder = DistilBertModel(distilbert)
    folder = tmp_path_factory.mktemp(request.param)
    encoder.save_pretrained(folder)
    return folder


def test_mean_pooling_reads_only_the_real_tokens(encoder_dir):
    model = build_classifier(str(encoder_dir), "mean", LABELS).eval()
    assert isinstance(model, MeanPoolingClassifier) and model.config.id2label[2] == "gamma"
    ids = torch.tensor([[2, 17, 33, 3]])
    padded = torch.tensor([[2, 17, 33, 3, 0, 0]])
    with torch.no_grad():
        short = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        long = model(input_ids=padded, attention_mask=torch.tensor([[1, 1, 1, 1, 0, 0]])).logits
        hidden = model.encoder(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    torch.testing.assert_close(short, long, atol=1e-5, rtol=1e-5)  # padding changes nothing
    torch.testing.assert_close(short, model.classifier(hidden.mean(dim=1)), atol=1e-5, rtol=1e-5)
    assert short.shape == (1, len(LABELS))


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_a_saved_model_loads_back_with_its_pooling(encoder_dir, tmp_path, pooling):
    model = build_classifier(str(encoder_dir), pooling, LABELS).eval()
    with torch.no_grad():
        model.classifier.bias.add_(0.5)  # not the initial values
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config.get(POOLING_KEY, "cls") == pooling
    assert (tmp_path / POOLING_HEAD_FILE).exists() == (pooling == "mean")

    loaded = load_trained(tmp_path).eval()
    assert type(loaded) is type(model) and loaded.config.id2label == model.config.id2label
    ids = torch.tensor([[2, 40, 41, 42, 3]])
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        got = loaded(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    torch.testing.assert_close(got, expected)


def test_unknown_pooling_is_refused(encoder_dir):
    with pytest.raises(ValueError, match="pooling must be one of cls, mean"):
        build_classifier(str(encoder_dir), "max", LABELS)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_layer_lr_decay_gives_each_layer_its_rate(encoder_dir, tmp_path, pooling):
    """``--layer-lr-decay``: the head at the learning rate, each layer below at the decay times the one
    above, the embeddings lowest; weight decay stays off biases and norms, and the schedule keeps the
    ratios. At 1.0 the Trainer's own optimizer (one rate) is used."""
    from transformers import TrainingArguments

    from train import WeightedLossTrainer, layer_depths

    model = build_classifier(str(encoder_dir), pooling, LABELS)
    depths = layer_depths(model)
    for name, depth in depths.items():  # one transformer layer in the fixture: depths 0, 1, 2
        expected = 1 if ".layer.0." in name else 0 if "embeddings." in name else 2
        assert depth == expected, name
    assert {d for n, d in depths.items() if "classifier" in n} == {2}

    def optimizer(decay: float):
        args = TrainingArguments(
            output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.01, warmup_steps=2
        )
        trainer = WeightedLossTrainer(
            model=model, args=args, class_weights=torch.ones(len(LABELS)), layer_lr_decay=decay
        )
        trainer.create_optimizer_and_scheduler(num_training_steps=10)
        return trainer.optimizer, trainer.lr_scheduler

    opt, scheduler = optimizer(0.5)
    by_param = {id(p): group for group in opt.param_groups for p in group["params"]}
    assert len(by_param) == sum(p.requires_grad for p in model.parameters())
    for name, param in model.named_parameters():
        group = by_param[id(param)]
        assert group["initial_lr"] == pytest.approx(1e-3 * 0.5 ** (2 - depths[name])), name
        assert group["weight_decay"] == (0.0 if "bias" in name or "norm" in name.lower() else 0.01), name
    scheduler.step()
    initial = sorted({g["initial_lr"] for g in opt.param_groups})
    now = sorted({g["lr"] for g in opt.param_groups})
    assert now[0] > 0 and now[1] / now[0] == pytest.approx(initial[1] / initial[0])

    flat, _ = optimizer(1.0)
    assert {g["initial_lr"] for g in flat.param_groups} == {1e-3}


def test_training_precision_auto_is_bf16_only_where_the_hardware_has_it(monkeypatch, tmp_path):
    from transformers import TrainingArguments

    from medtx_common import InputError
    from medtx_config import TrainConfig
    from train import precision_flags

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert precision_flags("auto") == {"bf16": False, "fp16": False, "use_cpu": False}  # emulated: slower
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    cpu_bf16 = precision_flags("auto")
    assert cpu_bf16 == {"bf16": True, "fp16": False, "use_cpu": True}
    assert precision_flags("fp32") == {"bf16": False, "fp16": False, "use_cpu": False}
    # transformers refuses bf16 without a GPU unless told the job runs on the CPU
    arguments = TrainingArguments(output_dir=str(tmp_path), report_to="none", **cpu_bf16)
    assert arguments.bf16 and arguments.device.type == "cpu"
    with pytest.raises(InputError, match="fp16 needs a GPU"):
        precision_flags("fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="int8")
