"""SeqLoRA: plain LoRA (A and B trained, PEFT init) merged after every task — the forgetting baseline."""
from __future__ import annotations

from . import register_method
from .base import Method


@register_method("seq_lora")
class SeqLoRA(Method):
    """No protected subspace, no layer scale; everything else (merge, schedule, data) is shared."""


@register_method("joint")
class JointLoRA(SeqLoRA):
    """Joint multitask LoRA, the usual upper bound: one LoRA trained once on the union of every task's
    training set (``optim.epochs`` over the union), then evaluated on each task. Every row of its score
    matrix is that one model's, so its BWT and forgetting are 0 by construction; compare Last/Average."""
    trains_on_all_tasks = True
