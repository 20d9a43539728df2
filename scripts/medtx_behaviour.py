"""Behavioural checks of a trained classifier: invariance tests in the sense of Ribeiro et al. (2020),
"Beyond Accuracy: Behavioral Testing of NLP Models with CheckList".

Each check rewrites the validation notes in a way that must not change their specialty, scores the
rewritten notes, and reports how many of the notes it altered kept their predicted label, and the
macro-F1 on the rewritten rows beside the original's. A held-out figure says how often the model is
right; these say what it is right *for*: a prediction that moves when only the patient's pronouns
change, or with a few typing errors, leans on something other than the medicine.

- ``gender_swap``: gendered words swapped (he/she, his/her, male/female, Mr./Mrs., husband/wife...),
  anatomy and diagnoses left as they are: a specialty does not depend on the patient's pronouns
  (CheckList's fairness test). "her" becomes "his" (the possessive is the common use in notes).
- ``typos``: in ``typo_rate`` of the words of four letters or more, two inner letters swapped
  (deterministic per note), as a hurried transcriptionist would.
- ``line_break_commas``: the commas the mtsamples scrape left where lines broke
  (``medtx_common.drop_line_break_commas``), an artefact of the source, not of the medicine.

Pure functions: ``perturb`` rewrites, ``invariance`` compares two sets of predictions,
``lowest_agreement`` gives the quality gate its one figure.
"""

from __future__ import annotations

import random
import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from medtx_common import classification_metrics, drop_line_break_commas

_GENDERED = {
    "he": "she",
    "she": "he",
    "him": "her",
    "his": "her",
    "her": "his",
    "hers": "his",
    "himself": "herself",
    "herself": "himself",
    "male": "female",
    "female": "male",
    "males": "females",
    "females": "males",
    "man": "woman",
    "woman": "man",
    "men": "women",
    "women": "men",
    "boy": "girl",
    "girl": "boy",
    "boys": "girls",
    "girls": "boys",
    "gentleman": "lady",
    "lady": "gentleman",
    "husband": "wife",
    "wife": "husband",
    "son": "daughter",
    "daughter": "son",
    "father": "mother",
    "mother": "father",
    "brother": "sister",
    "sister": "brother",
}
_GENDERED_WORD = re.compile(
    r"\b(" + "|".join(sorted(_GENDERED, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
#: Titles only as titles (``Mr.``): in capitals, ``MS`` and ``MR`` are multiple sclerosis and mitral
#: regurgitation.
_TITLES = {"Mr": "Mrs", "Mrs": "Mr", "Ms": "Mr"}
_TITLE = re.compile(r"\b(Mrs|Mr|Ms)(?=\.)")
_LONG_WORD = re.compile(r"\b[A-Za-z]{4,}\b")


def _same_case(source: str, word: str) -> str:
    if source.isupper() and len(source) > 1:
        return word.upper()
    if source[0].isupper():
        return word[0].upper() + word[1:]
    return word


def swap_gender(text: str) -> str:
    """``text`` with its gendered words and titles swapped, each keeping its case (``He`` -> ``She``)."""
    swapped = _GENDERED_WORD.sub(lambda m: _same_case(m.group(0), _GENDERED[m.group(0).lower()]), text)
    return _TITLE.sub(lambda m: _TITLES[m.group(1)], swapped)


def add_typos(text: str, rate: float) -> str:
    """``text`` with two adjacent inner letters swapped in about ``rate`` of its words of four letters
    or more; the same text always gets the same typos (the generator is seeded by its checksum)."""
    rng = random.Random(zlib.crc32(text.encode("utf-8")))

    def typo(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        i = rng.randrange(1, len(word) - 2)  # never the first or last letter
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]

    return _LONG_WORD.sub(typo, text)


#: Every check: its name -> what it does to a note (``typo_rate`` is the typos' share of words).
CHECKS: dict[str, tuple[str, Callable[[str, float], str]]] = {
    "gender_swap": ("gendered words swapped (he/she, male/female...)", lambda t, _: swap_gender(t)),
    "typos": ("two letters swapped in a share of the words", add_typos),
    "line_break_commas": ("the scrape's line-break commas removed", lambda t, _: drop_line_break_commas(t)),
}


def perturb(name: str, texts: Sequence[str], typo_rate: float) -> list[str]:
    """``texts`` rewritten by check ``name``."""
    if name not in CHECKS:
        raise ValueError(f"unknown behaviour check {name!r}; known: {', '.join(CHECKS)}")
    rewrite = CHECKS[name][1]
    return [rewrite(t, typo_rate) for t in texts]


def invariance(
    name: str,
    texts: Sequence[str],
    rewritten: Sequence[str],
    y_true: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    labels: Sequence[str],
) -> dict[str, Any]:
    """How predictions ``before`` (on ``texts``) and ``after`` (on ``rewritten``), one per validation
    row, compare: over the distinct texts the check altered, the share that kept their label, and
    the most frequent label changes; over all rows, the macro-F1 before and after."""
    altered = {t: i for i, (t, r) in enumerate(zip(texts, rewritten, strict=True)) if t != r}
    rows = list(altered.values())  # one row per distinct altered text
    kept = int(sum(before[i] == after[i] for i in rows))
    moves = Counter((int(before[i]), int(after[i])) for i in rows if before[i] != after[i])
    f1_before = classification_metrics(y_true, before, len(labels))["macro_f1"]
    f1_after = classification_metrics(y_true, after, len(labels))["macro_f1"]
    return {
        "description": CHECKS[name][0],
        "texts_altered": len(rows),
        "texts_changed": len(rows) - kept,
        "agreement": kept / len(rows) if rows else None,
        "macro_f1": f1_after,
        "macro_f1_change": f1_after - f1_before,
        "changes": [
            {"from": labels[a], "to": labels[b], "texts": n}
            for (a, b), n in sorted(moves.items(), key=lambda item: (-item[1], item[0]))[:5]
        ],
    }


def lowest_agreement(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the quality gate reads (``MinBehaviourAgreement``): the lowest ``agreement`` of the checks
    in ``found`` and which check it is. A check that altered no note changed no label, so it counts
    as 1; with no check run, or none that altered a note, the figure is 1 and the check is ``""``
    (always a number and a string, so a pipeline condition and its message can read them)."""
    scored = {name: f["agreement"] for name, f in found.items() if f["agreement"] is not None}
    if not scored:
        return {"value": 1.0, "check": ""}
    check = min(scored, key=lambda name: (scored[name], name))
    return {"value": scored[check], "check": check}
