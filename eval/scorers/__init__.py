"""Scorers by name: ``score(name, prediction, answers) -> float`` in [0, 1].

One small module per benchmark registers its rules with ``@register_scorer``; the official rules are
kept per benchmark (no global normaliser), so numbers stay comparable with the papers.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["register_scorer", "score", "SCORERS"]

SCORERS: dict[str, Callable[[str, Sequence[str]], float]] = {}


def register_scorer(name: str):
    def deco(fn: Callable[[str, Sequence[str]], float]):
        if name in SCORERS:
            raise ValueError(f"scorer {name!r} is already registered")
        SCORERS[name] = fn
        return fn
    return deco


def score(name: str, prediction: str, answers: Sequence[str]) -> float:
    if name not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; known: {', '.join(sorted(SCORERS))}")
    return float(SCORERS[name](prediction, answers))


from . import exact  # noqa: E402,F401
