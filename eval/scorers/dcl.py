"""MLLM-DCL rules as KeepLoRA runs them (MCITlib ``eval_ai2d.py``, ``eval_pvqa.py``, ``eval_finvis.py``,
``eval_sci.py``, read line by line: ``MCITlib/KeepLoRA/llava/eval/CoIN/``)."""
from __future__ import annotations

from collections.abc import Sequence

from . import register_scorer


def _unanswerable(prediction: str) -> bool:
    """Every MCITlib DCL evaluator counts a prediction containing ``Unanswerable`` (case-sensitive) as wrong."""
    return "Unanswerable" in prediction


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
    if _unanswerable(prediction):
        return 0.0
    return float(any(_ai2d_one(prediction, a) for a in answers))


@register_scorer("dcl_pvqa", layout="llava")
def dcl_pvqa(prediction: str, answers: Sequence[str]) -> float:
    """Med domain (``eval_pvqa.py``): the lower-cased answer is contained in the lower-cased prediction."""
    if _unanswerable(prediction):
        return 0.0
    return float(any(a.lower() in prediction.lower() for a in answers))


@register_scorer("dcl_finvis", layout="llava")
def dcl_finvis(prediction: str, answers: Sequence[str]) -> float:
    """Fin domain (``eval_finvis.py``, multiple choice / true-false): the prediction lower-cased with spaces
    and periods removed equals the lower-cased answer."""
    if _unanswerable(prediction):
        return 0.0
    pred = prediction.lower().replace(" ", "").replace(".", "")
    return float(any(pred == a.lower() for a in answers))


@register_scorer("dcl_sci", layout="llava")
def dcl_sci(prediction: str, answers: Sequence[str]) -> float:
    """Sci domain, AI2D / TQA / VQA / SciVerse items (``eval_sci.py``): lower-cased exact match of the answer
    with the prediction as LLaVA's ``model_vqa`` writes it (``outputs.strip()``); the answer is not stripped.

    MapQA items carry their own scorer in the test file (``dcl_mapqa_states`` / ``dcl_mapqa``)."""
    if _unanswerable(prediction):
        return 0.0
    return float(any(prediction.strip().lower() == a.lower() for a in answers))


@register_scorer("dcl_mapqa_states", layout="llava")
def dcl_mapqa_states(prediction: str, answers: Sequence[str]) -> float:
    """MapQA "Which states …" questions (``eval_sci.py``): partial credit, the share of the answer's
    comma-separated items (lower-cased, spaces kept, duplicates counted) found among the prediction's."""
    if _unanswerable(prediction):
        return 0.0
    gt, pred = answers[0].lower().split(","), prediction.lower().split(",")
    return sum(item in pred for item in gt) / len(gt)


@register_scorer("dcl_mapqa", layout="llava")
def dcl_mapqa(prediction: str, answers: Sequence[str]) -> float:
    """Other MapQA questions (``eval_sci.py``): the lower-cased answer is contained in the lower-cased prediction."""
    if _unanswerable(prediction):
        return 0.0
    return float(any(a.lower() in prediction.lower() for a in answers))
