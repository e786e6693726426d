"""MME: the benchmark's own score (``eval_tool/calculation.py``), per subtask and summed.

An answer reads "yes"/"no" when it is exactly that (lower-cased), else by which of "yes"/"no" occurs in its
first four characters, else "other" (always wrong). Per subtask: accuracy over questions plus accuracy+
over images (both of an image's questions right), each in percent — at most 200 a subtask, 2000 for
perception's ten, 800 for cognition's four. The general-suite value is the sum over the subtasks present,
as a fraction of their maximum; the parts keep MME's units (perception, cognition, each subtask).
"""
from __future__ import annotations

from collections import defaultdict

from . import CorpusScore, check_ids, register_corpus_scorer, register_id_form

__all__ = ["mme_answer", "mme"]


def mme_answer(text: str) -> str:
    text = text.strip().lower()
    if text in ("yes", "no"):
        return text
    prefix = text[:4]
    return "yes" if "yes" in prefix else "no" if "no" in prefix else "other"


@register_corpus_scorer("mme", layout="llava")
def mme(preds: list[dict]) -> CorpusScore:
    """``id`` is ``group/subtask/image/k`` (``data_prep.mme``): the group a subtask sums into and the image
    whose two questions make accuracy+."""
    check_ids("mme", [p["id"] for p in preds], "mme")
    images: dict[tuple[str, str], dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for p in preds:
        group, subtask, image, _ = str(p["id"]).split("/")
        images[group, subtask][image].append(mme_answer(p["prediction"]) == str(p["answers"][0]).strip().lower())
    parts = {"perception": 0.0, "cognition": 0.0}
    for (group, subtask), per_image in sorted(images.items()):
        answers = [ok for oks in per_image.values() for ok in oks]
        parts[subtask] = 100 * (sum(answers) / len(answers) + sum(all(o) for o in per_image.values()) / len(per_image))
        parts[group] += parts[subtask]
    return CorpusScore((parts["perception"] + parts["cognition"]) / (200 * len(images)), parts)


register_id_form("mme", lambda i: len(i.split("/")) == 4 and i.split("/")[0] in ("perception", "cognition"),
                 "'perception|cognition/subtask/image/k', as python -m data_prep.mme writes them")
