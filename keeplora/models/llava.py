"""LLaVA-1.5 (``llava-hf/llava-1.5-7b-hf``): CLIP-L/336 + MLP projector + Vicuna/Llama decoder."""
from __future__ import annotations

from transformers import LlavaConfig, LlavaForConditionalGeneration

from . import register_model
from .base import LlavaFamilyAdapter


@register_model("llava")
class LlavaAdapter(LlavaFamilyAdapter):
    model_cls = LlavaForConditionalGeneration
    default_prompt = "USER: {question} ASSISTANT:"
    modalities = ("image",)

    def tiny_config(self, tokenizer, **overrides):
        vision, lm = self.tiny_towers(tokenizer, **overrides)
        return LlavaConfig(vision_config=vision, text_config=lm,
                           image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                           vision_feature_select_strategy="default", vision_feature_layer=-2,
                           image_seq_length=(vision.image_size // vision.patch_size) ** 2)
