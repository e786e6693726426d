"""SEED-Bench (image questions): LLaVA-1.5's ``convert_seed_for_submission.py`` rule — the answer is right when
it is exactly the gold option letter (no reading of longer answers; the instruction asks for the letter)."""
from __future__ import annotations

from collections.abc import Sequence

from . import register_scorer

__all__: list[str] = []


@register_scorer("seed_bench", layout="llava")
def _seed_bench(prediction: str, answers: Sequence[str]) -> float:
    return float(prediction.strip() in answers)
