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
                warmup_ratio: float, weight_decay: float):
    """Returns a DeepSpeed engine whose ``step()`` also advances the warm-up + cosine schedule."""
    import deepspeed
    optimizer = torch.optim.AdamW(param_groups, weight_decay=weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(round(warmup_ratio * total_steps)), total_steps)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config)
    return engine
