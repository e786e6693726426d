"""InfLoRA (Liang & Li, "InfLoRA: Interference-Free Low-Rank Adaptation for Continual Learning", CVPR 2024).

LoRA's dimension-reduction matrix (A here) is designed, not learned: its rows are the dominant directions
of the new task's layer inputs outside the subspace the previous tasks' inputs occupy, and stay frozen; after
each task that subspace grows from the task's inputs by an energy threshold (DualGPM). In this project's
terms it is KeepLoRA without the pretrained principal basis, with A from the input covariance instead of
the task gradient, and "features" growth always; no layer scale. DualGPM stores the basis or its complement,
whichever is smaller — the same projection, so the basis is kept directly here.
"""
from __future__ import annotations

import torch

from ..core import covariance_root, grow_basis, residual_init
from . import register_method
from .keeplora import KeepLoRA


@register_method("inflora")
class InfLoRA(KeepLoRA):

    def begin_task(self, ctx) -> dict[str, torch.Tensor]:
        if not self.bases:
            self.bases = {n: torch.zeros(layer.in_features, 0) for n, layer in ctx.layers.items()}
        covs = ctx.covariances()                                   # the new task's inputs, before training
        return {n: residual_init(covariance_root(covs[n]).T, self._basis_or_none(n), self.recipe.lora.r,
                                 seed=self.recipe.seed) for n in ctx.layers}

    def end_task(self, ctx) -> None:
        energy = self.recipe.subspace.feature_energy
        self.bases = {n: grow_basis(self._basis_or_none(n), covariance_root(c), energy)
                      for n, c in ctx.covariances().items()}

    def _basis_or_none(self, name: str) -> torch.Tensor | None:
        b = self.bases.get(name)
        return None if b is None or b.shape[1] == 0 else b
