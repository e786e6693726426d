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


@register_scorer("scienceqa_llava", layout="llava")
def _scienceqa_llava(prediction: str, answers: Sequence[str]) -> float:
    return float(scienceqa_letter_llava(prediction.strip()) in answers)


@register_scorer("scienceqa_coin", layout="llava")
def _scienceqa_coin(prediction: str, answers: Sequence[str]) -> float:
    return float(scienceqa_letter_coin(prediction) in answers)


@register_scorer("imagenet_substring", layout="llava")
def _imagenet_substring(prediction: str, answers: Sequence[str]) -> float:
    """CoIN ImageNet: ``gt in pred or pred in gt`` on raw strings (case-sensitive; an empty prediction
    is a substring of everything, so it counts as correct — the official quirk)."""
    return float(any(a in prediction or prediction in a for a in answers))


@register_scorer("gqa", layout="llava")
def _gqa(prediction: str, answers: Sequence[str]) -> float:
    """GQA after ``convert_gqa_for_eval.py``: ``rstrip('.')``, lower-case, exact match with the gold answer."""
    return float(prediction.rstrip(".").lower() in answers)


@register_scorer("ocrvqa", layout="llava")
def _ocrvqa(prediction: str, answers: Sequence[str]) -> float:
    """CoIN OCR-VQA: a prediction containing ``Unanswerable`` (case-sensitive) is wrong; else lower-case
    exact match."""
    if "Unanswerable" in prediction:
        return 0.0
    return float(any(prediction.lower() == a.lower() for a in answers))


_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")


def parse_box(text: str) -> list[float] | None:
    """``[x1, y1, x2, y2]`` (the first four numbers) or None."""
    nums = _NUMBERS.findall(text)
    return [float(x) for x in nums[:4]] if len(nums) >= 4 else None


def parse_box_coin(text: str) -> list[float] | None:
    """CoIN's parser, quirk included: brackets removed, then the first and last characters dropped
    (``pred_bbox[1:-1]``), so ``[0.1,0.2,0.5,0.6]`` turns its last coordinate into ``0.`` and
    ``[0, 0, 1, 1]`` does not parse; a trailing ``.`` or newline makes the quirk harmless."""
    text = text[1:] if text.startswith(" ") else text             # the official script strips one leading space
    inner = text.replace("[", "").replace("]", "")[1:-1]
    try:
        box = [float(x) for x in inner.split(",")]
    except ValueError:
        return None
    return box if len(box) == 4 else None


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _grounding(prediction: str, answers: Sequence[str], parse) -> float:
    """Boxes normalised to the image padded to a square (LLaVA's expand2square); IoU is scale-free, so
    scaling both by max(w, h) as the official script does changes nothing. Success = IoU > 0.5 (strict)."""
    pred, gt = parse(prediction), parse_box(answers[0])
    if pred is None or gt is None:
        return 0.0
    return float(box_iou(pred, gt) > 0.5)


@register_scorer("grounding_iou", layout="llava")
def _grounding_iou(prediction: str, answers: Sequence[str]) -> float:
    """RefCOCO-style grounding with a robust box parser (first four numbers)."""
    return _grounding(prediction, answers, parse_box)


@register_scorer("grounding_coin", layout="llava")
def _grounding_coin(prediction: str, answers: Sequence[str]) -> float:
    """CoIN grounding with its own ``[1:-1]`` parser, for bit-exact comparability with CoIN numbers."""
    return _grounding(prediction, answers, parse_box_coin)
