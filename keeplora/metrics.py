"""Continual-learning metrics as a pure function of the accuracy matrix.

``R[i][j]`` = score on task j after training task i (rows and columns in training order, 0-based
here); ``Z[j]`` = zero-shot score. Definitions follow the official code (``cal_MTIL_metrics`` for
Transfer/Average/Last, MCITlib for MFT/MFN/MAA/BWT); forgetting is Chaudhry et al. 2018, FWT is GEM's.
"""
from __future__ import annotations

from collections.abc import Sequence
from statistics import mean

__all__ = ["cl_metrics", "run_metrics", "general_change"]


def _mean_or_none(values: list[float]) -> float | None:
    return mean(values) if values else None


def cl_metrics(matrix: Sequence[Sequence[float]], zero_shot: Sequence[float] | None = None) -> dict:
    """All metrics of a T×T matrix; a metric undefined for T = 1 (no earlier task) is ``None``."""
    R = [list(map(float, row)) for row in matrix]
    T = len(R)
    if T == 0 or any(len(row) != T for row in R):
        raise ValueError(f"accuracy matrix must be square and non-empty, got {T} rows of lengths "
                         f"{[len(r) for r in R]}")
    out = {
        "transfer": _mean_or_none([mean(R[i][j] for i in range(j)) for j in range(1, T)]),
        "average": mean(mean(R[i][j] for i in range(T)) for j in range(T)),
        "last": mean(R[T - 1]),
        "mft": mean(R[j][j] for j in range(T)),
        "mfn": mean(R[T - 1]),
        "maa": mean(mean(R[t][: t + 1]) for t in range(T)),
        "bwt": _mean_or_none([R[T - 1][j] - R[j][j] for j in range(T - 1)]),
        "forgetting": _mean_or_none([max(R[i][j] for i in range(j, T - 1)) - R[T - 1][j] for j in range(T - 1)]),
    }
    if zero_shot is not None:
        out["fwt"] = _mean_or_none([R[j - 1][j] - float(zero_shot[j]) for j in range(1, T)])
    return out


def run_metrics(matrix: Sequence[Sequence[float]], zero_shot: Sequence[float] | None) -> dict:
    """Metrics of a run that may have stopped early: the square part over the tasks learned so far
    (``{}`` before the first task is done)."""
    done = len(matrix)
    if not done:
        return {}
    return cl_metrics([row[:done] for row in matrix], zero_shot[:done] if zero_shot else None)


def general_change(general: dict[str, dict[str, float]]) -> float | None:
    """Mean general-suite score after the last task minus before the first (points; negative = forgotten).

    ``general`` maps stage labels in run order (``zero-shot``, ``after <task>`` …) to {skill: score}.
    """
    if "zero-shot" not in general or len(general) < 2:
        return None
    first, last = general["zero-shot"], list(general.values())[-1]
    return sum(last.values()) / len(last) - sum(first.values()) / len(first)
