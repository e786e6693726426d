"""TinyCL-VL: a continual-learning benchmark on real package images and procedural video, sized for a CPU.

    python -m data_prep.tinycl --out data/tinycl          # ~1 min; deterministic from --seed; cached

Real sources (``data_prep.tinycl_sources``): Fashion-MNIST, Open Clip Art, MNIST, the wamerican word list
rendered in DejaVu Sans. Procedural: shapes-world scenes and 8-frame clips written as mp4 (decoded by the
same PyAV path as the 7B video models). Every image is 32×32 RGB.

**General suite** (``general/<skill>``, ``data_prep.tinycl_general``): pretraining data for the tiny base,
and a test split reported after every task — the analogue of MME/MMBench in the paper.

**Continual tasks** (``tasks/<name>``), each from images the general suite never used, each asking
something new about what a general skill sees: ``fashion``
(10-way clothing name; the base knows 5 coarse types), ``color_mc`` (a shape's colour as the letter of one
of six options), ``digit_plus`` (an MNIST digit plus three, in words), ``caption`` (one line describing a
shape), ``grounding`` (box of the named shape, IoU > 0.5), ``motion`` (direction of a moving shape, video),
``count`` (how many shapes appear one after another, video), and ``ocr`` (a rendered 3-letter word; not in
the default sequences). Version 1's tasks (clip-art multiple choice, sums of two half-size digits, boxes
anywhere) were out of reach of even full fine-tuning at this scale (BENCHMARKS.md, "TinyCL-VL version 1 → 2").

``manifest.json`` records the seed, counts and a sha256 of every task file; a second call with the same
seed and version reuses the folder.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from keeplora.atomic import atomic_write_text

from . import tinycl_sources as src
from .common import LETTER_SUFFIX, ConvertError
from .tiny_synth import COLORS, write_items
from .tinycl_general import DIGITS, GENERAL, NUMBERS, general_items
from .tinycl_world import (
    CLIPART_COARSE,
    SIZE,
    clip,
    clipart_images,
    gray_rgb,
    quadrant_scene,
    render,
    scene,
)

__all__ = ["build", "GENERAL", "TASKS", "VERSION"]

VERSION = 2
FASHION = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
ONE_WORD = " Answer with one word."
TASKS = ("fashion", "color_mc", "digit_plus", "caption", "ocr", "grounding", "motion", "count")


def _split(n: int, rng: random.Random, test_share: float) -> tuple[list[int], list[int]]:
    idx = list(range(n))
    rng.shuffle(idx)
    cut = int(round(n * (1 - test_share)))
    return idx[:cut], idx[cut:]


def _split_list(items: list, rng: random.Random) -> tuple[list, list]:
    tr, te = _split(len(items), rng, 0.2)
    return [items[i] for i in tr], [items[i] for i in te]


def _sources(seed: int) -> dict:
    """Every real source, split once into disjoint pools (general train/test, task train/test)."""
    rng = random.Random(f"{seed}-pools")
    f_train, f_train_y = src.fashion_mnist("train")
    f_test, f_test_y = src.fashion_mnist("t10k")
    order = list(range(len(f_train)))
    rng.shuffle(order)
    digits, digit_y = src.mnist_digits()
    d_order = list(range(len(digits)))
    rng.shuffle(d_order)
    coarse = clipart_images(CLIPART_COARSE)
    five = src.words(5)
    w_train, w_test = _split(len(five), rng, 0.2)
    return {"fashion": (f_train, f_train_y, f_test, f_test_y, order), "digits": (digits, digit_y, d_order),
            "coarse": {k: _split_list(v, rng) for k, v in coarse.items()},
            "letters": ([five[i] for i in w_train], [five[i] for i in w_test]), "ocr": src.words(3)}


# ---------------------------------------------------------------- continual tasks
def _color_mc(rng, n):
    """One shape; the letter of its colour among six options in a fixed order (new: the option format).

    Fixed, not shuffled: matching a shuffled option list back to the picture is a mechanism this base
    does not learn in a task's 150 steps (measured: chance with shuffled options, BENCHMARKS.md)."""
    colors = sorted(COLORS)
    listing = "\n".join(f"{'ABCDEF'[i]}. {c}" for i, c in enumerate(colors))
    question = f"What color is the shape?\n{listing}{LETTER_SUFFIX}"
    shapes = [scene(rng, 1) for _ in range(n)]
    return [(render(objs), question, "ABCDEF"[colors.index(objs[0]["color"])]) for objs in shapes]


def _digit_plus(rng, images, labels, pool, n):
    """An MNIST digit plus three, in words (new: arithmetic on what the base reads as a digit name).

    One fixed operand: with the operand drawn from 1–3 in the question the task stays near 21 % after a
    task's steps, with three fixed it reaches the base's own digit accuracy (BENCHMARKS.md)."""
    return [(gray_rgb(images[i]), "What is this digit plus three?", DIGITS[int(labels[i]) + 3])
            for i in (rng.choice(pool) for _ in range(n))]


def _caption(rng, n):
    """A one-line caption, "a red circle" (new: free-form description, composing colour and shape names).

    Scored by exact match, so one shape: a caption the base can get entirely right after a task's steps."""
    scenes = [scene(rng, 1)[0] for _ in range(n)]
    return [(render([o]), "Describe the image.", f"a {o['color']} {o['shape']}") for o in scenes]


def _ocr(rng, vocab, n):
    """A rendered three-letter word. Not in the default sequences: this base never learned to read glyphs,
    and no method (not even full fine-tuning) gets past a few per cent on it (BENCHMARKS.md)."""
    out, fonts = [], {size: src.font(size) for size in (11, 12)}      # each font file read once
    for word in [rng.choice(vocab) for _ in range(n)]:
        img = Image.new("RGB", (SIZE, SIZE), tuple(rng.randint(200, 255) for _ in range(3)))
        font = fonts[rng.choice([11, 12])]
        left, top, right, bottom = font.getbbox(word)
        x = rng.randint(0, max(0, SIZE - (right - left))) - left
        y = rng.randint(0, max(0, SIZE - (bottom - top))) - top
        ImageDraw.Draw(img).text((x, y), word, fill=tuple(rng.randint(0, 60) for _ in range(3)), font=font)
        if rng.random() < 0.5:
            img = img.filter(ImageFilter.GaussianBlur(0.4))
        out.append((img, "What word is written in the image?" + ONE_WORD, word))
    return out


def _grounding(rng, n):
    """The box of the named shape as [x1, y1, x2, y2] in 0–1, scored at IoU > 0.5 (new: the box format)."""
    out = []
    for _ in range(n):
        objs = quadrant_scene(rng, rng.randint(2, 3))
        o = rng.choice(objs)
        box = [o["cx"] - o["r"], o["cy"] - o["r"], o["cx"] + o["r"], o["cy"] + o["r"]]
        answer = "[" + ", ".join(f"{v / SIZE:.2f}" for v in box) + "]"
        out.append((render(objs), f"Give the bounding box of the {o['color']} shape.", answer))
    return out


def _motion(rng, n):
    return [(f, "Which way does the shape move?" + ONE_WORD, d) for f, d, _ in (clip(rng) for _ in range(n))]


def _count(rng, n, num_frames: int = 8):
    """1–3 shapes appear one after another (each stays); the question is how many appear in all."""
    out = []
    for _ in range(n):
        objs = scene(rng, rng.randint(1, 3))
        starts = sorted(rng.sample(range(num_frames - 1), len(objs)))
        frames = [np.asarray(render([o for o, s in zip(objs, starts) if s <= i])) for i in range(num_frames)]
        out.append((frames, "How many shapes appear in the video?" + ONE_WORD, NUMBERS[len(objs)]))
    return out


def _task_items(name: str, s: dict, rng: random.Random, n: int, test: bool) -> list[tuple]:
    f_train, f_train_y, f_test, f_test_y, order = s["fashion"]
    digits, digit_y, d_order = s["digits"]
    if name == "fashion":
        images, labels, idx = (f_test, f_test_y, range(5000, 10000)) if test else (f_train, f_train_y, order[6000:])
        return [(gray_rgb(images[i]), "What item of clothing is this?" + ONE_WORD, FASHION[labels[i]])
                for i in rng.sample(list(idx), n)]
    if name == "digit_plus":
        return _digit_plus(rng, digits, digit_y, d_order[4000:] if test else d_order[3000:4000], n)
    if name == "ocr":
        return _ocr(rng, s["ocr"], n)
    makers = {"color_mc": _color_mc, "caption": _caption, "grounding": _grounding, "motion": _motion, "count": _count}
    return makers[name](rng, n)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def build(out: str | Path = "data/tinycl", seed: int = 0, n_train: int = 1200, n_test: int = 200,
          n_general: int = 1200, n_general_test: int = 100, force: bool = False) -> dict:
    """Write the general suite and every continual task under ``out``; reuse a matching finished build."""
    out = Path(out)
    key = {"version": VERSION, "seed": seed, "n_train": n_train, "n_test": n_test, "n_general": n_general,
           "n_general_test": n_general_test}
    manifest_file = out / "manifest.json"
    if manifest_file.is_file() and not force:
        manifest = json.loads(manifest_file.read_text())
        if manifest.get("key") == key:
            return manifest
    from tqdm import tqdm
    s = _sources(seed)
    files = {}
    plan = [(group, name, make, n_tr, n_te)
            for group, names, make, n_tr, n_te in (("general", GENERAL, general_items, n_general, n_general_test),
                                                   ("tasks", TASKS, _task_items, n_train, n_test))
            for name in names]
    for group, name, make, n_tr, n_te in tqdm(plan, desc="TinyCL-VL: writing", unit="set"):
        items = (make(name, s, random.Random(f"{seed}-{group}-{name}-train"), n_tr, False)
                 + make(name, s, random.Random(f"{seed}-{group}-{name}-test"), n_te, True))
        folder = out / group / name
        write_items(folder, name, items, n_tr)
        files[f"{group}/{name}"] = {"train": n_tr, "test": len(items) - n_tr, "sha256": _digest(folder)}
    manifest = {"benchmark": "TinyCL-VL", "key": key, "sources": src.INSTALL, "tasks": files}
    atomic_write_text(manifest_file, json.dumps(manifest, indent=1))      # last: it marks the build finished
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/tinycl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=1200)
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--force", action="store_true", help="rebuild even when a matching build exists")
    args = ap.parse_args(argv)
    try:
        manifest = build(args.out, args.seed, args.n_train, args.n_test, force=args.force)
    except ConvertError as e:
        print(f"error: {e}")
        return 2
    counts = ", ".join(f"{k} {v['train']}/{v['test']}" for k, v in manifest["tasks"].items())
    print(f"TinyCL-VL under {args.out} (train/test): {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
