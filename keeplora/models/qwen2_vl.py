"""Qwen2-VL and Qwen2.5-VL (``Qwen/Qwen2-VL-7B-Instruct``, ``Qwen/Qwen2.5-VL-7B-Instruct``).

Native-resolution ViT: an image becomes ``(h/14)·(w/14)`` patches (``smart_resize`` keeps both sides
multiples of 28), merged 2×2 into tokens; a video pairs consecutive frames into one temporal patch
(an odd frame count repeats the last frame). Positions are 3-D rotary (M-RoPE), computed by the
model from ``image_grid_thw``/``video_grid_thw`` and the per-token modality ids.
"""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from ..config import ModelCfg
from ..data.chat import QWEN_TINY_TEMPLATE
from . import register_model
from .base import LlavaFamilyAdapter, LoadedModel, MediaItem

VIDEO_MAX_TOKENS = 768          # Qwen2-VL's video processor: at most 768 merged tokens per frame pair


@register_model("qwen2_vl")
class Qwen2VLAdapter(LlavaFamilyAdapter):
    model_cls = Qwen2VLForConditionalGeneration
    config_cls = Qwen2VLConfig
    projector_prefixes = ("visual.merger",)
    modalities = ("image", "video")
    media_token = {"image": "<|image_pad|>", "video": "<|video_pad|>"}
    media_text = {k: f"<|vision_start|><|{k}_pad|><|vision_end|>" for k in ("image", "video")}
    default_prompt = "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    tiny_chat_template = QWEN_TINY_TEMPLATE
    token_types_key = "mm_token_type_ids"

    def tiny_vision(self, hidden_size: int) -> dict:
        """The tiny twin's vision-tower fields besides its patch layout."""
        return {"depth": 2, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2}

    def tiny_text(self, tokenizer) -> dict:
        """The tiny twin's text fields that differ between Qwen generations (3-D rotary layout, special ids)."""
        return {"rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}, "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id}

    def tiny_config(self, tokenizer, hidden_size=64, num_layers=4, **text):
        ids = {k: tokenizer.convert_tokens_to_ids(f"<|{k}|>") for k in ("image_pad", "video_pad", "vision_start",
                                                                         "vision_end")}
        lm = dict(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                  num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2, initializer_range=0.2,
                  max_position_embeddings=2048, pad_token_id=tokenizer.pad_token_id, **self.tiny_text(tokenizer),
                  **text)
        vision = {**self.tiny_vision(hidden_size), "patch_size": 8, "spatial_merge_size": 2, "temporal_patch_size": 2}
        return self.config_cls(text_config=lm, vision_config=vision, image_token_id=ids["image_pad"],
                               video_token_id=ids["video_pad"], vision_start_token_id=ids["vision_start"],
                               vision_end_token_id=ids["vision_end"])

    def _frame_size(self, model) -> int:
        vision = model.config.vision_config
        return vision.patch_size * vision.spatial_merge_size

    image_processor_cls = Qwen2VLImageProcessorPil

    def tiny_image_processor_kwargs(self, model) -> dict:
        vision = model.config.vision_config
        return {"min_pixels": 32 * 32, "max_pixels": 64 * 64, "patch_size": vision.patch_size,
                "merge_size": vision.spatial_merge_size, "temporal_patch_size": vision.temporal_patch_size}

    def image_processor_overrides(self, cfg: ModelCfg) -> dict:
        return {"max_pixels": cfg.max_pixels} if cfg.max_pixels else {}

    def _count_media_tokens(self, loaded: LoadedModel) -> dict[str, int]:
        return {}                       # varies with each image's size

    def encode_media(self, loaded: LoadedModel, kind: str, path: str | Path) -> MediaItem:
        proc = loaded.image_processor
        merged = proc.merge_size ** 2
        if kind == "image":
            out = proc(images=[loaded.media.open_image(path)], return_tensors="pt")
            grid = out["image_grid_thw"]
            return MediaItem({"pixel_values": out["pixel_values"], "image_grid_thw": grid},
                             int(grid.prod()) // merged)
        patches, grid = self._video_patches(loaded, loaded.media.frames(path))
        return MediaItem({"pixel_values_videos": patches, "video_grid_thw": grid}, int(grid.prod()) // merged)

    def _frame_layout(self, loaded: LoadedModel, frames: list) -> tuple[list, dict]:
        """Frames and image-processor arguments for one video: Qwen2-VL's video processor bounds each
        frame pair at ``VIDEO_MAX_TOKENS`` merged tokens."""
        proc = loaded.image_processor
        factor = proc.patch_size * proc.merge_size
        return frames, {"size": {"shortest_edge": proc.size["shortest_edge"],
                                 "longest_edge": min(proc.size["longest_edge"], VIDEO_MAX_TOKENS * factor * factor)}}

    def _video_patches(self, loaded: LoadedModel, frames: list) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames → ``(t·h·w, C·T·P·P)`` patches with consecutive frames as one temporal patch (as
        Qwen2-VL's video processor lays them out), and ``[[t, h, w]]``."""
        proc = loaded.image_processor
        T, P = proc.temporal_patch_size, proc.patch_size
        frames, kwargs = self._frame_layout(loaded, frames)
        frames = frames + frames[-1:] * (-len(frames) % T)
        out = proc(images=frames, temporal_patch_size=1, return_tensors="pt", **kwargs)
        _, gh, gw = out["image_grid_thw"][0].tolist()
        t = len(frames) // T
        x = out["pixel_values"].reshape(t, T, gh * gw, 3, P, P).permute(0, 2, 3, 1, 4, 5)
        return x.reshape(t * gh * gw, 3 * T * P * P), torch.tensor([[t, gh, gw]])


@register_model("qwen2_5_vl")
class Qwen25VLAdapter(Qwen2VLAdapter):
    """Qwen2.5-VL: the same inputs; a windowed-attention ViT with an output width of its own."""
    model_cls = Qwen2_5_VLForConditionalGeneration
    config_cls = Qwen2_5_VLConfig

    def tiny_vision(self, hidden_size: int) -> dict:
        return {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                "window_size": 32, "fullatt_block_indexes": [1]}
