"""LLaVA-1.5 (``llava-hf/llava-1.5-7b-hf``): CLIP-L/336 + MLP projector + Vicuna/Llama decoder."""
from __future__ import annotations

from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

from . import register_model
from .base import LlavaFamilyAdapter, LoadedModel


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

    def tiny_processor(self, loaded: LoadedModel) -> LlavaProcessor:
        """llava-hf's processor with the tiny twin's preprocessing: pad to a square with the mean colour
        (``model.image_aspect: pad``, LLaVA's own) or squash, then resize, with the run's mean/std."""
        media, config = loaded.media, loaded.model.config
        side = media.image_size
        image = LlavaImageProcessorPil(do_pad=media.aspect == "pad", size={"height": side, "width": side},
                                       do_center_crop=False, image_mean=media.mean, image_std=media.std)
        return LlavaProcessor(image_processor=image, tokenizer=loaded.tokenizer,
                              patch_size=config.vision_config.patch_size,
                              vision_feature_select_strategy=config.vision_feature_select_strategy,
                              num_additional_image_tokens=1, chat_template=loaded.tokenizer.chat_template)
