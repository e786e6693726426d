"""Continual-learning methods as plugins: the trainer calls their lifecycle hooks and nothing else.

A new method subclasses ``Method`` and registers with ``@register_method("name")``; the trainer
does not change.
"""
from __future__ import annotations

from ..registry import Registry
from .base import Method, TaskContext

__all__ = ["Method", "TaskContext", "register_method", "get_method", "METHODS"]

METHODS: Registry[type[Method]] = Registry("method.name", name_attr="name")
register_method = METHODS.register        # class decorator: @register_method("keeplora_pp")


def get_method(name: str) -> type[Method]:
    return METHODS.get(name)


from . import inflora, keeplora, olora, seq_lora  # noqa: E402,F401  (register the built-in methods)
