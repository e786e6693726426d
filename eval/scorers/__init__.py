"""Scorers by name: ``score(name, prediction, answers) -> float`` in [0, 1] for per-sample rules, and
corpus-level scorers (captions) through ``score_corpus``; ``score_task`` scores a task either way.

One small module per benchmark registers its rules with ``@register_scorer`` / ``@register_corpus_scorer``;
the official rules are kept per benchmark (no global normaliser), so numbers stay comparable with the papers.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from keeplora.errors import UserError
from keeplora.registry import Registry

__all__ = ["register_scorer", "register_corpus_scorer", "register_id_form", "score", "score_corpus", "score_task",
           "check_scorer", "check_ids", "SCORERS", "CORPUS_SCORERS", "LAYOUTS", "CorpusScore", "TaskScore"]


@dataclass
class CorpusScore:
    """A corpus-level score (0–1 scale), its parts (in the benchmark's own reporting units), and a note when
    it is not the official computation."""
    value: float
    parts: dict[str, float] = field(default_factory=dict)
    note: str | None = None


@dataclass
class TaskScore:
    """One task's score in percent, as written to metrics and reports."""
    value: float
    scorer: str
    parts: dict[str, float] = field(default_factory=dict)
    note: str | None = None


SCORERS: Registry[Callable[[str, Sequence[str]], float]] = Registry("scorer")
CORPUS_SCORERS: Registry[Callable[[list[dict]], CorpusScore]] = Registry("scorer")
LAYOUTS: dict[str, str] = {}
"""Scorer name -> the prediction-file layout its benchmark's official scripts read (``eval.layouts``)."""


def _registrar(registry: Registry, name: str, layout: str):
    """Register under ``name`` and record its layout: every scorer says which layout its files take."""
    def deco(fn):
        LAYOUTS[name] = layout
        return registry.register(name)(fn)
    return deco


def register_scorer(name: str, *, layout: str):
    """Decorator: ``@register_scorer("exact_match", layout="llava")``."""
    return _registrar(SCORERS, name, layout)


def register_corpus_scorer(name: str, *, layout: str):
    """Decorator: ``@register_corpus_scorer("caption_coco", layout="llava")``."""
    return _registrar(CORPUS_SCORERS, name, layout)


ID_FORMS: dict[str, tuple[Callable[[str], bool], str]] = {}
"""Scorer name -> (accepts an id, the form in words): scorers that group samples by their ids (MME's image
pairs, MMBench's rotations) and so need the ids their converter writes."""


def register_id_form(name: str, accepts: Callable[[str], bool], form: str) -> None:
    ID_FORMS[name] = (accepts, form)


def check_ids(name: str, ids: Sequence, where: str) -> None:
    """One-line error for the first sample id a scorer cannot group (checked before training and at scoring)."""
    accepts, form = ID_FORMS.get(name, (None, ""))
    bad = next((i for i in ids if not accepts(str(i))), None) if accepts else None
    if bad is not None:
        raise UserError(f"{where}: sample {bad!r}: the {name} scorer reads ids of the form {form}")


def score(name: str, prediction: str, answers: Sequence[str]) -> float:
    return float(SCORERS.get(name)(prediction, answers))


def score_corpus(name: str, preds: list[dict]) -> CorpusScore:
    """``preds``: ``[{"prediction", "answers", "question"}]`` in test-file order (caption metrics pair by order)."""
    return CORPUS_SCORERS.get(name)(preds)


def check_scorer(name: str, where: str) -> None:
    """One-line error for a scorer name that is neither per-sample nor corpus-level."""
    if name not in SCORERS and name not in CORPUS_SCORERS:
        known = sorted([*SCORERS, *CORPUS_SCORERS])
        raise UserError(f"{where}: unknown scorer {name!r}; known: {', '.join(known)}")


def score_task(name: str, preds: list[dict]) -> TaskScore:
    """Score ``[{"prediction", "answers", optional "scorer"}]``; per-sample rules also set ``p["score"]``.

    A sample's own ``scorer`` (written by the converters, e.g. MapQA items inside DCL's Sci task) overrides
    the task's.
    """
    if not preds:
        return TaskScore(0.0, name)
    if name in CORPUS_SCORERS:
        result = score_corpus(name, preds)
        return TaskScore(100.0 * result.value, name, result.parts, result.note)
    for p in preds:
        p["score"] = score(p.get("scorer") or name, p["prediction"], p["answers"])
    return TaskScore(100.0 * sum(p["score"] for p in preds) / len(preds), name)


from . import caption, coin, dcl, exact, judge, mc, mmbench, mme, pope, seed_bench, text_qa, vqa  # noqa: E402,F401
