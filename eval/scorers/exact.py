"""Exact-match rules of UCIT (``eval_deepseek_r1.py``) and CoIN's VizWiz/VQAv2: ``pred.upper() == gt.upper()``."""
from __future__ import annotations

from collections.abc import Sequence

from . import register_scorer


@register_scorer("exact_match", layout="llava")
def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """Case-insensitive exact match against any accepted answer, surrounding whitespace ignored."""
    pred = prediction.strip().upper()
    return float(any(pred == a.strip().upper() for a in answers))
