"""Shallow-to-deep layer scaling (KeepLoRA++, method §2.2).

The scale multiplies each layer's LoRA output (equivalently its α). Under Adam it acts as a per-layer
learning-rate multiplier on ``ΔW`` (method §2.3): shallow layers, which hold transferable knowledge,
move less than deep ones.
"""
from __future__ import annotations

from collections.abc import Callable

from ..registry import Registry

__all__ = ["layer_scales", "SCHEDULES", "register_schedule"]

SCHEDULES: Registry[Callable[[float, float], float]] = Registry("layer-scale schedule")


def register_schedule(name: str):
    """Register ``fn(depth, gamma) -> scale`` where depth = l/(L-1) in [0, 1]; names are unique."""
    return SCHEDULES.register(name)


@register_schedule("linear")
def _linear(depth: float, gamma: float) -> float:
    """Official KeepLoRA++: ``γ + (1−γ)·l/(L−1)`` (γ = 0.2 at the call sites)."""
    return gamma + (1.0 - gamma) * depth


@register_schedule("uniform")
def _uniform(depth: float, gamma: float) -> float:
    """No scaling: plain KeepLoRA."""
    return 1.0


@register_schedule("exp")
def _exp(depth: float, gamma: float) -> float:
    """Geometric ramp ``γ^(1−l/(L−1))``: same endpoints as linear, slower rise in shallow layers."""
    return gamma ** (1.0 - depth)


def layer_scales(num_layers: int, gamma: float = 0.2, schedule: str = "linear") -> list[float]:
    """Per-layer scale ``s_l`` for ``l = 0..L-1``; ``[1.0]`` when a single layer is tuned."""
    fn = SCHEDULES.get(schedule)
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"layer-scale gamma must be in (0, 1], got {gamma}")
    if num_layers == 1:
        return [1.0]
    return [fn(l / (num_layers - 1), gamma) for l in range(num_layers)]
