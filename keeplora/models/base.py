"""What the trainer needs to know about a VLM, and the LLaVA-family implementation of it.

An adapter answers: which linears get LoRA and at which depth, which modules train unconstrained
(the projector), how a sample becomes model inputs, and how to build a tiny random twin for tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import ModelCfg
from ..errors import UserError
from .media import MediaProcessor
from .tokenizer import tiny_tokenizer

__all__ = ["ModelAdapter", "LoadedModel", "LlavaFamilyAdapter"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedModel:
    """A model with what turns samples into its inputs."""
    model: nn.Module
    tokenizer: Any
    media: MediaProcessor
    media_tokens: dict[str, int]      # placeholder name ("image"/"video") -> tokens per item


class ModelAdapter:
    """Base class; a family registers one subclass with ``@register_model("name")``."""
    family: ClassVar[str] = ""
    # Decoder linears that get LoRA (all 7 LLM linears in the official LLaVA recipes).
    lora_pattern: ClassVar[str] = r"language_model\.layers\.(\d+)\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj$"
    projector_prefix: ClassVar[str] = "multi_modal_projector"
    default_prompt: ClassVar[str] = "USER: {question} ASSISTANT:"
    modalities: ClassVar[tuple[str, ...]] = ("image",)

    def load(self, cfg: ModelCfg, seed: int = 0) -> LoadedModel:
        raise NotImplementedError

    def lora_targets(self, model: nn.Module) -> dict[str, int]:
        """Full module names (within ``model``) that get LoRA, mapped to their decoder layer index."""
        out = {}
        for name, module in model.named_modules():
            m = re.search(self.lora_pattern, name)
            if m and isinstance(module, nn.Linear):
                out[name] = int(m.group(1))
        if not out:
            raise ValueError(f"{self.family}: no module matches the LoRA pattern {self.lora_pattern!r}")
        return out

    def projector_parameters(self, model: nn.Module) -> list[tuple[str, nn.Parameter]]:
        """Parameters trained without the subspace constraint (LLaVA's mm_projector)."""
        return [(n, p) for n, p in model.named_parameters() if self.projector_prefix in n]

    def prompt(self, cfg: ModelCfg, question: str) -> str:
        return (cfg.prompt_template or self.default_prompt).format(question=question)


class LlavaFamilyAdapter(ModelAdapter):
    """Shared loading for transformers' LLaVA-style classes (``*ForConditionalGeneration``)."""
    model_cls: ClassVar[Any] = None

    def tiny_config(self, tokenizer, **overrides):
        """A small random config of the real architecture (no download)."""
        raise NotImplementedError

    @staticmethod
    def tiny_towers(tokenizer, *, hidden_size=64, num_layers=4, image_size=32, patch_size=8,
                    max_positions=1024, **text):
        """CLIP vision tower + Llama decoder configs shared by the LLaVA-family tiny twins.

        4 decoder layers (a visible layer-scale ramp); init std 0.2 so that the frozen random lm_head can
        express confident answers (with 0.02 its logits stay within about ±1.3).
        """
        from transformers import CLIPVisionConfig, LlamaConfig
        vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  image_size=image_size, patch_size=patch_size, projection_dim=32)
        lm = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=max_positions, initializer_range=0.2,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, **text)
        return vision, lm

    def load(self, cfg: ModelCfg, seed: int = 0) -> LoadedModel:
        dtype = _DTYPES[cfg.dtype]
        if cfg.name_or_path is None:
            tokenizer = tiny_tokenizer()
            torch.manual_seed(seed)
            config = self.tiny_config(tokenizer, **cfg.tiny)
            config._attn_implementation = cfg.attn_implementation
            model = self.model_cls(config).to(dtype)
            image_size, mean, std = config.vision_config.image_size, None, None
        else:
            model, tokenizer, (image_size, mean, std) = self._from_pretrained(cfg, dtype)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.requires_grad_(False)
        media = MediaProcessor(image_size=image_size, mean=mean, std=std, aspect=cfg.image_aspect,
                               num_frames=cfg.num_frames)
        return LoadedModel(model, tokenizer, media, self._count_media_tokens(model, media))

    def _from_pretrained(self, cfg: ModelCfg, dtype):
        from transformers import AutoTokenizer
        src = cfg.name_or_path
        try:
            model = self.model_cls.from_pretrained(src, dtype=dtype, attn_implementation=cfg.attn_implementation)
            tokenizer = AutoTokenizer.from_pretrained(src)
        except OSError as exc:
            raise UserError(f"model.name_or_path {src!r}: cannot load ({str(exc).splitlines()[0]}); give a local "
                          f"directory, or a hub id on a machine that reaches the hub") from None
        vision = model.config.vision_config
        mean, std = _processor_stats(src)
        return model, tokenizer, (vision.image_size, mean, std)

    @torch.no_grad()
    def _count_media_tokens(self, model, media: MediaProcessor) -> dict[str, int]:
        """Placeholder tokens per image/video, read off the model once with a dummy input."""
        counts = {}
        dtype = next(model.parameters()).dtype
        size = media.image_size
        if "image" in self.modalities:
            out = model.model.get_image_features(pixel_values=torch.zeros(1, 3, size, size, dtype=dtype))
            counts["image"] = _rows(out)
        if "video" in self.modalities:
            frames = torch.zeros(1, media.num_frames, 3, size, size, dtype=dtype)
            counts["video"] = _rows(model.model.get_video_features(pixel_values_videos=frames))
        return counts


def _rows(features) -> int:
    """Feature rows (= placeholder tokens) of a ``get_*_features`` output for one item."""
    feats = getattr(features, "pooler_output", features)
    if isinstance(feats, (list, tuple)):
        feats = torch.cat([f.reshape(-1, f.shape[-1]) for f in feats])
    return int(feats.reshape(-1, feats.shape[-1]).shape[0])


def _processor_stats(src: str) -> tuple[list[float] | None, list[float] | None]:
    """Image mean/std from a local checkpoint's preprocessor_config.json (CLIP defaults otherwise)."""
    import json
    f = Path(src) / "preprocessor_config.json"
    if not f.is_file():
        return None, None
    data = json.loads(f.read_text())
    return data.get("image_mean"), data.get("image_std")
