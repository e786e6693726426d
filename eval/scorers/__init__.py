"""Scorers by name: ``score(name, prediction, answers) -> float`` in [0, 1].

One small module per benchmark registers its rules with ``@register_scorer``; the official rules are
kept per benchmark (no global normaliser), so numbers stay comparable with the papers.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from keeplora.registry import Registry

__all__ = ["register_scorer", "score", "SCORERS"]

SCORERS: Registry[Callable[[str, Sequence[str]], float]] = Registry("scorer")
register_scorer = SCORERS.register        # decorator: @register_scorer("exact_match")


def score(name: str, prediction: str, answers: Sequence[str]) -> float:
    return float(SCORERS.get(name)(prediction, answers))


from . import coin, dcl, exact, vqa  # noqa: E402,F401
