"""TinyCL-VL's picture makers: 32×32 shapes-world scenes, moving-shape clips, grey digits, clip-art.

Shared by the general suite (``data_prep.tinycl_general``) and the continual tasks (``data_prep.tinycl``),
so that a task's pictures look exactly like the ones the base learned from: a task then asks something
new *about* what the base can already see, which is what makes it learnable by a LoRA on the language
model while the vision tower stays frozen.
"""
from __future__ import annotations

import random

import numpy as np
from PIL import Image

from . import tinycl_sources as src
from .tiny_synth import COLORS, DIRECTIONS, SHAPES, paint

SIZE = 32
BACKGROUND = (30, 30, 30)
CLIPART_FINE = {"mammal": "animals/mammals", "bird": "animals/birds", "bug": "animals/bugs", "fruit": "food/fruit",
                "dessert": "food/desserts", "music": "recreation/music", "sport": "recreation/sports",
                "road sign": "transportation/roadsigns"}
CLIPART_COARSE = {"flag": ["signs_and_symbols/flags"], "arrow": ["shapes/arrows"], "house": ["buildings/homes"],
                  "boat": ["transportation/boating"], "face": ["people/smilies"], "clock": ["signs_and_symbols/clocks"],
                  "car": ["transportation/vehicles"], "weather": ["signs_and_symbols/weather"]}


def gray_rgb(a: np.ndarray) -> Image.Image:
    return Image.fromarray(a).convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR)


def scene(rng: random.Random, n: int) -> list[dict]:
    """``n`` non-overlapping shapes with distinct (shape, colour) pairs anywhere on the canvas."""
    objs, pairs, tries = [], set(), 0
    while len(objs) < n:
        tries += 1
        if tries % 50 == 0:                           # the first shapes can leave no room: start over
            objs, pairs = [], set()
        o = {"shape": rng.choice(SHAPES), "color": rng.choice(sorted(COLORS)), "r": rng.randint(4, 6)}
        o["cx"], o["cy"] = rng.randint(o["r"] + 1, SIZE - o["r"] - 2), rng.randint(o["r"] + 1, SIZE - o["r"] - 2)
        clash = any(abs(o["cx"] - p["cx"]) < o["r"] + p["r"] + 2 and abs(o["cy"] - p["cy"]) < o["r"] + p["r"] + 2
                    for p in objs)
        if not clash and (o["shape"], o["color"]) not in pairs:
            objs.append(o)
            pairs.add((o["shape"], o["color"]))
    return objs


def quadrant_scene(rng: random.Random, n: int) -> list[dict]:
    """``n`` shapes of distinct colours, each near the centre of its own quadrant (±1 px, radius 5–6).

    Quadrant-sized positions: boxes of shapes placed anywhere were out of reach of a task's steps on this
    4×4-patch tower (BENCHMARKS.md, "TinyCL-VL version 1 → 2")."""
    quads, colors = rng.sample(range(4), n), rng.sample(sorted(COLORS), n)
    return [{"shape": rng.choice(SHAPES), "color": c, "r": rng.randint(5, 6),
             "cx": (q % 2) * 16 + 8 + rng.randint(-1, 1), "cy": (q // 2) * 16 + 8 + rng.randint(-1, 1)}
            for q, c in zip(quads, colors)]


def render(objs: list[dict]) -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE), BACKGROUND)
    for o in objs:
        paint(img, o["shape"], COLORS[o["color"]], o["cx"], o["cy"], o["r"])
    return img


def clip(rng: random.Random, num_frames: int = 8):
    """A shape moving 2 px a frame in one of four directions: (frames, direction, colour)."""
    direction, shape, color = rng.choice(sorted(DIRECTIONS)), rng.choice(SHAPES), rng.choice(sorted(COLORS))
    dx, dy = DIRECTIONS[direction]
    cx = SIZE // 2 - dx * num_frames + rng.randint(-3, 3)
    cy = SIZE // 2 - dy * num_frames + rng.randint(-3, 3)
    frames = [np.asarray(paint(Image.new("RGB", (SIZE, SIZE), BACKGROUND), shape, COLORS[color],
                               cx + 2 * dx * i, cy + 2 * dy * i, 4)) for i in range(num_frames)]
    return frames, direction, color


def clipart_images(folders: dict[str, list[str]]) -> dict[str, list[Image.Image]]:
    out = {}
    for name, subs in folders.items():
        files = [f for sub in subs for f in src.clipart_files(sub)]
        out[name] = [img for img in (src.clipart(f, SIZE) for f in files) if img is not None]
    return out
