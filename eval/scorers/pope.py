"""POPE: yes/no answers read as LLaVA-1.5's ``eval_pope.py`` (and the POPE repository) read them, scored as F1.

The answer's first sentence, commas removed, split on spaces: "no" if any word is ``No``, ``no`` or ``not``,
else "yes". The score is F1 with "yes" as the positive class (what LLaVA-1.5 reports); accuracy,
precision, recall and the yes-ratio come with it.
"""
from __future__ import annotations

from . import CorpusScore, register_corpus_scorer

__all__ = ["pope_answer", "pope"]


def pope_answer(text: str) -> str:
    if text.find(".") != -1:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if "No" in words or "not" in words or "no" in words else "yes"


@register_corpus_scorer("pope", layout="llava")
def pope(preds: list[dict]) -> CorpusScore:
    pairs = [(pope_answer(p["prediction"]) == "yes", str(p["answers"][0]).strip().lower() == "yes") for p in preds]
    tp = sum(pred and gold for pred, gold in pairs)
    fp = sum(pred and not gold for pred, gold in pairs)
    fn = sum(gold and not pred for pred, gold in pairs)
    tn = len(pairs) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    parts = {"accuracy": 100 * (tp + tn) / len(pairs), "precision": 100 * precision, "recall": 100 * recall,
             "f1": 100 * f1, "yes_ratio": 100 * (tp + fp) / len(pairs)}
    return CorpusScore(f1, parts)
