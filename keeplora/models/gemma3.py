"""Gemma 3 (``google/gemma-3-4b-it``, ``-12b-it``): SigLIP-so400m at 896² + pooled projector + Gemma 3.

Every image is 256 tokens, written ``\\n\\n<start_of_image><image_soft_token>…<end_of_image>\\n\\n``
as ``Gemma3Processor`` writes it (pan-and-scan crops are off, the checkpoints' default). The image
tokens attend to each other both ways: transformers builds that mask from ``token_type_ids`` (1 on
image tokens), which the encoder writes for training and generation alike.
"""
from __future__ import annotations

from pathlib import Path

from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig
from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

from ..data.chat import GEMMA_TINY_TEMPLATE
from . import register_model
from .base import LlavaFamilyAdapter, LoadedModel, MediaItem

BOI, EOI, SOFT = "<start_of_image>", "<end_of_image>", "<image_soft_token>"


@register_model("gemma3")
class Gemma3Adapter(LlavaFamilyAdapter):
    model_cls = Gemma3ForConditionalGeneration
    modalities = ("image",)
    media_token = {"image": BOI}
    media_fill_token = {"image": SOFT}
    media_text = {"image": BOI}
    default_prompt = "<start_of_turn>user\n{question}<end_of_turn>\n<start_of_turn>model\n"
    tiny_chat_template = GEMMA_TINY_TEMPLATE
    tiny_specials = (BOI, EOI, SOFT, "<start_of_turn>", "<end_of_turn>")
    token_types_key = "token_type_ids"

    def tiny_config(self, tokenizer, hidden_size=64, num_layers=4, **text):
        vision, _ = self.tiny_towers(tokenizer, vision="siglip")
        lm = Gemma3TextConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                              num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                              sliding_window=64, max_position_embeddings=2048, initializer_range=0.2,
                              pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                              eos_token_id=tokenizer.eos_token_id, **text)
        ids = {t: tokenizer.convert_tokens_to_ids(t) for t in (BOI, EOI, SOFT)}
        return Gemma3Config(vision_config=vision, text_config=lm, mm_tokens_per_image=4, boi_token_index=ids[BOI],
                            eoi_token_index=ids[EOI], image_token_index=ids[SOFT])

    image_processor_cls = Gemma3ImageProcessorPil

    def tiny_image_processor_kwargs(self, model) -> dict:
        size = self._frame_size(model)
        return {"size": {"height": size, "width": size}}

    def _count_media_tokens(self, loaded: LoadedModel) -> dict[str, int]:
        return {"image": int(loaded.model.config.mm_tokens_per_image)}

    def encode_media(self, loaded: LoadedModel, kind: str, path: str | Path) -> MediaItem:
        out = loaded.image_processor(images=[loaded.media.open_image(path)], do_pan_and_scan=False,
                                     return_tensors="pt")
        n = loaded.media_tokens["image"]
        return MediaItem({"pixel_values": out["pixel_values"]}, n, text=f"\n\n{BOI}{SOFT * n}{EOI}\n\n")
