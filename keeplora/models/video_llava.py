"""Video-LLaVA (``LanguageBind/Video-LLaVA-7B-hf``): LanguageBind image and video towers + Vicuna.

Video-LLaVA trains on 8 uniformly sampled frames; every frame keeps its CLS token, so a video
contributes ``8 × (patches + 1)`` placeholder tokens.
"""
from __future__ import annotations

from transformers import CLIPVisionConfig, LlamaConfig, VideoLlavaConfig, VideoLlavaForConditionalGeneration

from . import register_model
from .base import LlavaFamilyAdapter


@register_model("video_llava")
class VideoLlavaAdapter(LlavaFamilyAdapter):
    model_cls = VideoLlavaForConditionalGeneration
    default_prompt = "USER: {question} ASSISTANT:"
    modalities = ("image", "video")

    def tiny_config(self, tokenizer, *, hidden_size=64, num_layers=4, image_size=32, patch_size=8, **text):
        vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  image_size=image_size, patch_size=patch_size, projection_dim=32)
        lm = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, initializer_range=0.2, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, **text)
        patches = (image_size // patch_size) ** 2
        return VideoLlavaConfig(vision_config=vision, text_config=lm,
                                image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                                video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
                                vision_feature_select_strategy="default", vision_feature_layer=-2,
                                image_seq_length=patches, video_seq_length=8 * (patches + 1))
