"""A DeepSpeed engine's training state in a world-size-independent form, for step checkpoints.

The full fp32 value of every trainable parameter and its two Adam moments are read out of ZeRO's
partitions (``safe_get_full_*``: collective, every rank calls it in the same order) and written back
the same way, so a checkpoint is plain tensors (safetensors) that any number of ranks can resume from.
DeepSpeed's own ``save_checkpoint`` pickles per-rank partitions and needs a conversion step to change
the world size; this does not.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["gather_training_state", "restore_training_state", "scheduler_state", "MOMENTS"]

MOMENTS = ("exp_avg", "exp_avg_sq")


def _managed(p: nn.Parameter) -> bool:
    """True when an optimizer wrapper (ZeRO-1/2/3, bf16) holds this parameter's fp32 master — on every rank,
    also where this rank's partition holds none of it (``_hp_mapping is None``: it then adds zeros)."""
    return hasattr(p, "_hp_mapping") or hasattr(p, "ds_id")


def _base_optimizer(engine) -> torch.optim.Optimizer:
    opt = engine.optimizer
    return getattr(opt, "optimizer", opt)


def _relink_optimizer_state(engine) -> None:
    """DeepSpeed links each parameter to its optimizer-state fragment once, right after the *first* param
    group's first step, copying whatever state exists then: with several groups (LoRA and projector) the
    later groups stay linked to empty state. Link again now that every group has stepped."""
    opt = engine.optimizer
    if hasattr(opt, "_hp_optimizer_states_linked") and hasattr(opt, "_lazy_init_hp_params_optimizer_state"):
        opt._hp_optimizer_states_linked = False
        opt._lazy_init_hp_params_optimizer_state()


def gather_training_state(engine, named: list[tuple[str, nn.Parameter]]) -> dict[str, torch.Tensor]:
    """``param/<name>``, ``exp_avg/<name>``, ``exp_avg_sq/<name>`` as full fp32 CPU tensors (all ranks)."""
    from deepspeed.utils import safe_get_full_fp32_param, safe_get_full_optimizer_state
    _relink_optimizer_state(engine)
    out = {}
    plain_state = _base_optimizer(engine).state
    for name, p in named:
        if _managed(p):
            out[f"param/{name}"] = safe_get_full_fp32_param(p)
            for key in MOMENTS:
                out[f"{key}/{name}"] = safe_get_full_optimizer_state(p, key)
        else:                                                   # ZeRO-0 in fp32: the torch optimizer itself
            out[f"param/{name}"] = p.detach().float()
            for key in MOMENTS:
                out[f"{key}/{name}"] = plain_state.get(p, {}).get(key, torch.zeros_like(p, dtype=torch.float32))
    return {k: v.detach().float().cpu().clone() for k, v in out.items()}       # a copy, never a live view


def _ensure_optimizer_state(engine) -> None:
    """AdamW creates its state at the first step; a resumed engine needs it before that, linked to ZeRO's
    fragments (DeepSpeed links them lazily after its first step)."""
    base = _base_optimizer(engine)
    if base.state:
        return
    for group in base.param_groups:
        for p in group["params"]:
            base.state[p] = {"step": torch.tensor(0.0), "exp_avg": torch.zeros_like(p),
                             "exp_avg_sq": torch.zeros_like(p)}
    _relink_optimizer_state(engine)


def restore_training_state(engine, named: list[tuple[str, nn.Parameter]], tensors: dict[str, torch.Tensor],
                           optimizer_steps: int, schedule: dict) -> None:
    """Write parameters, moments, the step count and the LR schedule back; also the module copy used by
    forward (ZeRO refreshes it from the fp32 master only at its next step)."""
    from deepspeed.utils import safe_set_full_fp32_param, safe_set_full_optimizer_state
    _ensure_optimizer_state(engine)
    base = _base_optimizer(engine)
    with torch.no_grad():
        for name, p in named:
            value = tensors[f"param/{name}"]
            p.data.copy_(value.to(p.device, p.dtype))
            if _managed(p):
                safe_set_full_fp32_param(p, value.to(p.device))
                for key in MOMENTS:
                    safe_set_full_optimizer_state(p, tensors[f"{key}/{name}"].to(p.device), key)
            else:
                base.state[p].update({key: tensors[f"{key}/{name}"].to(p.device).clone() for key in MOMENTS})
        for state in base.state.values():
            state["step"] = torch.tensor(float(optimizer_steps))
    _restore_scheduler(engine, schedule)


def scheduler_state(engine) -> dict:
    """The LR schedule's position, JSON-able (the schedule itself is rebuilt from the recipe)."""
    sd = engine.lr_scheduler.state_dict()
    return {"last_epoch": sd["last_epoch"], "_step_count": sd["_step_count"], "_last_lr": list(sd["_last_lr"])}


def _restore_scheduler(engine, state: dict) -> None:
    sched = engine.lr_scheduler
    sched.load_state_dict({**sched.state_dict(), **state})
    for group, lr in zip(sched.optimizer.param_groups, state["_last_lr"]):   # load_state_dict leaves lr as is
        group["lr"] = lr
