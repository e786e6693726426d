"""CLIP (``openai/clip-vit-base-patch16``) as a continual classifier: the MTIL image-classification track.

LoRA on q, k, v and out_proj of every block of **both** encoders (12 + 12 for ViT-B/16), as in the MTIL
code, where q/k/v are separate LoRAs on the chunks of the fused ``in_proj``: transformers' separate
projections are the same thing. The logits are CLIP's scaled cosine similarities between the image and
the task's class prompts; both encoders run in every step, so the text LoRA trains too. Evaluation is
zero-shot classification: the arg-max class name is the prediction, scored by exact match (= accuracy).

The official-code specifics live in the recipe, not here: ε_w per tower (``subspace.tower_weight_energy``),
the output-side principal basis (``subspace.clip_basis_side``), summed-feature growth (``subspace.growth``),
the vision-only layer ramp (``layer_scale.towers``) and OneCycle (``optim.schedule``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig
from transformers.modeling_outputs import ImageClassifierOutput

from ..config import ModelCfg, RecipeError
from ..data.media import MediaProcessor
from . import register_model
from .base import DTYPES, LoadedModel, MediaItem, ModelAdapter, _processor_stats
from .tokenizer import load_tiny_tokenizer

__all__ = ["ClipTaskClassifier", "ClipAdapter"]

EOT = "<|endoftext|>"


class ClipTaskClassifier(CLIPModel):
    """``CLIPModel`` whose forward is classification over the class prompts carried by the batch.

    A subclass, not a wrapper: ``from_pretrained`` reads any CLIP checkpoint and ``save_pretrained``
    writes one back (the merged model after each task is a plain CLIP checkpoint).
    """

    def __init__(self, config):
        super().__init__(config)
        scale = self.logit_scale.detach().clone()
        del self.logit_scale                  # frozen here, and DeepSpeed cannot broadcast a 0-dim parameter
        self.register_buffer("logit_scale", scale)

    def forward(self, pixel_values, class_input_ids, class_attention_mask, labels=None, class_mask=None, **_):
        image = self.visual_projection(self.vision_model(pixel_values=pixel_values).pooler_output)
        text = self.text_projection(self.text_model(input_ids=class_input_ids,
                                                    attention_mask=class_attention_mask).pooler_output)
        image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
        logits = self.logit_scale.exp() * image @ text.T                    # (images, classes)
        if class_mask is not None:                                          # a sample scores its own task only
            logits = logits.masked_fill(~class_mask, torch.finfo(logits.dtype).min)
        loss = None if labels is None else F.cross_entropy(logits.float(), labels)
        return ImageClassifierOutput(loss=loss, logits=logits)

    def enable_input_require_grads(self):
        """Both towers' embeddings (transformers hooks only the token embedding, so the streamed gradient
        sketch would see no vision-layer gradients)."""
        def hook(_module, _inputs, output):
            output.requires_grad_(True)
        embeddings = (self.text_model.embeddings.token_embedding, self.vision_model.embeddings.patch_embedding)
        self._input_grad_hooks = [m.register_forward_hook(hook) for m in embeddings]

    def disable_input_require_grads(self):
        for handle in getattr(self, "_input_grad_hooks", []):
            handle.remove()
        self._input_grad_hooks = []


@register_model("clip")
class ClipAdapter(ModelAdapter):
    lora_pattern = r"(text_model|vision_model)\.encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj$"
    layer_group = 2
    projector_prefixes = ()                  # nothing trains outside the subspace constraint
    model_cls = ClipTaskClassifier
    output = "classify"
    modalities = ("image",)

    def towers(self, layer_index: dict[str, int]) -> dict[str, str]:
        return {name: "vision" if "vision_model." in name else "text" for name in layer_index}

    def principal_side(self, subspace) -> str:
        return "output" if subspace.clip_basis_side == "official" else "input"

    def check_recipe(self, recipe) -> None:
        self._class_sets(recipe)

    def make_encoder(self, loaded: LoadedModel, recipe):
        from ..data.classify import ClassEncoder
        return ClassEncoder(self, loaded, self._class_sets(recipe), recipe.eval.label_set)

    @staticmethod
    def _class_sets(recipe) -> dict:
        """Every task's and general-suite entry's class list; a missing one is a one-line error."""
        from ..data import read_class_set
        sets = {}
        for where, task in [*((f"tasks[{i}]", t) for i, t in enumerate(recipe.tasks)),
                            *((f"general[{i}]", g) for i, g in enumerate(recipe.general))]:
            if not task.classes:
                raise RecipeError(f"{where}.classes ({task.name}): model family clip classifies among a class list; "
                                f"give a JSON file with 'classnames' and 'templates'")
            sets[task.name] = read_class_set(task.classes)
        return sets

    def tiny_config(self, tokenizer, **overrides) -> CLIPConfig:
        """4 + 4 layers, width 32, 32-px images in 8-px patches; ``overrides`` go to both towers."""
        size = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2)
        size.update(overrides)
        text = CLIPTextConfig(vocab_size=len(tokenizer), max_position_embeddings=64,
                              pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                              eos_token_id=tokenizer.eos_token_id, **size)
        vision = CLIPVisionConfig(image_size=32, patch_size=8, **size)
        return CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(),
                          projection_dim=size["hidden_size"])

    def load(self, cfg: ModelCfg, seed: int = 0) -> LoadedModel:
        dtype = DTYPES[cfg.dtype]
        if cfg.name_or_path is None:
            tokenizer = load_tiny_tokenizer(cfg.tokenizer)
            tokenizer.add_special_tokens({"eos_token": EOT})     # id ≠ 2: CLIP pools at the EOS id, not argmax
            torch.manual_seed(seed)
            config = self.tiny_config(tokenizer, **cfg.tiny)
            config._attn_implementation = cfg.attn_implementation
            model, stats = ClipTaskClassifier(config).to(dtype), (None, None)
        else:
            model, tokenizer = self._from_pretrained(cfg, dtype)
            stats = _processor_stats(cfg.name_or_path)
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.requires_grad_(False)
        # CLIP's transform: shortest side, centre crop, resize (what ``clip._transform(224)`` does).
        media = MediaProcessor(image_size=model.config.vision_config.image_size, mean=stats[0], std=stats[1],
                               aspect="crop")
        return LoadedModel(model, tokenizer, media, {"image": 1})

    def encode_media(self, loaded: LoadedModel, kind: str, path) -> MediaItem:
        return MediaItem({"pixel_values": loaded.media.image(path)[None]}, 1)
