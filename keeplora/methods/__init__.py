"""Continual-learning methods as plugins: the trainer calls their lifecycle hooks and nothing else.

A new method subclasses ``Method`` and registers with ``@register_method("name")``; the trainer
does not change.
"""
from __future__ import annotations

from .base import Method, TaskContext

__all__ = ["Method", "TaskContext", "register_method", "get_method", "METHODS"]

METHODS: dict[str, type[Method]] = {}


def register_method(name: str):
    def deco(cls: type[Method]) -> type[Method]:
        if name in METHODS:
            raise ValueError(f"method {name!r} is already registered by {METHODS[name].__module__}")
        cls.name = name
        METHODS[name] = cls
        return cls
    return deco


def get_method(name: str) -> type[Method]:
    if name not in METHODS:
        raise ValueError(f"unknown method.name {name!r}; known: {', '.join(sorted(METHODS))}")
    return METHODS[name]


from . import keeplora, seq_lora  # noqa: E402,F401  (register the built-in methods)
