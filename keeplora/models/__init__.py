"""Model adapter registry: one file per VLM family, looked up by the recipe's ``model.family``."""
from __future__ import annotations

from ..registry import Registry
from .base import Companions, LlavaFamilyAdapter, LoadedModel, MediaItem, ModelAdapter
from .encoder import Encoder

__all__ = ["register_model", "get_adapter", "MODELS", "ModelAdapter", "LlavaFamilyAdapter", "LoadedModel", "MediaItem",
           "Companions", "Encoder"]

MODELS: Registry[type[ModelAdapter]] = Registry("model.family", name_attr="family")
register_model = MODELS.register          # class decorator: @register_model("llava")


def get_adapter(name: str) -> ModelAdapter:
    return MODELS.get(name)()


from . import (  # noqa: E402,F401,I001
    clip, gemma3, internvl, llava, llava_next, llava_next_video, llava_onevision, qwen2_vl, qwen3_vl, video_llava,
)
