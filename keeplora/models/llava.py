"""LLaVA-1.5 (``llava-hf/llava-1.5-7b-hf``): CLIP-L/336 + MLP projector + Vicuna/Llama decoder."""
from __future__ import annotations

from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

from . import register_model
from .base import LlavaFamilyAdapter


@register_model("llava")
class LlavaAdapter(LlavaFamilyAdapter):
    model_cls = LlavaForConditionalGeneration
    default_prompt = "USER: {question} ASSISTANT:"
    modalities = ("image",)

    def tiny_config(self, tokenizer, *, hidden_size=64, num_layers=4, image_size=32, patch_size=8, **text):
        """4 decoder layers (a visible layer-scale ramp), 16 image tokens; init std 0.2 so that the frozen
        random lm_head can express confident answers (with 0.02 its logits stay within about ±1.3)."""
        vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  image_size=image_size, patch_size=patch_size, projection_dim=32)
        lm = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, initializer_range=0.2, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, **text)
        return LlavaConfig(vision_config=vision, text_config=lm,
                           image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                           vision_feature_select_strategy="default", vision_feature_layer=-2,
                           image_seq_length=(image_size // patch_size) ** 2)
