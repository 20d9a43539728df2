"""Behavioural checks (``scripts/medtx_behaviour.py``): the rewrites, and how two sets of predictions
compare."""

from __future__ import annotations

import numpy as np
import pytest

from medtx_behaviour import CHECKS, add_typos, invariance, lowest_agreement, perturb, swap_gender
from medtx_common import classification_metrics
from medtx_config import BEHAVIOUR_CHECKS, EvalConfig


def test_every_configured_check_exists():
    assert tuple(CHECKS) == BEHAVIOUR_CHECKS == EvalConfig().behaviour_checks


@pytest.mark.parametrize(
    ("text", "swapped"),
    [
        ("He is a 45-year-old male.", "She is a 45-year-old female."),
        ("HISTORY: SHE has a husband; her mother", "HISTORY: HE has a wife; his father"),
        ("Mr. Smith, Mrs. Jones and Ms. Lee", "Mrs. Smith, Mr. Jones and Mr. Lee"),
        # capitals are abbreviations (multiple sclerosis, mitral regurgitation); words inside words stay
        (
            "History of MS and MR; Chapman; theme; manual; herpes",
            "History of MS and MR; Chapman; theme; manual; herpes",
        ),
        ("The boy's sister, a lady", "The girl's brother, a gentleman"),
    ],
)
def test_gender_swap_changes_only_gendered_words_and_keeps_their_case(text, swapped):
    assert swap_gender(text) == swapped


def test_typos_swap_inner_letters_the_same_way_every_time():
    text = "The patient underwent colonoscopy to the cecum without complications; a polyp was removed."
    once, again = add_typos(text, 1.0), add_typos(text, 1.0)
    assert once == again != text  # deterministic per text
    for before, after in zip(text.split(), once.split(), strict=True):
        assert len(before) == len(after) and sorted(before) == sorted(after)
        assert before[0] == after[0] and before[-1] == after[-1]  # first and last letters kept
        if len(before.strip(".;")) < 4:
            assert before == after
    light = add_typos(text * 20, 0.05)
    changed = sum(a != b for a, b in zip((text * 20).split(), light.split(), strict=True))
    assert 0 < changed < 0.15 * len(light.split())
    with pytest.raises(ValueError, match="unknown behaviour check 'shout'; known: gender_swap"):
        perturb("shout", [text], 0.05)


def test_invariance_counts_each_altered_text_once_and_names_the_moves():
    labels = ["Cardiology", "Neurology", "Urology"]
    texts = ["he has angina", "he has angina", "seizure", "she has a stone", "plain"]
    rewritten = perturb("gender_swap", texts, 0.05)
    assert rewritten[4] == texts[4] and rewritten[0] == "she has angina"
    y_true = np.array([0, 1, 1, 2, 0])
    before = np.array([0, 0, 1, 2, 0])
    after = np.array([1, 1, 1, 2, 0])  # the duplicated note moved, the stone stayed, the rest unaltered
    found = invariance("gender_swap", texts, rewritten, y_true, before, after, labels)
    assert found["texts_altered"] == 2 and found["texts_changed"] == 1 and found["agreement"] == 0.5
    assert found["changes"] == [{"from": "Cardiology", "to": "Neurology", "texts": 1}]
    f1 = (
        classification_metrics(y_true, after, 3)["macro_f1"]
        - classification_metrics(y_true, before, 3)["macro_f1"]
    )
    assert found["macro_f1_change"] == pytest.approx(f1)
    untouched = invariance("gender_swap", ["plain"], ["plain"], y_true[:1], before[:1], before[:1], labels)
    assert untouched["texts_altered"] == 0 and untouched["agreement"] is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"behaviour_checks": ("typos", "shout")}, "unknown behaviour check"), ({"typo_rate": 0}, "typo_rate")],
)
def test_evaluation_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        EvalConfig(**settings)
    assert EvalConfig(behaviour_checks=()).behaviour_checks == ()


def test_the_gate_reads_the_lowest_agreement_and_a_check_that_altered_nothing_counts_as_kept():
    found = {
        "gender_swap": {"agreement": None},  # altered no note
        "typos": {"agreement": 0.9},
        "line_break_commas": {"agreement": 0.95},
    }
    assert lowest_agreement(found) == {"value": 0.9, "check": "typos"}
    assert lowest_agreement({"gender_swap": {"agreement": None}}) == {"value": 1.0, "check": ""}
    assert lowest_agreement({}) == {"value": 1.0, "check": ""}
