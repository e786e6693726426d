"""SeqLoRA: plain LoRA (A and B trained, PEFT init) merged after every task — the forgetting baseline."""
from __future__ import annotations

from . import register_method
from .base import Method


@register_method("seq_lora")
class SeqLoRA(Method):
    """No protected subspace, no layer scale; everything else (merge, schedule, data) is shared."""
