"""Qwen3-VL (``Qwen/Qwen3-VL-8B-Instruct``): Qwen2-VL's native-resolution inputs at patch 16, DeepStack.

Images are Qwen2-VL's (``smart_resize`` to multiples of 32, 2×2 merge). A video is resized once for
all its frames (the video processor's budget is over frames × pixels, at most 768 merged tokens per
frame pair as the reference qwen-vl-utils caps it) and each frame pair is written
into the prompt behind its own timestamp — ``<1.5 seconds><|vision_start|><|video_pad|>…<|vision_end|>``
— which is also what separates the pairs in the 3-D rotary positions (``get_rope_index`` gives each
pair its own grid). The DeepStack mergers feed visual features into the first decoder layers; they
train with the merger, at ``optim.projector_lr``.
"""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor, smart_resize

from ..data.chat import checkpoint_file
from . import register_model
from .base import LoadedModel, MediaItem
from .qwen2_vl import Qwen2VLAdapter

DEFAULT_FPS = 24.0          # what Qwen3VLProcessor assumes where a video does not say its frame rate


def frame_pair_times(indices: list[int], fps: float | None, temporal_patch_size: int) -> list[float]:
    """Seconds of each temporal patch: the mean of its first and last frame's time (the last frame
    repeated to fill the final patch), as ``Qwen3VLProcessor`` computes them."""
    fps = fps or DEFAULT_FPS
    idx = list(indices) + [indices[-1]] * (-len(indices) % temporal_patch_size)
    t = [i / fps for i in idx]
    return [(t[i] + t[i + temporal_patch_size - 1]) / 2 for i in range(0, len(t), temporal_patch_size)]


@register_model("qwen3_vl")
class Qwen3VLAdapter(Qwen2VLAdapter):
    model_cls = Qwen3VLForConditionalGeneration
    config_cls = Qwen3VLConfig
    projector_prefixes = ("visual.merger", "visual.deepstack_merger_list")

    def tiny_vision(self, hidden_size: int) -> dict:
        return {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": hidden_size,
                "num_position_embeddings": 64, "deepstack_visual_indexes": [0]}

    def tiny_text(self, tokenizer) -> dict:
        return {"head_dim": 16, "rope_parameters": {"rope_type": "default", "rope_theta": 5e6,
                                                    "mrope_section": [2, 3, 3], "mrope_interleaved": True}}

    def load(self, cfg, seed: int = 0) -> LoadedModel:
        loaded = super().load(cfg, seed)
        loaded.video_size = _video_size(cfg.name_or_path)
        return loaded

    def _frame_layout(self, loaded: LoadedModel, frames: list) -> tuple[list, dict]:
        """One size for every frame, from the video processor's budget over all of them, with the
        reference per-frame cap (qwen-vl-utils; transformers' ``cap_pixels_per_frame=True``): at most
        ``max_video_tokens`` merged tokens per frame pair."""
        proc, size = loaded.image_processor, loaded.video_size
        factor = proc.patch_size * proc.merge_size
        per_frame = max(min(size["max_video_tokens"] * factor * factor, size["longest_edge"] // len(frames)),
                        int(size["shortest_edge"] * 1.05))
        h, w = smart_resize(len(frames), frames[0].height, frames[0].width, temporal_factor=proc.temporal_patch_size,
                            factor=factor, min_pixels=size["shortest_edge"], max_pixels=per_frame * len(frames))
        return [f.resize((w, h), Image.BICUBIC) for f in frames], {"do_resize": False}

    def encode_media(self, loaded: LoadedModel, kind: str, path: str | Path) -> MediaItem:
        if kind == "image":
            return super().encode_media(loaded, kind, path)
        proc, clip = loaded.image_processor, loaded.media.clip(path)
        patches, grid = self._video_patches(loaded, [Image.fromarray(f) for f in clip.frames])
        t, gh, gw = grid[0].tolist()
        per_pair = gh * gw // proc.merge_size ** 2
        text = "".join(f"<{s:.1f} seconds><|vision_start|>{'<|video_pad|>' * per_pair}<|vision_end|>"
                       for s in frame_pair_times(clip.indices, clip.fps, proc.temporal_patch_size))
        return MediaItem({"pixel_values_videos": patches, "video_grid_thw": grid}, t * per_pair, text=text)


def _video_size(src: str | None) -> dict:
    """The checkpoint's video pixel budget and per-frame token cap (``video_preprocessor_config.json``),
    else the processor's defaults."""
    f = checkpoint_file(src, "video_preprocessor_config.json") if src else None
    cfg = json.loads(f.read_text()) if f else {}
    return {**Qwen3VLVideoProcessor.size, **(cfg.get("size") or {}),
            "max_video_tokens": cfg.get("max_video_tokens", Qwen3VLVideoProcessor.max_video_tokens)}
