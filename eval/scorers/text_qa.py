"""The real-weights track's text questions (``data_prep.tinycl_real``): an instruct model answers in a
sentence ("The month after March is April."), so the rule looks for the answer as a whole word."""
from __future__ import annotations

import re
from collections.abc import Sequence

from . import register_scorer

_WORD = re.compile(r"[A-Za-z0-9]+")


@register_scorer("answer_word", layout="llava")
def answer_word(prediction: str, answers: Sequence[str]) -> float:
    """1 if any accepted answer is one of the prediction's words (case-insensitive; "12" ≠ "120").
    Lenient by design: the question set excludes answers that are words of the question."""
    words = {w.lower() for w in _WORD.findall(prediction)}
    return float(any(a.strip().lower() in words for a in answers))
