"""Multiple-choice video QA (MVBench as KeepLoRA++'s ``eval_mvbench.py`` scores it).

The gold answer is ``"(B) text"``. Correct when the option letter read from the prediction equals the gold
letter, else when the gold text is contained in the prediction, else when the prediction minus its
letter equals the gold text. Quirk kept: a prediction that starts with a word is read as that word's
first letter ("the answer is (b)" → "t"), so such answers count only through the text fallback.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from . import register_scorer

__all__ = ["option_letter", "mvbench_correct"]

_LEADING = re.compile(r"^\(?\s*([a-z])\s*\)?\s*[\.\):]?\s*(.*)$")
_SAYS = re.compile(r"(?:answer|option|choose|choice)\s*(?:is|:)?\s*\(?\s*([a-z])\s*\)?")
_BRACKETED = re.compile(r"\(\s*([a-z])\s*\)")
_MARKUP = re.compile(r"^\(?\s*[a-z]\s*\)?\s*[\.\):]?\s*")


def option_letter(text: str) -> str:
    s = text.strip().lower()
    if len(s) == 1 and s.isalpha():
        return s
    for pattern in (_LEADING, _SAYS, _BRACKETED):
        m = pattern.match(s) if pattern is _LEADING else pattern.search(s)
        if m:
            return m.group(1)
    return ""


def mvbench_correct(prediction: str, gold: str) -> bool:
    pred = prediction.strip().lower().replace("\n", " ").strip()
    gt = gold.strip().lower().replace("\n", " ").strip()
    if not pred:
        return False
    gt_letter, gt_text = option_letter(gt), _MARKUP.sub("", gt).strip()
    gt_text = gt_text[:-1].strip() if gt_text.endswith(".") else gt_text
    pred_letter = option_letter(pred)
    if pred_letter and gt_letter and pred_letter == gt_letter:
        return True
    if gt_text and gt_text in pred:
        return True
    pred_text = _MARKUP.sub("", pred).strip()
    return bool(pred_text and gt_text and pred_text == gt_text)


@register_scorer("mvbench", layout="mvbench")
def _mvbench(prediction: str, answers: Sequence[str]) -> float:
    return float(any(mvbench_correct(prediction, a) for a in answers))
