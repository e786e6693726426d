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


@register_scorer("dcl_ai2d")
def dcl_ai2d(prediction: str, answers: Sequence[str]) -> float:
    """RS and AD domains: the rules of ``eval_ai2d.py``; a prediction containing ``Unanswerable`` is wrong."""
    if "Unanswerable" in prediction:
        return 0.0
    return float(any(_ai2d_one(prediction, a) for a in answers))


@register_scorer("dcl_pvqa")
def dcl_pvqa(prediction: str, answers: Sequence[str]) -> float:
    """Med domain: the lower-cased answer is contained in the lower-cased prediction."""
    return float(any(a.lower() in prediction.lower() for a in answers))


@register_scorer("dcl_finvis")
def dcl_finvis(prediction: str, answers: Sequence[str]) -> float:
    """Fin domain (multiple choice / true-false): spaces and periods removed, lower-cased, exact match."""
    pred = prediction.replace(" ", "").replace(".", "").lower()
    return float(any(pred == a.lower() for a in answers))
