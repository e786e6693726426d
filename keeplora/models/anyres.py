"""Shared base of the families that tile an image into a grid of crops (LLaVA-NeXT "anyres").

transformers' PIL image processors prepare the tiles (no torchvision needed); the number of
placeholder tokens follows from the image size alone, by the rule the family's own processor uses
(``LlavaNextProcessor._get_number_of_features``), checked against it in the tests.
"""
from __future__ import annotations

import math
from pathlib import Path

from .base import LlavaFamilyAdapter, LoadedModel, MediaItem

__all__ = ["AnyresAdapter", "anyres_token_count"]


def anyres_token_count(height: int, width: int, pinpoints, tile: int, side: int, base: int,
                       max_tiles: int | None = None) -> int:
    """Tokens of one ``height × width`` image: the base tile, plus the unpadded grid and its newline column.

    ``side``: patches per tile edge; ``base``: tokens of the base tile; ``max_tiles`` (OneVision's
    ``anyres_max_N``): the grid is pooled down when it holds more than about N tiles of patches.
    """
    from transformers.image_processing_utils import select_best_resolution
    best_h, best_w = select_best_resolution((height, width), pinpoints)
    cur_h, cur_w = side * (best_h // tile), side * (best_w // tile)
    if width / height > cur_w / cur_h:
        new_h = int(round(height * (cur_w / width), 7))
        cur_h -= 2 * ((cur_h - new_h) // 2)
    else:
        new_w = int(round(width * (cur_h / height), 7))
        cur_w -= 2 * ((cur_w - new_w) // 2)
    unpadded, newline = cur_h * cur_w, cur_h
    if max_tiles is not None:
        ratio = math.sqrt(cur_h * cur_w / (max_tiles * side ** 2))
        if ratio > 1.1:
            unpadded, newline = int(cur_h // ratio) * int(cur_w // ratio), int(cur_h // ratio)
    return base + unpadded + newline


class AnyresAdapter(LlavaFamilyAdapter):
    """Images through the family's anyres tiling; videos as ``num_frames`` square frames (fixed count)."""
    def tiny_processor_kwargs(self, config) -> dict:
        """Image-processor settings of the tiny twin besides its grid (a real checkpoint brings its own)."""
        raise NotImplementedError

    def tiny_image_processor_kwargs(self, model) -> dict:
        return {"image_grid_pinpoints": model.config.image_grid_pinpoints, **self.tiny_processor_kwargs(model.config)}

    def base_tokens(self, config) -> int:
        """Tokens of the base (whole-image) tile."""
        side = config.vision_config.image_size // config.vision_config.patch_size
        return side * side

    def max_tiles(self, config) -> int | None:
        return None

    def image_tokens(self, config, height: int, width: int) -> int:
        vision = config.vision_config
        return anyres_token_count(height, width, config.image_grid_pinpoints, vision.image_size,
                                  vision.image_size // vision.patch_size, self.base_tokens(config),
                                  self.max_tiles(config))

    def encode_media(self, loaded: LoadedModel, kind: str, path: str | Path) -> MediaItem:
        if kind != "image":
            return super().encode_media(loaded, kind, path)
        img = loaded.media.open_image(path)
        out = loaded.image_processor(images=[img], return_tensors="pt")
        tensors = {"pixel_values": out["pixel_values"], "image_sizes": out["image_sizes"]}
        return MediaItem(tensors, self.image_tokens(loaded.model.config, img.height, img.width))
