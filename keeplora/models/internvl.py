"""InternVL3 (``OpenGVLab/InternVL3-8B-hf``): InternViT-300M + pixel-shuffle MLP projector + Qwen2.5.

An image is cut into 448² tiles as its processor cuts them (``crop_to_patches``: the closest aspect
grid of 1–12 tiles, plus a thumbnail when there is more than one), each tile 256 tokens, the whole
written ``<img><IMG_CONTEXT>…</img>``. A video is its frames as single tiles, each written
``FrameN: <img>…</img>`` on its own line, and all of it goes to the model as ``pixel_values``, as
``InternVLProcessor`` sends it.
"""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLVisionConfig
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

from ..data.chat import INTERNVL_TINY_TEMPLATE
from . import register_model
from .base import LlavaFamilyAdapter, LoadedModel, MediaItem

CONTEXT = "<IMG_CONTEXT>"


@register_model("internvl")
class InternVLAdapter(LlavaFamilyAdapter):
    model_cls = InternVLForConditionalGeneration
    modalities = ("image", "video")
    media_token = {"image": CONTEXT, "video": "<video>"}
    media_fill_token = {"video": CONTEXT}
    media_text = {"image": CONTEXT, "video": "<video>"}
    default_prompt = "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    tiny_chat_template = INTERNVL_TINY_TEMPLATE
    tiny_specials = ("<img>", "</img>", CONTEXT)

    def tiny_config(self, tokenizer, **overrides):
        _, lm = self.tiny_towers(tokenizer, **{"max_positions": 2048, **overrides})
        vision = InternVLVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                      image_size=[32, 32], patch_size=[8, 8])
        return InternVLConfig(vision_config=vision, text_config=lm, downsample_ratio=0.5, image_seq_length=4,
                              image_token_id=tokenizer.convert_tokens_to_ids(CONTEXT))

    image_processor_cls = GotOcr2ImageProcessorPil

    def tiny_image_processor_kwargs(self, model) -> dict:
        size = self._frame_size(model)
        return {"size": {"height": size, "width": size}, "crop_to_patches": True, "max_patches": 4}

    @torch.no_grad()
    def _count_media_tokens(self, loaded: LoadedModel) -> dict[str, int]:
        """Tokens per tile, read off the model with one dummy tile."""
        model, size = loaded.model, self._frame_size(loaded.model)
        tile = torch.zeros(1, 3, size, size, dtype=next(model.parameters()).dtype)
        cfg = model.config
        out = model.model.get_image_features(pixel_values=tile, vision_feature_layer=cfg.vision_feature_layer,
                                             vision_feature_select_strategy=cfg.vision_feature_select_strategy)
        return {"tile": int(out.pooler_output.shape[1])}

    def encode_media(self, loaded: LoadedModel, kind: str, path: str | Path) -> MediaItem:
        proc, per_tile = loaded.image_processor, loaded.media_tokens["tile"]
        tile_text = f"<img>{CONTEXT * per_tile}</img>"
        if kind == "image":
            out = proc(images=[loaded.media.open_image(path)], return_tensors="pt")
            tiles = int(out["num_patches"][0])
            text = f"<img>{CONTEXT * per_tile * tiles}</img>"
        else:
            out = proc(images=loaded.media.frames(path), crop_to_patches=False, return_tensors="pt")
            tiles = out["pixel_values"].shape[0]
            text = "\n".join(f"Frame{i + 1}: {tile_text}" for i in range(tiles))
        return MediaItem({"pixel_values": out["pixel_values"]}, tiles * per_tile, text=text)
