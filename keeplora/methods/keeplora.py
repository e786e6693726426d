"""KeepLoRA (ICLR 2026, arXiv 2601.19659) and KeepLoRA++ (arXiv 2606.16256).

Per adapted linear, a protected input basis starts as the pretrained weight's principal subspace
(ε_w) and grows after each task with that task's dominant directions (ε_f). A new task's LoRA A is
the top-r residual direction of its gradient, frozen (or kept residual by the trainable-A wrapper),
so every merged update satisfies ``ΔW @ basis = 0``. KeepLoRA++ also scales α from γ (shallowest
adapted layer) to 1 (deepest).
"""
from __future__ import annotations

import torch

from ..core import (
    grow_basis,
    grow_basis_from_covariance,
    grow_basis_from_sketch,
    principal_basis,
    residual_init,
    residual_init_from_sketch,
)
from ..statistics import GradientMean, GradientSketches, InputCovariance, SummedInputs
from . import register_method
from .base import Method, TaskContext, depth_scales


@register_method("keeplora_pp")
class KeepLoRAPlusPlus(Method):
    uses_subspace = True
    uniform_scale = False

    def __init__(self, recipe):
        super().__init__(recipe)
        self.bases: dict[str, torch.Tensor] = {}

    @property
    def train_a(self) -> bool:
        return self.recipe.lora.train_a

    def scales(self, layer_index: dict[str, int], towers: dict[str, str] | None = None) -> dict[str, float]:
        ls = self.recipe.layer_scale
        return depth_scales(layer_index, ls.gamma, "uniform" if self.uniform_scale else ls.schedule, towers,
                            ls.towers)

    def _principal(self, ctx: TaskContext) -> dict[str, torch.Tensor]:
        """Step 0: the pretrained principal basis of every layer (ε_w per tower), or empty bases (ablation)."""
        sub = self.recipe.subspace
        if not sub.principal:
            return {n: torch.zeros(l.in_features, 0) for n, l in ctx.layers.items()}
        side = ctx.adapter.principal_side(sub) if ctx.adapter is not None else "input"
        return {n: principal_basis(l.weight, sub.tower_weight_energy.get(ctx.tower(n), sub.weight_energy),
                                   side=side) for n, l in ctx.layers.items()}

    def _reference(self, ctx: TaskContext) -> None:
        """Step 0, after the principal part: the reference set's layer inputs join every basis (GPM rule at
        ``subspace.reference.energy``), so general inputs map as before whatever later tasks learn."""
        ref = self.recipe.subspace.reference
        if ref is None:
            return
        grown = {n: grow_basis_from_covariance(self.bases[n], c, ref.energy)
                 for n, c in ctx.statistics(InputCovariance, "reference")}
        self.bases = {n: grown[n] for n in ctx.layers}

    def _sketch(self, ctx: TaskContext) -> dict:
        """Every layer's residual gradient sketch (k = ``sketch_rank`` or 2r; seeded per task)."""
        sub = self.recipe.subspace
        k = sub.sketch_rank or 2 * self.recipe.lora.r
        return dict(ctx.statistics(lambda: GradientSketches(self.bases, k, self.recipe.seed + 1000 * ctx.index)))

    def begin_task(self, ctx: TaskContext) -> dict[str, torch.Tensor]:
        sub = self.recipe.subspace
        if not self.bases:                                        # step 0, once: pretrained principal bases
            self.bases = self._principal(ctx)
            self._reference(ctx)
        r = self.recipe.lora.r
        if sub.gradient == "sketch":                              # steps 1-2 from a streamed gradient sketch
            sketch = self._sketch(ctx)
            return {n: residual_init_from_sketch(sketch[n], self.bases[n], r, seed=self.recipe.seed)
                    for n in ctx.layers}
        # step 1: mean task gradient, LoRA absent (pass by pass); step 2: its top-r residual directions
        return {n: residual_init(g, self.bases[n], r, randomized=sub.randomized_svd, seed=self.recipe.seed)
                for n, g in ctx.statistics(GradientMean)}

    def on_engine(self, engine, peft_model):
        """Trainable-A mode: keep A's rows residual after every optimizer step (frozen A needs nothing)."""
        if not self.train_a:
            return None
        from ..dist.residual_a import install_residual_a
        from ..lora import ADAPTER, lora_modules
        modules = lora_modules(peft_model)
        return install_residual_a(engine, [(modules[n].lora_A[ADAPTER].weight, self.bases[n]) for n in sorted(modules)])

    def end_task(self, ctx: TaskContext) -> None:
        """Step 6: grow every basis with the finished task's statistic, layer by layer as the passes yield it."""
        sub = self.recipe.subspace
        if not sub.grow:                                          # ablation: the principal part only
            return
        if sub.growth == "grad" and sub.growth_estimate == "sketch":
            sketch = self._sketch(ctx)
            self.bases = {n: grow_basis_from_sketch(self.bases[n], sketch[n], sub.feature_energy) for n in ctx.layers}
            return
        e = sub.feature_energy
        if sub.growth == "grad":                                  # LLaVA/video: post-training gradient Gᵀ, exact
            grown = {n: grow_basis(self.bases[n], g.T, e) for n, g in ctx.statistics(GradientMean)}
        elif sub.growth == "features":                            # layer inputs, via Σ x xᵀ
            grown = {n: grow_basis_from_covariance(self.bases[n], c, e) for n, c in ctx.statistics(InputCovariance)}
        else:                                                     # the MTIL code's summed token matrices
            grown = {n: grow_basis(self.bases[n], r, e) for n, r in ctx.statistics(SummedInputs)}
        self.bases = {n: grown[n] for n in ctx.layers}

    def basis(self, name: str) -> torch.Tensor | None:
        return self.bases.get(name)

    def state(self) -> dict[str, torch.Tensor]:
        return {n: b.contiguous() for n, b in self.bases.items()}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.bases = {n: t.to(torch.float32) for n, t in tensors.items()}


@register_method("keeplora")
class KeepLoRA(KeepLoRAPlusPlus):
    """KeepLoRA: the same subspace rules with no layer scale (γ = 1 everywhere)."""
    uniform_scale = True
