"""Mechanism diagnostics of one task's update, read off the LoRA factors before the merge.

``ΔW_l = s_l·B·A`` per module: its norm (should grow with depth under KeepLoRA++), its size relative to the
weight ``‖ΔW‖/‖W‖`` (what a bf16 merge can keep: below ~4e-3 per element it rounds away), and its leak
``‖ΔW B_prev‖/‖ΔW‖`` into the protected basis (≈ 0 for KeepLoRA, large for plain LoRA). The merge adds the
record's figures (``keeplora.core.MergeRecord.apply``).
"""
from __future__ import annotations

import torch

from .core import leak
from .lora import ADAPTER, lora_modules

__all__ = ["update_diagnostics"]


@torch.no_grad()
def update_diagnostics(peft_model, method, layer_index: dict[str, int]) -> dict[str, dict]:
    out = {}
    for name, module in lora_modules(peft_model).items():
        a = module.lora_A[ADAPTER].weight.float()                 # (r, d_in)
        b = module.lora_B[ADAPTER].weight.float()                 # (d_out, r)
        delta = module.scaling[ADAPTER] * (b @ a)                 # (d_out, d_in)
        basis = method.basis(name)
        weight = float(module.get_base_layer().weight.float().norm()) or 1.0
        out[name] = {"layer": layer_index[name], "norm": float(delta.norm()), "relative": float(delta.norm()) / weight,
                     "leak": None if basis is None else leak(delta, basis.to(delta.device))}
    return out
