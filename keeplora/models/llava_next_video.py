"""LLaVA-NeXT-Video (``llava-hf/LLaVA-NeXT-Video-7B-hf``): LLaVA-NeXT images plus pooled video frames.

Frames are resized on the shortest edge and centre-cropped, as its video processor does; each frame's
patch grid is average-pooled by ``spatial_pool_stride`` (2), so 8 frames of CLIP-L/336 take 8 × 144 tokens.
"""
from __future__ import annotations

from transformers import LlavaNextVideoConfig, LlavaNextVideoForConditionalGeneration

from . import register_model
from .llava_next import TINY_PINPOINTS, LlavaNextAdapter


@register_model("llava_next_video")
class LlavaNextVideoAdapter(LlavaNextAdapter):
    model_cls = LlavaNextVideoForConditionalGeneration
    modalities = ("image", "video")
    video_aspect = "crop"

    def tiny_config(self, tokenizer, **overrides):
        vision, lm = self.tiny_towers(tokenizer, **{"max_positions": 2048, **overrides})
        return LlavaNextVideoConfig(vision_config=vision, text_config=lm, image_grid_pinpoints=TINY_PINPOINTS,
                                    image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                                    video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
                                    vision_feature_select_strategy="default", vision_feature_layer=-2,
                                    spatial_pool_stride=2)
