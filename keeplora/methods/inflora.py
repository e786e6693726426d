"""InfLoRA (Liang & Li, "InfLoRA: Interference-Free Low-Rank Adaptation for Continual Learning", CVPR 2024).

LoRA's dimension-reduction matrix (A here) is designed, not learned: its rows are the dominant directions
of the new task's layer inputs outside the subspace the previous tasks' inputs occupy, and stay frozen; after
each task that subspace grows from the task's inputs by an energy threshold (DualGPM). In this project's
terms it is KeepLoRA without the pretrained principal basis, with A from the input covariance instead of
the task gradient, and "features" growth always; no layer scale. DualGPM stores the basis or its complement,
whichever is smaller — the same projection, so the basis is kept directly here.

``inflora`` follows the official code (``liangyanshuo/InfLoRA``, ``methods/inflora.py``): only the attention
key and value projections are adapted (``lora_A_k`` / ``lora_A_v``), A is the residual directions scaled by
1/√3 (``U[:, :rank].T / math.sqrt(3)``), and the growth threshold ramps over the sequence,
``ε_t = lamb + (lame − lamb)·t/T`` with lamb = 0.95, lame = 1.0 (its configs), t = 0 for the first task.
``inflora_all`` is the variant on every adapter target with orthonormal A and a fixed ε_f
(``subspace.feature_energy``).
"""
from __future__ import annotations

import math

import torch

from ..core import covariance_root, grow_basis_from_covariance, residual_init
from ..errors import UserError
from ..statistics import InputCovariance
from . import register_method
from .keeplora import KeepLoRA

LAMBDA_START, LAMBDA_END = 0.95, 1.0          # the official configs' "lamb" and "lame"
A_SCALE = 1.0 / math.sqrt(3.0)
ADAPTED = ("k_proj", "v_proj")


@register_method("inflora_all")
class InfLoRAAllLinears(KeepLoRA):
    """InfLoRA's designed A and DualGPM growth on every adapter target, A orthonormal, ε_f fixed."""
    a_scale = 1.0

    def energy(self, index: int) -> float:
        return self.recipe.subspace.feature_energy

    def begin_task(self, ctx) -> dict[str, torch.Tensor]:
        if not self.bases:
            self.bases = {n: torch.zeros(layer.in_features, 0) for n, layer in ctx.layers.items()}
        r = self.recipe.lora.r                                     # the new task's inputs, before training
        return {n: self.a_scale * residual_init(covariance_root(c).T, self._basis_or_none(n), r, seed=self.recipe.seed)
                for n, c in ctx.statistics(InputCovariance)}

    def end_task(self, ctx) -> None:
        energy = self.energy(ctx.index)
        grown = {n: grow_basis_from_covariance(self._basis_or_none(n), c, energy)
                 for n, c in ctx.statistics(InputCovariance)}
        self.bases = {n: grown[n] for n in ctx.layers}

    def _basis_or_none(self, name: str) -> torch.Tensor | None:
        b = self.bases.get(name)
        return None if b is None or b.shape[1] == 0 else b


@register_method("inflora")
class InfLoRA(InfLoRAAllLinears):
    """The official InfLoRA: keys and values only, A scaled by 1/√3, ε ramped from 0.95 to 1.0."""
    a_scale = A_SCALE

    def targets(self, layer_index: dict[str, int]) -> dict[str, int]:
        kept = {n: i for n, i in layer_index.items() if n.rsplit(".", 1)[-1] in ADAPTED}
        if not kept:
            raise UserError(f"inflora adapts the {' and '.join(ADAPTED)} linears, and this model has none among "
                             f"its LoRA targets; use method.name=inflora_all")
        return kept

    def energy(self, index: int) -> float:
        return LAMBDA_START + (LAMBDA_END - LAMBDA_START) * index / len(self.recipe.tasks)
