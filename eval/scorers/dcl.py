"""MLLM-DCL rules as KeepLoRA runs them (MCITlib ``eval_ai2d.py``, ``eval_pvqa.py``, ``eval_finvis.py``)."""
from __future__ import annotations

from collections.abc import Sequence

from . import register_scorer


def _ai2d_one(pred: str, gt: str) -> bool:
    pred, gt = pred.lower(), gt.lower()
    if " " in gt:                                       # multi-word answer: plain containment
        return gt in pred
    gt = gt.replace(".", "")
    if " " in pred:                                     # one word inside a sentence: as a whole word
        return any(form in pred for form in (" " + gt, gt + " ", gt + ".", gt + ","))
    return gt in pred


@register_scorer("dcl_ai2d", layout="llava")
def dcl_ai2d(prediction: str, answers: Sequence[str]) -> float:
    """RS and AD domains: the rules of ``eval_ai2d.py``; a prediction containing ``Unanswerable`` is wrong."""
    if "Unanswerable" in prediction:
        return 0.0
    return float(any(_ai2d_one(prediction, a) for a in answers))


@register_scorer("dcl_pvqa", layout="llava")
def dcl_pvqa(prediction: str, answers: Sequence[str]) -> float:
    """Med domain: the lower-cased answer is contained in the lower-cased prediction."""
    return float(any(a.lower() in prediction.lower() for a in answers))


@register_scorer("dcl_finvis", layout="llava")
def dcl_finvis(prediction: str, answers: Sequence[str]) -> float:
    """Fin domain (multiple choice / true-false): spaces and periods removed, lower-cased, exact match."""
    pred = prediction.replace(" ", "").replace(".", "").lower()
    return float(any(pred == a.lower() for a in answers))


@register_scorer("dcl_sci", layout="llava")
def dcl_sci(prediction: str, answers: Sequence[str]) -> float:
    """Sci domain, AI2D / TQA / VQA / SciVerse items (``eval_sci.py``): lower-case exact match.

    MapQA items carry their own scorer in the test file (``dcl_mapqa_states`` / ``dcl_mapqa``)."""
    pred = prediction.strip().lower()
    return float(any(pred == a.strip().lower() for a in answers))


def _items(text: str) -> set[str]:
    return {x.strip().lower() for x in text.split(",") if x.strip()}


@register_scorer("dcl_mapqa_states", layout="llava")
def dcl_mapqa_states(prediction: str, answers: Sequence[str]) -> float:
    """MapQA "Which states …" questions: partial credit |GT ∩ pred| / |GT| over comma-separated lists."""
    gt = _items(answers[0])
    return len(gt & _items(prediction)) / len(gt) if gt else 0.0


@register_scorer("dcl_mapqa", layout="llava")
def dcl_mapqa(prediction: str, answers: Sequence[str]) -> float:
    """Other MapQA questions: the answer is contained in the prediction (lower-cased)."""
    return float(any(a.lower() in prediction.lower() for a in answers))
