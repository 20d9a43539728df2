"""Long-text encoding (truncate, head_tail, chunks) and the pooling of window predictions."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from helpers import BUNDLED_CSV, OFFLINE_MODEL

from medtx_common import (
    CHARS_PER_TOKEN_KEPT,
    ENCODING_FILE,
    InputError,
    TextEncoding,
    _spread_chunks,
    drop_line_break_commas,
    encode_texts,
    join_fields,
    resolve_model_path,
    section_headings,
    split_fields,
    truncated,
)

pytest.importorskip("transformers")

LONG = " ".join(f"term{i} finding" for i in range(80))  # ~320 word pieces


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model_path(OFFLINE_MODEL), use_fast=True)


def _body(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_truncate_keeps_the_first_tokens(tokenizer):
    out = encode_texts(tokenizer, ["short note", LONG], TextEncoding(max_length=32))
    assert out["doc"] == [0, 1] and out["length"][1] == 32
    assert out["input_ids"][1][1:-1] == _body(tokenizer, LONG)[:30]


class _Seen:
    """A tokenizer that keeps the texts it is given."""

    def __init__(self, tokenizer):
        self.tokenizer, self.texts = tokenizer, []

    def __call__(self, texts, **kwargs):
        self.texts += list(texts)
        return self.tokenizer(texts, **kwargs)


@pytest.mark.parametrize("max_length", [32, 128, 512])
def test_truncate_tokenizes_a_long_texts_head_and_gets_the_whole_texts_input(tokenizer, max_length):
    """``truncated`` gives what tokenizing each whole text gives, having tokenized of a long note only
    its head; words too long for the head's allowance (one token of eight characters each) and a text
    without whitespace to cut at are tokenized whole."""
    import pandas as pd

    notes = pd.read_csv(BUNDLED_CSV)["transcription"].dropna().tolist()
    dense = "patient " * 2000  # ~8 characters a token: the head falls short of the window
    texts = [*notes, dense, "x" * 20_000, "short note", ""]
    seen = _Seen(tokenizer)
    out = truncated(seen, texts, max_length)
    whole = tokenizer(texts, truncation=True, max_length=max_length)
    assert {k: list(v) for k, v in out.items()} == {k: list(v) for k, v in whole.items()}
    heads = seen.texts[: len(texts)]
    cut = [(h, t) for h, t in zip(heads, texts, strict=True) if h != t]
    assert cut and all(t.startswith(h) and t[len(h)].isspace() for h, t in cut)
    assert seen.texts[len(texts) :] == [dense]  # the one text whose head gave too few tokens


@pytest.mark.parametrize(("head", "tail"), [(64, 62), (128, 382), (510, 0), (0, 126)])
def test_head_and_tail_tokenizes_a_long_texts_two_ends_and_gets_the_whole_texts_tokens(tokenizer, head, tail):
    """``head_and_tail`` gives each text's first ``head`` and last ``tail`` tokens as tokenizing the
    whole text gives them, having tokenized of a long note its two ends only; a text whose ends hold
    too few tokens (dense words, no whitespace) or meet is tokenized whole."""
    import pandas as pd

    from medtx_common import head_and_tail

    notes = pd.read_csv(BUNDLED_CSV)["transcription"].dropna().tolist()
    notes += ["\n".join(notes[i : i + 8]) for i in range(0, 400, 8)]  # 8-10k characters, as at 512
    odd = ["patient " * 2000, "x" * 20_000, "short note", "", "ab\x1ccd " * 3000, "word\x0bword " * 2000]
    texts = [*notes, *odd]
    calls: list[list[str]] = []

    def seen(pieces, **kwargs):
        calls.append(list(pieces))
        return tokenizer(pieces, **kwargs)

    found = head_and_tail(seen, texts, head, tail)
    whole = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert found == [p if len(p) <= head + tail else p[:head] + p[len(p) - tail :] for p in whole]
    ends, tokenized_whole = calls  # the long texts' two ends, then the texts tokenized whole
    long_notes = [t for t in notes if len(t) > 1.5 * (head + tail) * CHARS_PER_TOKEN_KEPT]
    whole_again = set(long_notes) & set(tokenized_whole)  # a head or tail of words too long for 6 a token
    assert len(long_notes) >= 50 and len(whole_again) <= len(long_notes) // 20
    assert all(t in tokenized_whole for t in odd[:4])  # too dense, no whitespace, short, empty
    for first, last in zip(ends[::2], ends[1::2], strict=True):  # a text's head and tail, apart
        assert any(t.startswith(first) and t.endswith(last) and len(first + last) < len(t) for t in texts)


def test_head_tail_keeps_the_start_and_the_end(tokenizer):
    encoding = TextEncoding(max_length=32, long_text="head_tail", head_tokens=10)
    out = encode_texts(tokenizer, ["short note", LONG], encoding)
    body = _body(tokenizer, LONG)
    ids = out["input_ids"][1]
    assert len(ids) == 32 and out["doc"] == [0, 1]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert ids[1:11] == body[:10] and ids[11:-1] == body[-20:]
    # a text that fits is encoded exactly as truncation encodes it
    assert out["input_ids"][0] == encode_texts(tokenizer, ["short note"], TextEncoding(32))["input_ids"][0]
    # a head longer than the window keeps the head only
    head_only = encode_texts(tokenizer, [LONG], TextEncoding(32, "head_tail", head_tokens=500))
    assert head_only["input_ids"][0][1:-1] == body[:30]


def test_chunks_cover_every_token_with_the_stride_shared(tokenizer):
    encoding = TextEncoding(max_length=32, long_text="chunks", chunk_stride=6, max_chunks=100)
    out = encode_texts(tokenizer, ["short note", LONG, "another short one"], encoding)
    body = _body(tokenizer, LONG)
    windows = [ids[1:-1] for ids, doc in zip(out["input_ids"], out["doc"], strict=True) if doc == 1]
    assert len(windows) > 3 and all(len(w) <= 30 for w in windows)
    rebuilt = list(windows[0])
    for previous, window in itertools.pairwise(windows):
        assert window[:6] == previous[-6:]  # neighbours share the stride
        rebuilt += window[6:]
    assert rebuilt == body
    assert out["doc"] == sorted(out["doc"]) and set(out["doc"]) == {0, 1, 2}
    assert out["length"] == [len(i) for i in out["input_ids"]]


def test_chunks_beyond_the_cap_are_spread_over_the_note(tokenizer):
    everything = encode_texts(tokenizer, [LONG], TextEncoding(32, "chunks", chunk_stride=0, max_chunks=100))
    capped = encode_texts(tokenizer, [LONG], TextEncoding(32, "chunks", chunk_stride=0, max_chunks=3))
    assert len(capped["input_ids"]) == 3
    assert capped["input_ids"][0] == everything["input_ids"][0]
    assert capped["input_ids"][-1] == everything["input_ids"][-1]


def test_spread_chunks_keeps_first_and_last_of_each_text():
    mapping = [0, 1, 1, 1, 1, 1, 1, 1, 2, 2]
    assert _spread_chunks(mapping, 3) == [0, 1, 4, 7, 8, 9]
    assert _spread_chunks(mapping, 1) == [0, 1, 8]
    assert _spread_chunks(mapping, 10) == list(range(10))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"long_text": "sliding"}, "long_text must be one of"),
        ({"long_text": "chunks", "chunk_stride": 17}, "chunk_stride"),
        ({"long_text": "chunks", "max_chunks": 0}, "max_chunks"),
        ({"long_text": "head_tail", "head_tokens": -1}, "head_tokens"),
        ({"max_length": 4}, "max_length"),
        ({"headings_window": True}, "needs long_text=chunks"),
        ({"fields_window": True, "text_fields": ("description", "transcription")}, "needs long_text=chunks"),
        (
            {"long_text": "chunks", "chunk_stride": 8, "fields_window": True},
            "must end with transcription and name another",
        ),
        (
            {
                "long_text": "chunks",
                "chunk_stride": 8,
                "fields_window": True,
                "text_fields": ("transcription", "description"),
            },
            "must end with transcription",
        ),
        ({"text_fields": ("transcription", "keywords")}, "keywords leak the label"),
        ({"text_fields": ("transcription", "transcription")}, "names a field twice"),
    ],
)
def test_bad_encoding_settings_are_one_clear_error(settings, message):
    with pytest.raises(InputError, match=message):
        TextEncoding(**{"max_length": 32, **settings})


def test_encoding_file_round_trip_and_default(tmp_path):
    encoding = TextEncoding(
        max_length=256,
        long_text="chunks",
        chunk_stride=32,
        max_chunks=4,
        text_fields=("description", "transcription"),
        fields_window=True,
    )
    encoding.save(tmp_path)
    assert json.loads((tmp_path / ENCODING_FILE).read_text())["long_text"] == "chunks"
    assert TextEncoding.load(tmp_path, 128) == encoding
    assert TextEncoding.load(tmp_path / "older-model", 128) == TextEncoding(max_length=128)


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("HISTORY:,  Right hernia.,PROCEDURE:,  Repair.", "HISTORY: Right hernia. PROCEDURE: Repair."),
        (
            "2-D M-MODE: , ,1.  Left atrium 4.7 cm.,2.  Normal.,",
            "2-D M-MODE: 1. Left atrium 4.7 cm. 2. Normal.",
        ),
        (", ,Pain, , swelling,, and fever", "Pain, swelling, and fever"),
        ("Aspirin, 81 mg, 1,000 units; done", "Aspirin, 81 mg, 1,000 units; done"),  # real commas stay
    ],
)
def test_drop_line_break_commas_removes_the_scrape_commas_only(text, cleaned):
    assert drop_line_break_commas(text) == cleaned


def test_line_break_commas_are_dropped_when_the_encoding_says_so(tokenizer, tmp_path):
    """The flag is part of the encoding: preprocessing, evaluation and the endpoint all apply it."""
    note = "HISTORY:,  Knee pain.,EXAM:, , Swelling.,"
    dropped = TextEncoding(max_length=32, drop_line_break_commas=True)
    out = encode_texts(tokenizer, [note], dropped)
    assert (
        out["input_ids"]
        == encode_texts(tokenizer, ["HISTORY: Knee pain. EXAM: Swelling."], TextEncoding(32))["input_ids"]
    )
    kept = encode_texts(tokenizer, [note], TextEncoding(max_length=32))
    assert kept["length"][0] > out["length"][0]
    dropped.save(tmp_path)
    assert TextEncoding.load(tmp_path, 128).drop_line_break_commas is True


@pytest.mark.parametrize(
    ("text", "headings"),
    [
        (
            "PREOPERATIVE DIAGNOSIS:,  Hernia.,PROCEDURE:,  Repair. ESTIMATED BLOOD LOSS: Minimal. "
            "PROCEDURE: see above. The patient tolerated it well.",
            "PREOPERATIVE DIAGNOSIS ; PROCEDURE ; ESTIMATED BLOOD LOSS",
        ),
        ("S: Cough. HEENT: Clear. Follow-up in 2 weeks: stable.", "HEENT"),
        ("The patient is a 54-year-old man with chest pain: no fever.", ""),
    ],
)
def test_section_headings_lists_each_heading_once_in_order(text, headings):
    assert section_headings(text) == headings


def test_headings_window_adds_one_input_per_note_that_has_headings(tokenizer, tmp_path):
    """After every note's windows, one input holding the note's headings, with the note's index."""
    headed = "HISTORY: Knee pain. " + LONG + " IMPRESSION: Sprain. PLAN: Rest."
    notes = [headed, "short note without headings", LONG]
    windows = TextEncoding(max_length=32, long_text="chunks", chunk_stride=0, max_chunks=3)
    both = TextEncoding(max_length=32, long_text="chunks", chunk_stride=0, max_chunks=3, headings_window=True)
    plain, out = encode_texts(tokenizer, notes, windows), encode_texts(tokenizer, notes, both)
    count = len(plain["input_ids"])
    assert out["doc"] == plain["doc"] + [0]
    assert out["input_ids"][:count] == plain["input_ids"]
    assert out["input_ids"][count] == tokenizer("HISTORY ; IMPRESSION ; PLAN")["input_ids"]
    assert set(out) == set(plain) and out["length"] == [len(i) for i in out["input_ids"]]
    both.save(tmp_path)
    assert TextEncoding.load(tmp_path, 128).headings_window is True


@pytest.mark.parametrize(
    ("values", "joined", "lead", "note"),
    [
        (
            ["Knee pain.", "HISTORY: a note | with a pipe"],
            "Knee pain. | HISTORY: a note | with a pipe",
            "Knee pain.",
            "HISTORY: a note | with a pipe",
        ),
        ([" a | b ", "note"], "a / b | note", "a / b", "note"),  # a pipe in a leading field is written /
        ([None, "  the   note "], " | the note", "", "the note"),  # a missing field is empty
        (["Spine", float("nan"), "note"], "Spine |  | note", "Spine", "note"),
    ],
)
def test_join_fields_and_split_fields_give_back_the_fields(values, joined, lead, note):
    assert join_fields(values) == joined
    assert split_fields(joined, len(values)) == (lead, note)
    assert split_fields(joined.strip(), len(values)) == (lead, note)  # as clean_text leaves it


def test_fields_window_reads_the_fields_before_the_note_as_an_input_of_their_own(tokenizer, tmp_path):
    """The note alone is windowed (as with text_fields=transcription); its description is one more
    input after all the windows and before the headings; a note with an empty description gets none."""
    headed = "HISTORY: Knee pain. " + LONG + " IMPRESSION: Sprain."
    fields = [("Knee sprain.", headed), ("", "short note"), ("Long | odd description.", LONG)]
    texts = [join_fields(f) for f in fields]
    plain = encode_texts(
        tokenizer,
        [note for _, note in fields],
        TextEncoding(max_length=32, long_text="chunks", chunk_stride=0, max_chunks=3, headings_window=True),
    )
    encoding = TextEncoding(
        max_length=32,
        long_text="chunks",
        chunk_stride=0,
        max_chunks=3,
        headings_window=True,
        text_fields=("description", "transcription"),
        fields_window=True,
    )
    out = encode_texts(tokenizer, texts, encoding)
    windows = len(plain["doc"]) - 1  # the plain encoding's last input: note 0's headings
    assert out["doc"] == [*plain["doc"][:windows], 0, 2, 0]  # descriptions of notes 0 and 2, then headings
    assert out["input_ids"][:windows] == plain["input_ids"][:windows]
    assert out["input_ids"][windows] == tokenizer("Knee sprain.")["input_ids"]
    assert out["input_ids"][windows + 1] == tokenizer("Long / odd description.")["input_ids"]
    assert out["input_ids"][-1] == plain["input_ids"][-1] == tokenizer("HISTORY ; IMPRESSION")["input_ids"]
    # without the window, the same texts put the description in front of the note's first window
    front = encode_texts(tokenizer, texts, TextEncoding(max_length=32, long_text="chunks", chunk_stride=0))
    assert front["input_ids"][0][1:4] == _body(tokenizer, "Knee sprain. |")[:3]
    encoding.save(tmp_path)
    assert TextEncoding.load(tmp_path, 128) == encoding


@pytest.fixture(scope="module")
def tiny_classifier(tokenizer):
    """A 2-layer random BERT with the offline tokenizer, in eval mode."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=4,
    )
    model = BertForSequenceClassification(config).eval()
    return {"model": model, "tokenizer": tokenizer, "labels": list("abcd"), "device": "cpu"}


def test_predict_proba_averages_the_logits_of_a_texts_windows(tiny_classifier):
    import torch

    from medtx_common import predict_proba

    encoding = TextEncoding(max_length=32, long_text="chunks", chunk_stride=4, max_chunks=8)
    classifier = {**tiny_classifier, "encoding": encoding}
    texts = [LONG, "short note", LONG[:200]]
    probs = predict_proba(classifier, texts, batch_size=3)

    encoded = encode_texts(classifier["tokenizer"], texts, encoding)
    docs = np.asarray(encoded.pop("doc"))
    encoded.pop("length")
    expected = []
    with torch.inference_mode():
        for doc in range(len(texts)):
            rows = np.flatnonzero(docs == doc)
            batch = classifier["tokenizer"].pad(
                {k: [v[i] for i in rows] for k, v in encoded.items()}, return_tensors="pt"
            )
            logits = classifier["model"](**batch).logits
            expected.append(torch.softmax(logits.mean(dim=0), dim=-1).numpy())
    assert (docs == 0).sum() > 1  # the long text really is several windows
    np.testing.assert_allclose(probs, np.stack(expected), atol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_predict_proba_keeps_input_order_with_one_window_per_text(tiny_classifier):
    import torch

    from medtx_common import predict_proba

    classifier = {**tiny_classifier, "encoding": TextEncoding(max_length=32)}
    texts = [LONG, "a", "knee pain after a fall", LONG[:90]]
    probs = predict_proba(classifier, texts, batch_size=2)
    with torch.inference_mode():
        for i, text in enumerate(texts):
            batch = classifier["tokenizer"]([text], truncation=True, max_length=32, return_tensors="pt")
            one = torch.softmax(classifier["model"](**batch).logits, dim=-1)[0].numpy()
            np.testing.assert_allclose(probs[i], one, atol=1e-5)
    assert predict_proba(classifier, [], batch_size=2).shape == (0, 4)


def test_predict_proba_scores_each_distinct_text_once(tiny_classifier):
    from medtx_common import predict_proba

    seen: list[int] = []
    model = tiny_classifier["model"]
    hook = model.register_forward_hook(lambda module, args, kwargs_out: seen.append(0))
    classifier = {**tiny_classifier, "encoding": TextEncoding(max_length=32)}
    try:
        texts = ["knee pain", "chest pain", "knee pain", "knee pain", "chest pain", "rash"]
        probs = predict_proba(classifier, texts, batch_size=1)
    finally:
        hook.remove()
    assert len(seen) == 3  # one forward pass per distinct text at batch size 1
    np.testing.assert_array_equal(probs[0], probs[2])
    np.testing.assert_array_equal(probs[0], probs[3])
    np.testing.assert_array_equal(probs[1], probs[4])
    assert not np.allclose(probs[0], probs[5])


def test_auto_precision_is_bf16_only_where_the_hardware_has_it(monkeypatch):
    import torch

    from medtx_common import inference_dtype

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert inference_dtype("cpu", "auto") is None  # emulated bf16 would be slower than fp32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert inference_dtype("cpu", "auto") is torch.bfloat16
    assert inference_dtype("cpu", "fp32") is None and inference_dtype("cpu", "bf16") is torch.bfloat16
    with pytest.raises(InputError, match="precision must be one of"):
        inference_dtype("cpu", "int8")


def test_bf16_forward_pass_stays_close_to_fp32(tiny_classifier):
    import torch

    from medtx_common import predict_proba

    classifier = {
        **tiny_classifier,
        "encoding": TextEncoding(max_length=32, long_text="chunks", chunk_stride=4),
    }
    texts = [LONG, "short note", "knee pain after a fall"]
    fp32 = predict_proba(classifier, texts, batch_size=4)
    bf16 = predict_proba({**classifier, "autocast": torch.bfloat16}, texts, batch_size=4)
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(bf16.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(bf16, fp32, atol=2e-2)
    assert not np.array_equal(bf16, fp32)  # the autocast did run


def _window_dataset(tokenizer, texts, labels, encoding):
    from datasets import Dataset

    encoded = encode_texts(tokenizer, texts, encoding)
    encoded["labels"] = [labels[d] for d in encoded["doc"]]
    return Dataset.from_dict(encoded), encoded


def test_group_windows_gives_one_row_per_note_with_its_windows_in_order(tokenizer):
    from train import group_windows

    encoding = TextEncoding(max_length=32, long_text="chunks", chunk_stride=4, max_chunks=8)
    texts, labels = [LONG, "short note", LONG[:200]], [2, 0, 3]
    windows, encoded = _window_dataset(tokenizer, texts, labels, encoding)
    notes = group_windows(windows)
    assert len(notes) == 3 and notes["labels"] == labels
    for doc in range(3):
        rows = [i for i, d in enumerate(encoded["doc"]) if d == doc]
        assert notes[doc]["input_ids"] == [encoded["input_ids"][i] for i in rows]
        assert notes[doc]["attention_mask"] == [encoded["attention_mask"][i] for i in rows]
        assert notes[doc]["length"] == sum(encoded["length"][i] for i in rows)
    assert len(notes[0]["input_ids"]) > 1


def test_group_windows_refuses_a_note_whose_windows_disagree(tokenizer):
    from train import group_windows

    encoding = TextEncoding(max_length=32, long_text="chunks", chunk_stride=4, max_chunks=8)
    windows, _ = _window_dataset(tokenizer, [LONG], [1], encoding)
    windows = windows.map(lambda row, i: {"labels": i % 2}, with_indices=True)
    with pytest.raises(InputError, match="note 0 has windows with different labels"):
        group_windows(windows)


def test_note_loss_scores_the_pooled_logits_that_prediction_uses(tiny_classifier):
    """``chunk_loss=note``: the collator batches whole notes, the loss is the weighted cross-entropy of
    the mean window logits, and those logits are the ones ``predict_proba`` turns into probabilities."""
    from types import SimpleNamespace

    import torch
    from transformers import DataCollatorWithPadding

    from medtx_common import predict_proba
    from train import NoteCollator, WeightedLossTrainer, group_windows, weighted_cross_entropy

    encoding = TextEncoding(max_length=32, long_text="chunks", chunk_stride=4, max_chunks=8)
    texts, labels = [LONG, "short note", LONG[:200]], [2, 0, 3]
    windows, _ = _window_dataset(tiny_classifier["tokenizer"], texts, labels, encoding)
    notes = group_windows(windows)
    batch = NoteCollator(DataCollatorWithPadding(tiny_classifier["tokenizer"]))([notes[i] for i in range(3)])
    assert batch["labels"].tolist() == labels and batch["input_ids"].shape[0] == len(windows)
    assert batch["window_note"].tolist() == windows["doc"]

    weights = torch.tensor([1.0, 2.0, 0.5, 3.0])
    trainer = SimpleNamespace(class_weights=weights, label_smoothing=0.0, imbalance="weights")
    with torch.inference_mode():
        loss, outputs = WeightedLossTrainer.compute_loss(
            trainer, tiny_classifier["model"], dict(batch), return_outputs=True
        )
    pooled = outputs["logits"]
    assert pooled.shape == (3, 4)
    assert loss.item() == pytest.approx(weighted_cross_entropy(pooled, torch.tensor(labels), weights).item())
    probs = predict_proba({**tiny_classifier, "encoding": encoding}, texts, batch_size=4)
    np.testing.assert_allclose(torch.softmax(pooled, dim=-1).numpy(), probs, atol=1e-5)
