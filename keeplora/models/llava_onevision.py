"""LLaVA-OneVision (``llava-hf/llava-onevision-qwen2-7b-ov-hf``): SigLIP-so400m anyres + Qwen2.

Images use ``anyres_max_9`` tiling (the grid is pooled down past about 9 tiles); video frames are
resized to the tower's square input, pooled 2×2, and followed by one newline token per video. Each
image of a multi-image sample is tiled on its own (the checkpoint's multi-image mode is not used).
"""
from __future__ import annotations

from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration
from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
    LlavaOnevisionImageProcessorPil,
)

from . import register_model
from .anyres import AnyresAdapter
from .llava_next import TINY_PINPOINTS


@register_model("llava_onevision")
class LlavaOnevisionAdapter(AnyresAdapter):
    model_cls = LlavaOnevisionForConditionalGeneration
    image_processor_cls = LlavaOnevisionImageProcessorPil
    projector_prefixes = ("multi_modal_projector", "image_newline")
    modalities = ("image", "video")
    video_aspect = "resize"

    def tiny_config(self, tokenizer, **overrides):
        vision, lm = self.tiny_towers(tokenizer, **{"max_positions": 2048, "vision": "siglip", **overrides})
        return LlavaOnevisionConfig(vision_config=vision, text_config=lm, image_grid_pinpoints=TINY_PINPOINTS,
                                    image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                                    video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
                                    vision_feature_select_strategy="full", vision_feature_layer=-1,
                                    vision_aspect_ratio="anyres_max_9")

    def tiny_processor_kwargs(self, config) -> dict:
        size = config.vision_config.image_size
        return {"size": {"height": size, "width": size}}

    def max_tiles(self, config) -> int | None:
        return int(config.vision_aspect_ratio.removeprefix("anyres_max_"))
