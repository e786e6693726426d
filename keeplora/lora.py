"""LoRA injection and merge through PEFT, with per-layer α for the layer scale.

KeepLoRA++'s scale ``s_l`` multiplies layer l's LoRA output, i.e. its α: PEFT's ``alpha_pattern``
with one escaped full module name per key gives each module ``α·s_l / r`` (checked after injection).
"""
from __future__ import annotations

import re

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from .config import LoraCfg
from .core import MergeRecord, project_off
from .errors import UserError

__all__ = ["inject_lora", "lora_modules", "merge_lora", "lora_factors", "merge_into_record", "ADAPTER"]

ADAPTER = "default"


def lora_modules(model: nn.Module) -> dict[str, nn.Module]:
    """LoRA layers of a PEFT model keyed by their name in the *base* model."""
    out = {}
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and ADAPTER in getattr(module, "lora_A", {}):
            out[name.removeprefix("base_model.model.")] = module
    return out


def inject_lora(model: nn.Module, targets: list[str], cfg: LoraCfg, scales: dict[str, float],
                init_a: dict[str, torch.Tensor] | None = None, train_a: bool = True) -> PeftModel:
    """Wrap ``model`` with LoRA on ``targets``; optionally set and freeze A.

    init_a: module name -> (r, d_in) rows; B stays 0 (PEFT's default), so the function is unchanged.
    """
    alpha_pattern = {re.escape(name): cfg.alpha * scales[name] for name in targets}
    config = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=list(targets),
                        alpha_pattern=alpha_pattern, init_lora_weights=True, bias="none")
    peft_model = get_peft_model(model, config)
    modules = lora_modules(peft_model)
    for name in targets:
        module = modules[name]
        expected = cfg.alpha * scales[name] / cfg.r
        if abs(module.scaling[ADAPTER] - expected) > 1e-9 * max(1.0, expected):
            raise RuntimeError(f"PEFT applied scaling {module.scaling[ADAPTER]} to {name}, expected {expected}")
        a = module.lora_A[ADAPTER].weight
        if init_a is not None:
            with torch.no_grad():
                a.copy_(init_a[name].to(a.dtype))
        a.requires_grad_(train_a)
    return peft_model


def lora_weights(peft_model: nn.Module) -> dict[str, torch.Tensor]:
    """Every LoRA factor as ``A/<module>`` and ``B/<module>`` (fp32 CPU copies), for step checkpoints."""
    out = {}
    for name, m in lora_modules(peft_model).items():
        out[f"A/{name}"] = m.lora_A[ADAPTER].weight.detach().float().cpu().clone()
        out[f"B/{name}"] = m.lora_B[ADAPTER].weight.detach().float().cpu().clone()
    return out


def load_lora_weights(peft_model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """The inverse of ``lora_weights``; a checkpoint with other modules is refused with the first missing one."""
    modules = lora_modules(peft_model)
    missing = [n for n in modules if f"A/{n}" not in tensors]
    if missing or len(tensors) != 2 * len(modules):
        raise UserError(f"step checkpoint does not match the model's LoRA modules (e.g. {missing[:1]}); "
                        f"delete <output_dir>/checkpoints to restart the task")
    with torch.no_grad():
        for name, m in modules.items():
            m.lora_A[ADAPTER].weight.copy_(tensors[f"A/{name}"])
            m.lora_B[ADAPTER].weight.copy_(tensors[f"B/{name}"])


def merge_lora(peft_model: PeftModel) -> nn.Module:
    """PEFT's own merge, ``W += s·B·A`` in the weights' dtype (one rounding per merge: tests and tools only;
    training merges through ``merge_into_record``)."""
    return peft_model.merge_and_unload()


def lora_factors(peft_model: nn.Module, bases: dict[str, torch.Tensor | None]) -> dict[str, tuple]:
    """Each module's update ``ΔW = U @ D`` as fp32 factors, ``U = s·B`` and ``D = A``.

    Where the module has a protected basis, D's rows are projected off it in fp32: an A held in bf16 was
    rounded off the residual subspace by ~1e-3, and that rounding is exactly the part that would touch
    protected inputs.
    """
    out = {}
    for name, m in lora_modules(peft_model).items():
        up = m.scaling[ADAPTER] * m.lora_B[ADAPTER].weight.detach().float()
        down = project_off(m.lora_A[ADAPTER].weight.detach().float(), bases.get(name))
        out[name] = (up.cpu(), down.cpu())
    return out


def merge_into_record(peft_model: PeftModel, record: MergeRecord,
                      bases: dict[str, torch.Tensor | None]) -> tuple[nn.Module, dict[str, dict]]:
    """Method step 5 without accumulated rounding: the task's fp32 factors join the record, PEFT unloads the
    LoRA modules (no in-dtype merge), and every adapted weight becomes the record rounded once.

    Returns the plain model (a transformers checkpoint when saved) and the record's per-module diagnostics.
    """
    record.add(lora_factors(peft_model, bases))
    model = peft_model.unload()
    layers = {n: model.get_submodule(n) for n in record.base}
    return model, record.apply(layers, bases)
