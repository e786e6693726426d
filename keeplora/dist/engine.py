"""``deepspeed.initialize`` with a torch optimizer and scheduler built from the recipe.

Passing a torch AdamW (not a DeepSpeed "optimizer" block) avoids JIT-compiling fused Adam on CPU
and keeps the optimizer identical across ZeRO stages.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import get_cosine_schedule_with_warmup

__all__ = ["make_engine"]


def make_engine(model: nn.Module, param_groups: list[dict], ds_config: dict, total_steps: int,
                warmup_ratio: float, weight_decay: float, schedule: str = "cosine"):
    """Returns a DeepSpeed engine whose ``step()`` also advances the task's LR schedule: warm-up + cosine,
    or torch's OneCycleLR (the MTIL code's, with its defaults: 30 % rise, cosine annealing, cycled β1)."""
    import deepspeed
    optimizer = torch.optim.AdamW(param_groups, weight_decay=weight_decay)
    if schedule == "one_cycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in param_groups],
                                                        total_steps=max(total_steps, 2))
    else:
        scheduler = get_cosine_schedule_with_warmup(optimizer, int(round(warmup_ratio * total_steps)), total_steps)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config)
    return engine
