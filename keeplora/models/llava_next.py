"""LLaVA-NeXT / LLaVA-1.6 (``llava-hf/llava-v1.6-vicuna-7b-hf``): CLIP-L/336 anyres tiles + Vicuna/Mistral."""
from __future__ import annotations

from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextProcessor
from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil

from . import register_model
from .anyres import AnyresAdapter
from .base import LoadedModel

TINY_PINPOINTS = [[32, 32], [32, 64], [64, 32], [64, 64]]


@register_model("llava_next")
class LlavaNextAdapter(AnyresAdapter):
    model_cls = LlavaNextForConditionalGeneration
    image_processor_cls = LlavaNextImageProcessorPil
    # image_newline is trained with the projector in LLaVA-NeXT's fine-tuning stage.
    projector_prefixes = ("multi_modal_projector", "image_newline")
    modalities = ("image",)

    def tiny_config(self, tokenizer, **overrides):
        vision, lm = self.tiny_towers(tokenizer, **{"max_positions": 2048, **overrides})
        return LlavaNextConfig(vision_config=vision, text_config=lm, image_grid_pinpoints=TINY_PINPOINTS,
                               image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                               vision_feature_select_strategy="default", vision_feature_layer=-2)

    def tiny_processor_kwargs(self, config) -> dict:
        size = config.vision_config.image_size
        return {"size": {"shortest_edge": size}, "crop_size": {"height": size, "width": size}}

    def base_tokens(self, config) -> int:
        # CLIP's CLS token is dropped by the "default" feature strategy and kept by "full".
        return super().base_tokens(config) + (config.vision_feature_select_strategy == "full")

    def tiny_processor(self, loaded: LoadedModel) -> LlavaNextProcessor:
        config = loaded.model.config
        return LlavaNextProcessor(image_processor=loaded.image_processor, tokenizer=loaded.tokenizer,
                                  patch_size=config.vision_config.patch_size,
                                  vision_feature_select_strategy=config.vision_feature_select_strategy,
                                  num_additional_image_tokens=1, chat_template=loaded.tokenizer.chat_template)
