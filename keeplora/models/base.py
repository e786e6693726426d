"""What the trainer needs to know about a VLM, and the fixed-resolution LLaVA-family implementation of it.

An adapter answers: which linears get LoRA and at which depth, which modules train unconstrained
(the projector), how one image or video becomes model inputs and how many placeholder tokens it
takes, how a conversation is formatted (the checkpoint's chat template), and how to build a tiny
random twin for tests and CPU recipes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import ModelCfg
from ..data.chat import LLAVA_TINY_TEMPLATE, checkpoint_file, format_chat_template, load_chat_template
from ..data.media import MediaProcessor
from ..errors import UserError
from .tokenizer import load_tiny_tokenizer

__all__ = ["ModelAdapter", "LoadedModel", "LlavaFamilyAdapter", "MediaItem", "Companions", "DTYPES",
           "image_processor_settings", "PROCESSOR_FILES"]

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# What AutoProcessor reads beside the tokenizer (transformers 5 writes the image processor into
# processor_config.json; older checkpoints have preprocessor_config.json).
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json")


@dataclass
class MediaItem:
    """One image or video as model inputs: tensors with a leading item dimension, and its token count.

    ``text``, where set, is how the item is written out in the prompt when that is more than its fill
    token repeated ``num_tokens`` times: InternVL's ``<img>…</img>`` per tile, Gemma 3's
    ``\\n\\n<start_of_image>…<end_of_image>\\n\\n``, Qwen3-VL's timestamp before every frame pair.
    """
    tensors: dict[str, torch.Tensor]
    num_tokens: int
    text: str | None = None


@dataclass
class LoadedModel:
    """A model with what turns samples into its inputs."""
    model: nn.Module
    tokenizer: Any
    media: MediaProcessor
    media_tokens: dict[str, int]      # fixed tokens per item ("image"/"video"); empty where it varies
    chat_template: str | None = None  # Jinja chat template; None: the adapter's prompt format string
    image_processor: Any = None       # transformers' PIL image processor, for families that tile images
    video_size: dict | None = None    # a video's pixel budget over all its frames (Qwen3-VL's video processor)


class ModelAdapter:
    """Base class; a family registers one subclass with ``@register_model("name")``."""
    family: ClassVar[str] = ""
    # Decoder linears that get LoRA (all 7 LLM linears in the official LLaVA recipes); group 1 = layer index.
    lora_pattern: ClassVar[str] = r"language_model\.layers\.(\d+)\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj$"
    layer_group: ClassVar[int] = 1            # which group of ``lora_pattern`` is the layer index
    # Trained without the subspace constraint, as LLaVA trains its mm_projector.
    projector_prefixes: ClassVar[tuple[str, ...]] = ("multi_modal_projector",)
    # Used only when the checkpoint has no chat template and the recipe gives no prompt_template.
    default_prompt: ClassVar[str] = "USER: {question} ASSISTANT:"
    modalities: ClassVar[tuple[str, ...]] = ("image",)
    # Token string that stands for one item in the rendered text (expanded to ``num_tokens`` ids).
    media_token: ClassVar[dict[str, str]] = {"image": "<image>", "video": "<video>"}
    # Token whose positions receive the item's features, where it is not ``media_token`` (Gemma 3's
    # ``<start_of_image>`` opens a run of ``<image_soft_token>``s).
    media_fill_token: ClassVar[dict[str, str]] = {}
    # What a ``<image>``/``<video>`` placeholder becomes in a format-string prompt (Qwen wraps it).
    media_text: ClassVar[dict[str, str]] = {"image": "<image>", "video": "<video>"}
    # Chat template given to the tiny twin's tokenizer (real checkpoints bring their own).
    tiny_chat_template: ClassVar[str] = LLAVA_TINY_TEMPLATE
    # Input name of the per-token modality ids (0 text, 1 image, 2 video), for families that read them:
    # Qwen's 3-D rotary positions (``mm_token_type_ids``), Gemma 3's bidirectional image attention
    # (``token_type_ids``). None: not passed.
    token_types_key: ClassVar[str | None] = None
    # Tokens the tiny twin's tokenizer needs beyond the shared tiny specials (real checkpoints have them).
    tiny_specials: ClassVar[tuple[str, ...]] = ()
    # The transformers class that ``from_pretrained`` loads.
    model_cls: ClassVar[Any] = None
    # "generate": answers are generated text (the LLaVA family); "classify": arg-max over class prompts (CLIP).
    output: ClassVar[str] = "generate"

    def load(self, cfg: ModelCfg, seed: int = 0) -> LoadedModel:
        raise NotImplementedError

    def _from_pretrained(self, cfg: ModelCfg, dtype):
        from transformers import AutoTokenizer
        src = cfg.name_or_path
        try:
            model = self.model_cls.from_pretrained(src, dtype=dtype, attn_implementation=cfg.attn_implementation)
            tokenizer = AutoTokenizer.from_pretrained(src)
        except OSError as exc:
            raise UserError(f"model.name_or_path {src!r}: cannot load ({str(exc).splitlines()[0]}); give a local "
                            f"directory, or a hub id on a machine that reaches the hub") from None
        return model, tokenizer

    def encode_media(self, loaded: LoadedModel, kind: str, path: str | Path) -> MediaItem:
        raise NotImplementedError

    def lora_targets(self, model: nn.Module) -> dict[str, int]:
        """Full module names (within ``model``) that get LoRA, mapped to their decoder layer index."""
        out = {}
        for name, module in model.named_modules():
            m = re.search(self.lora_pattern, name)
            if m and isinstance(module, nn.Linear):
                out[name] = int(m.group(self.layer_group))
        if not out:
            raise ValueError(f"{self.family}: no module matches the LoRA pattern {self.lora_pattern!r}")
        return out

    def projector_parameters(self, model: nn.Module) -> list[tuple[str, nn.Parameter]]:
        """Parameters trained without the subspace constraint (LLaVA's mm_projector)."""
        return [(n, p) for n, p in model.named_parameters() if any(pre in n for pre in self.projector_prefixes)]

    def towers(self, layer_index: dict[str, int]) -> dict[str, str]:
        """Each adapted module's tower (``vision`` / ``text`` encoder or LLM ``decoder``): layer scaling ramps
        and ε_w are per tower. The LLaVA family adapts only its decoder."""
        return {name: "decoder" for name in layer_index}

    def principal_side(self, subspace) -> str:
        """Side of the weight SVD kept as the principal basis (``principal_basis``); the paper's is the input."""
        return "input"

    def check_recipe(self, recipe) -> None:
        """Family-specific recipe checks, run by ``check_files`` before anything loads (one-line errors)."""

    def with_num_frames(self, loaded: LoadedModel, num_frames: int) -> LoadedModel:
        """The same model read with another frame count per video (``subspace.grad_num_frames``); the
        placeholder count per video is read off the model again."""
        if "video" not in self.modalities or num_frames == loaded.media.num_frames:
            return loaded
        out = replace(loaded, media=replace(loaded.media, num_frames=num_frames))
        out.media_tokens = self._count_media_tokens(out)
        return out

    def make_encoder(self, loaded: LoadedModel, recipe):
        """What turns the recipe's samples into this family's batches and predictions."""
        from .encoder import Encoder
        return Encoder(self, loaded, recipe.model, recipe.data.max_length)

    def tiny_processor(self, loaded: LoadedModel):
        """The tiny twin's transformers processor (what AutoProcessor rebuilds from the saved folder), or
        None where it cannot be built here: processors with a video processor need torchvision."""
        return None

    def save_processor(self, loaded: LoadedModel, cfg: ModelCfg, folder: Path) -> None:
        """Write what ``AutoProcessor`` reads next to the weights, as the run used it.

        A checkpoint's own processor files are copied; the tiny twin's processor is saved where it can be
        built, else its image processor. The image processor the run used (``model.max_pixels``) then
        replaces the copied settings, in whichever file holds them."""
        import shutil
        folder = Path(folder)
        for name in PROCESSOR_FILES if cfg.name_or_path else ():
            if (src := checkpoint_file(cfg.name_or_path, name)) is not None:
                shutil.copyfile(src, folder / name)
        if cfg.name_or_path is None and (proc := self.tiny_processor(loaded)) is not None:
            proc.save_pretrained(folder)
        if loaded.image_processor is not None:
            _write_image_processor(folder, loaded.image_processor)


class LlavaFamilyAdapter(ModelAdapter):
    """transformers' LLaVA-style classes (``*ForConditionalGeneration``) at a fixed image resolution.

    Every image and every video of ``num_frames`` frames takes the same number of tokens, read off the
    model once with a dummy input. Families that tile images (LLaVA-NeXT, OneVision, Qwen2-VL) override
    ``encode_media`` and ``_image_processor``.
    """
    image_key: ClassVar[str] = "pixel_values"
    # transformers' PIL image processor, for families that tile images or size them themselves; None: the
    # fixed-resolution ``MediaProcessor``.
    image_processor_cls: ClassVar[Any] = None
    video_aspect: ClassVar[str] = "crop"      # how frames are made square (see MediaProcessor)

    def tiny_config(self, tokenizer, **overrides):
        """A small random config of the real architecture (no download)."""
        raise NotImplementedError

    @staticmethod
    def tiny_towers(tokenizer, *, hidden_size=64, num_layers=4, image_size=32, patch_size=8,
                    max_positions=1024, vision="clip", vision_hidden_size=32, vision_layers=2, **text):
        """Vision tower (CLIP or SigLIP) + Llama decoder configs shared by the LLaVA-family tiny twins.

        4 decoder layers (a visible layer-scale ramp); init std 0.2 so that the frozen random lm_head can
        express confident answers (with 0.02 its logits stay within about ±1.3). ``text`` overrides any
        other LlamaConfig field (the pretrained TinyCL-VL base uses the usual 0.02 init).
        """
        from transformers import CLIPVisionConfig, LlamaConfig, SiglipVisionConfig
        tower = {"clip": CLIPVisionConfig, "siglip": SiglipVisionConfig}[vision]
        vision_cfg = tower(hidden_size=vision_hidden_size, intermediate_size=2 * vision_hidden_size,
                           num_hidden_layers=vision_layers, num_attention_heads=2, image_size=image_size,
                           patch_size=patch_size)
        fields = dict(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                      num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=max_positions, initializer_range=0.2,
                      pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                      eos_token_id=tokenizer.eos_token_id)
        return vision_cfg, LlamaConfig(**{**fields, **text})

    def load(self, cfg: ModelCfg, seed: int = 0) -> LoadedModel:
        dtype = DTYPES[cfg.dtype]
        if cfg.name_or_path is None:
            tokenizer = load_tiny_tokenizer(cfg.tokenizer)
            if self.tiny_specials:
                tokenizer.add_tokens(list(self.tiny_specials), special_tokens=True)
            torch.manual_seed(seed)
            config = self.tiny_config(tokenizer, **cfg.tiny)
            config._attn_implementation = cfg.attn_implementation
            model = self.model_cls(config).to(dtype)
            template, stats = self.tiny_chat_template, (None, None)
        else:
            model, tokenizer = self._from_pretrained(cfg, dtype)
            template, stats = load_chat_template(cfg.name_or_path, tokenizer), _processor_stats(cfg.name_or_path)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if cfg.prompt_template:                         # the training prompt, for tools that read the template
            tokenizer.chat_template = format_chat_template(cfg.prompt_template, cfg.system_prompt, self.media_text)
        elif template is not None:
            tokenizer.chat_template = template          # saved with every checkpoint: eval prompts = training prompts
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.requires_grad_(False)
        media = MediaProcessor(image_size=self._frame_size(model), mean=stats[0], std=stats[1],
                               aspect=cfg.image_aspect, num_frames=cfg.num_frames, video_aspect=self.video_aspect)
        loaded = LoadedModel(model, tokenizer, media, {}, template, self._image_processor(cfg, model))
        loaded.media_tokens = self._count_media_tokens(loaded)
        return loaded

    def _frame_size(self, model) -> int:
        size = model.config.vision_config.image_size
        return size[0] if isinstance(size, (list, tuple)) else size

    def _image_processor(self, cfg: ModelCfg, model):
        """``image_processor_cls`` with the checkpoint's settings (``preprocessor_config.json`` or
        ``processor_config.json``), else the tiny twin's; the recipe's own bounds on top. None for fixed
        resolution."""
        if self.image_processor_cls is None:
            return None
        recipe = self.image_processor_overrides(cfg)
        if image_processor_settings(cfg.name_or_path) is not None:
            return self.image_processor_cls.from_pretrained(cfg.name_or_path, **recipe)
        return self.image_processor_cls(**{**self.tiny_image_processor_kwargs(model), **recipe})

    def tiny_image_processor_kwargs(self, model) -> dict:
        """The tiny twin's image-processor settings (a real checkpoint brings its own)."""
        return {}

    def image_processor_overrides(self, cfg: ModelCfg) -> dict:
        """Settings the recipe imposes on the checkpoint's image processor (Qwen's ``model.max_pixels``)."""
        return {}

    def encode_media(self, loaded: LoadedModel, kind: str, path: str | Path) -> MediaItem:
        if kind == "image":
            return MediaItem({self.image_key: loaded.media.image(path)[None]}, loaded.media_tokens["image"])
        return MediaItem({"pixel_values_videos": loaded.media.video(path)[None]}, loaded.media_tokens["video"])

    @torch.no_grad()
    def _count_media_tokens(self, loaded: LoadedModel) -> dict[str, int]:
        """Placeholder tokens per image/video where fixed, read off the model once with a dummy input."""
        model, media = loaded.model, loaded.media
        dtype, size, counts = next(model.parameters()).dtype, media.image_size, {}
        if "image" in self.modalities and loaded.image_processor is None:
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


@dataclass
class Companions:
    """Everything saved beside a model's weights so that the folder is complete for other tools: the
    tokenizer (whose chat template is the training prompt) and the processor. ``save_pretrained`` makes it
    a drop-in for the tokenizer where checkpoints are written."""
    adapter: ModelAdapter
    loaded: LoadedModel
    cfg: ModelCfg

    def save_pretrained(self, folder) -> None:
        self.loaded.tokenizer.save_pretrained(folder)
        self.adapter.save_processor(self.loaded, self.cfg, Path(folder))


def image_processor_settings(src: str | None) -> dict | None:
    """The checkpoint's image-processor settings: ``preprocessor_config.json``, else the ``image_processor``
    entry of ``processor_config.json`` (where transformers 5 saves them); None if it has neither."""
    import json
    if not src:
        return None
    if (f := checkpoint_file(src, "preprocessor_config.json")) is not None:
        return json.loads(f.read_text())
    if (f := checkpoint_file(src, "processor_config.json")) is not None:
        return json.loads(f.read_text()).get("image_processor")
    return None


def _write_image_processor(folder: Path, image_processor) -> None:
    """The image processor's settings into ``processor_config.json`` where that file holds them (so the
    copied ones cannot shadow them), else as ``preprocessor_config.json``."""
    import json
    combined = folder / "processor_config.json"
    data = json.loads(combined.read_text()) if combined.is_file() else {}
    if "image_processor" in data:
        data["image_processor"] = json.loads(image_processor.to_json_string())
        combined.write_text(json.dumps(data, indent=2) + "\n")
    else:
        image_processor.save_pretrained(folder)


def _processor_stats(src: str) -> tuple[list[float] | None, list[float] | None]:
    """Image mean/std from the checkpoint's image-processor settings (CLIP defaults otherwise)."""
    data = image_processor_settings(src) or {}
    return data.get("image_mean"), data.get("image_std")
