"""O-LoRA (Wang et al., "Orthogonal Subspace Learning for Language Model Continual Learning", Findings of
EMNLP 2023).

Each task trains a fresh LoRA (A and B, PEFT init) while the earlier tasks' LoRAs stay frozen — here they are
merged into the weights, which is the same function. A soft constraint keeps the new A's row space
orthogonal to every earlier A's: ``λ₁ Σ_layers Σ|A_t A_prevᵀ|``, the entrywise L1 sum of the official
``uie_trainer_lora.py`` (``torch.abs(torch.mm(lora_A, loranew_A.T)).sum()``, λ₁ = 0.5 as its scripts; their
λ₂ = 0 drops the L2 term), is added to the task loss, with no projection and no protected pretrained subspace;
no layer scale. ``olora_frobenius`` is the squared-Frobenius variant ``λ₁ Σ ‖A_t A_prevᵀ‖²_F``.
"""
from __future__ import annotations

import torch

from ..lora import ADAPTER, lora_modules
from . import register_method
from .base import Method

LAMBDA_ORTH = 0.5


@register_method("olora")
class OLoRA(Method):
    uses_subspace = True              # keeps state (the earlier tasks' A rows) that a resumed run reloads

    def __init__(self, recipe):
        super().__init__(recipe)
        self.previous_a: dict[str, torch.Tensor] = {}           # module -> (d_in, r·tasks) earlier A rows
        self._modules: dict = {}

    def on_engine(self, engine, peft_model):
        self._modules = lora_modules(peft_model)
        return None

    @staticmethod
    def overlap(products: torch.Tensor) -> torch.Tensor:
        """The official penalty on ``A_t A_prevᵀ``: the sum of its absolute entries."""
        return products.abs().sum()

    def regularizer(self) -> torch.Tensor | None:
        """``λ₁ Σ_modules overlap(A_t A_prevᵀ)`` (None before the second task)."""
        if not self.previous_a:
            return None
        total = 0.0
        for name, module in self._modules.items():
            a = module.lora_A[ADAPTER].weight
            total = total + self.overlap(a.float() @ self.previous_a[name].to(a.device))
        return LAMBDA_ORTH * total

    def end_task(self, ctx) -> None:
        """Keep the task's trained A (its module objects outlive the merge)."""
        for name, module in self._modules.items():
            rows = module.lora_A[ADAPTER].weight.detach().float().cpu().T          # (d_in, r)
            prev = self.previous_a.get(name)
            self.previous_a[name] = rows if prev is None else torch.cat([prev, rows], dim=1)
        self._modules = {}

    def state(self) -> dict[str, torch.Tensor]:
        return {n: a.contiguous() for n, a in self.previous_a.items()}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.previous_a = {n: t.to(torch.float32) for n, t in tensors.items()}


@register_method("olora_frobenius")
class OLoRAFrobenius(OLoRA):
    """Variant: the squared Frobenius norm ``‖A_t A_prevᵀ‖²_F`` instead of the official L1 sum."""

    @staticmethod
    def overlap(products: torch.Tensor) -> torch.Tensor:
        return products.square().sum()
