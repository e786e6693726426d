"""Video-LLaVA (``LanguageBind/Video-LLaVA-7B-hf``): LanguageBind image and video towers + Vicuna.

Video-LLaVA trains on 8 uniformly sampled frames; every frame keeps its CLS token, so a video
contributes ``8 × (patches + 1)`` placeholder tokens.
"""
from __future__ import annotations

from transformers import VideoLlavaConfig, VideoLlavaForConditionalGeneration

from . import register_model
from .base import LlavaFamilyAdapter


@register_model("video_llava")
class VideoLlavaAdapter(LlavaFamilyAdapter):
    model_cls = VideoLlavaForConditionalGeneration
    default_prompt = "USER: {question} ASSISTANT:"
    modalities = ("image", "video")

    def tiny_config(self, tokenizer, **overrides):
        vision, lm = self.tiny_towers(tokenizer, **{"max_positions": 2048, **overrides})
        patches = (vision.image_size // vision.patch_size) ** 2
        return VideoLlavaConfig(vision_config=vision, text_config=lm,
                                image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                                video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
                                vision_feature_select_strategy="default", vision_feature_layer=-2,
                                image_seq_length=patches, video_seq_length=8 * (patches + 1))
