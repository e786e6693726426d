"""CoIN / LLaVA per-task rules (``ETrain/Eval/LLaVA/CoIN/*.py``; LLaVA ``eval_science_qa.py``).

Each rule keeps the official behaviour, quirks included (noted in the docstrings).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from . import register_scorer

__all__ = ["scienceqa_letter_llava", "scienceqa_letter_coin"]

_LETTERS = "ABCDE"
_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")
_SINGLE_CHAR_WORD = re.compile(r"\b(\w)\b")


def scienceqa_letter_llava(prediction: str) -> str:
    """LLaVA/MCITlib/KeepLoRA parser: the bare letter, ``"B. text"``, or exactly one
    ``The answer is X.``; anything else is ``FAILED`` (scored wrong)."""
    if prediction in _LETTERS:
        return prediction
    if len(prediction) >= 3 and prediction[0] in _LETTERS and prediction[1:3] == ". ":
        return prediction[0]
    hits = _ANSWER_IS.findall(prediction)
    return hits[0] if len(hits) == 1 else "FAILED"


def scienceqa_letter_coin(prediction: str) -> str:
    """CoIN's own parser: the first single-character word, upper-cased (so ``(b)``, ``Answer: D`` and
    also ``a cat`` → ``A`` parse)."""
    m = _SINGLE_CHAR_WORD.search(prediction)
    return m.group(1).upper() if m else "FAILED"


@register_scorer("scienceqa_llava")
def _scienceqa_llava(prediction: str, answers: Sequence[str]) -> float:
    return float(scienceqa_letter_llava(prediction.strip()) in answers)


@register_scorer("scienceqa_coin")
def _scienceqa_coin(prediction: str, answers: Sequence[str]) -> float:
    return float(scienceqa_letter_coin(prediction) in answers)


@register_scorer("imagenet_substring")
def _imagenet_substring(prediction: str, answers: Sequence[str]) -> float:
    """CoIN ImageNet: ``gt in pred or pred in gt`` on raw strings (case-sensitive; an empty prediction
    is a substring of everything, so it counts as correct — the official quirk)."""
    return float(any(a in prediction or prediction in a for a in answers))


@register_scorer("gqa")
def _gqa(prediction: str, answers: Sequence[str]) -> float:
    """GQA after ``convert_gqa_for_eval.py``: ``rstrip('.')``, lower-case, exact match with the gold answer."""
    return float(prediction.rstrip(".").lower() in answers)


@register_scorer("ocrvqa")
def _ocrvqa(prediction: str, answers: Sequence[str]) -> float:
    """CoIN OCR-VQA: a prediction containing ``Unanswerable`` (case-sensitive) is wrong; else lower-case
    exact match."""
    if "Unanswerable" in prediction:
        return 0.0
    return float(any(prediction.lower() == a.lower() for a in answers))
