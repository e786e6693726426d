"""Model adapter registry: one file per VLM family, looked up by the recipe's ``model.family``."""
from __future__ import annotations

from .base import LlavaFamilyAdapter, LoadedModel, ModelAdapter

__all__ = ["register_model", "get_adapter", "MODELS", "ModelAdapter", "LlavaFamilyAdapter", "LoadedModel"]

MODELS: dict[str, type[ModelAdapter]] = {}


def register_model(name: str):
    """Class decorator; a duplicate name is an error rather than a silent replacement."""
    def deco(cls: type[ModelAdapter]) -> type[ModelAdapter]:
        if name in MODELS:
            raise ValueError(f"model family {name!r} is already registered by {MODELS[name].__module__}")
        cls.family = name
        MODELS[name] = cls
        return cls
    return deco


def get_adapter(name: str) -> ModelAdapter:
    if name not in MODELS:
        raise ValueError(f"unknown model.family {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name]()


from . import llava, video_llava  # noqa: E402,F401  (register the built-in families)
