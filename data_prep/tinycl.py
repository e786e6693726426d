"""TinyCL-VL: a continual-learning benchmark on real package images and procedural video, sized for a CPU.

    python -m data_prep.tinycl --out data/tinycl          # ~1 min; deterministic from --seed; cached

Real sources (``data_prep.tinycl_sources``): Fashion-MNIST, Open Clip Art, MNIST, the wamerican word list
rendered in DejaVu Sans. Procedural: shapes-world scenes and 8-frame clips written as mp4 (decoded by the
same PyAV path as the 7B video models). Every image is 32×32 RGB.

**General suite** (``general/<skill>``: pretraining data for the tiny base, and a held-out test split
reported after every task — the analogue of MME/MMBench in the paper): shape colours/counts, digit
names, coarse clip-art categories, coarse clothing types, first/last letters of words (text only), the
colour of a moving shape (video).

**Continual tasks** (``tasks/<name>``), each new in format and skill, each from images the general suite
never used: ``fashion`` (10-way clothing name), ``clipart_mc`` (4-option fine category, letter answer),
``digit_sum`` (two digits side by side), ``ocr`` (a rendered 3-letter word), ``grounding`` (bounding box of
the named shape, IoU > 0.5), ``motion`` (direction of a moving shape, video), ``count`` (how many shapes
appear one after another, video).

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
from .common import ConvertError
from .tiny_synth import COLORS, DIRECTIONS, SHAPES, paint, write_items

__all__ = ["build", "GENERAL", "TASKS", "VERSION"]

VERSION = 1
SIZE = 32
FASHION = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
FASHION_COARSE = ["top", "bottom", "top", "dress", "top", "shoe", "top", "shoe", "bag", "shoe"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
NUMBERS = DIGITS[:4]
CLIPART_FINE = {"mammal": "animals/mammals", "bird": "animals/birds", "bug": "animals/bugs", "fruit": "food/fruit",
                "dessert": "food/desserts", "music": "recreation/music", "sport": "recreation/sports",
                "road sign": "transportation/roadsigns"}
CLIPART_COARSE = {"flag": ["signs_and_symbols/flags"], "arrow": ["shapes/arrows"], "house": ["buildings/homes"],
                  "boat": ["transportation/boating"], "face": ["people/smilies"], "clock": ["signs_and_symbols/clocks"],
                  "car": ["transportation/vehicles"], "weather": ["signs_and_symbols/weather"]}
ONE_WORD = " Answer with one word."


def _gray_rgb(a: np.ndarray) -> Image.Image:
    return Image.fromarray(a).convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR)


def _split(n: int, rng: random.Random, test_share: float) -> tuple[list[int], list[int]]:
    idx = list(range(n))
    rng.shuffle(idx)
    cut = int(round(n * (1 - test_share)))
    return idx[:cut], idx[cut:]


# ---------------------------------------------------------------- shapes-world
def _scene(rng: random.Random, n: int) -> list[dict]:
    """``n`` non-overlapping shapes with distinct (shape, colour) pairs on a 32×32 canvas."""
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


def _render(objs: list[dict]) -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE), (30, 30, 30))
    for o in objs:
        paint(img, o["shape"], COLORS[o["color"]], o["cx"], o["cy"], o["r"])
    return img


def _g_shapes(rng, n):
    out = []
    while len(out) < n:
        objs = _scene(rng, rng.randint(1, 3))
        kind, o = rng.choice(["count", "color", "shape"]), rng.choice(objs)
        if kind == "count":
            q, a = "How many shapes?", NUMBERS[len(objs)]
        elif kind == "color":
            q, a = f"What color is the {o['shape']}?", o["color"]
            if sum(p["shape"] == o["shape"] for p in objs) > 1:
                q = f"What color is the {o['shape']} on the {'left' if o['cx'] < SIZE / 2 else 'right'}?"
        else:
            q, a = f"What shape is {o['color']}?", o["shape"]
            if sum(p["color"] == o["color"] for p in objs) > 1:
                continue
        out.append((_render(objs), q, a))
    return out


def _grounding(rng, n):
    out = []
    for _ in range(n):
        objs = _scene(rng, rng.randint(2, 3))
        o = rng.choice(objs)
        box = [o["cx"] - o["r"], o["cy"] - o["r"], o["cx"] + o["r"], o["cy"] + o["r"]]
        answer = "[" + ", ".join(f"{v / SIZE:.2f}" for v in box) + "]"
        out.append((_render(objs), f"Give the bounding box of the {o['color']} {o['shape']}.", answer))
    return out


# ---------------------------------------------------------------- video
def _clip(rng, num_frames: int = 8):
    """A shape moving 2 px a frame in one of four directions, and the question data about it."""
    direction, shape, color = rng.choice(sorted(DIRECTIONS)), rng.choice(SHAPES), rng.choice(sorted(COLORS))
    dx, dy = DIRECTIONS[direction]
    cx = SIZE // 2 - dx * num_frames + rng.randint(-3, 3)
    cy = SIZE // 2 - dy * num_frames + rng.randint(-3, 3)
    frames = [np.asarray(paint(Image.new("RGB", (SIZE, SIZE), (30, 30, 30)), shape, COLORS[color],
                               cx + 2 * dx * i, cy + 2 * dy * i, 4)) for i in range(num_frames)]
    return frames, direction, color


def _g_video(rng, n):
    return [(f, "What color is the moving shape?", c) for f, _, c in (_clip(rng) for _ in range(n))]


def _motion(rng, n):
    return [(f, "Which way does the shape move?" + ONE_WORD, d) for f, d, _ in (_clip(rng) for _ in range(n))]


def _count(rng, n, num_frames: int = 8):
    """1–3 shapes appear one after another (each stays); the question is how many appear in all."""
    out = []
    for _ in range(n):
        objs = _scene(rng, rng.randint(1, 3))
        starts = sorted(rng.sample(range(num_frames - 1), len(objs)))
        frames = [np.asarray(_render([o for o, s in zip(objs, starts) if s <= i])) for i in range(num_frames)]
        out.append((frames, "How many shapes appear in the video?" + ONE_WORD, NUMBERS[len(objs)]))
    return out


# ---------------------------------------------------------------- real images
def _fashion(images, labels, names, question, idx):
    return [(_gray_rgb(images[i]), question, names[labels[i]]) for i in idx]


def _digit_pair(images, a: int, b: int) -> Image.Image:
    pair = np.concatenate([images[a], images[b]], axis=1)                       # 28 × 56
    canvas = Image.new("L", (SIZE, SIZE))
    canvas.paste(Image.fromarray(pair).resize((SIZE, SIZE // 2), Image.Resampling.BILINEAR), (0, SIZE // 4))
    return canvas.convert("RGB")


def _digit_sum(rng, images, labels, pool, n):
    out = []
    for _ in range(n):
        a, b = rng.choice(pool), rng.choice(pool)
        out.append((_digit_pair(images, a, b), "What is the sum of the two digits? Answer with a number.",
                    str(int(labels[a]) + int(labels[b]))))
    return out


def _ocr(rng, vocab, n):
    out, fonts = [], {size: src.font(size) for size in (11, 12)}      # each font file read once
    for _ in range(n):
        word = rng.choice(vocab)
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


def _clipart_images(folders: dict[str, list[str]]) -> dict[str, list[Image.Image]]:
    out = {}
    for name, subs in folders.items():
        files = [f for sub in subs for f in src.clipart_files(sub)]
        out[name] = [img for img in (src.clipart(f, SIZE) for f in files) if img is not None]
    return out


def _clipart_mc(rng, images: list[tuple[Image.Image, str]], names: list[str], repeats: int):
    out = []
    for _ in range(repeats):
        for img, label in images:
            options = [label] + rng.sample([c for c in names if c != label], 3)
            rng.shuffle(options)
            letters = "ABCD"
            listing = "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(options))
            q = (f"Which best describes the image?\n{listing}\n"
                 "Answer with the option's letter from the given choices directly.")
            out.append((img, q, letters[options.index(label)]))
    rng.shuffle(out)
    return out


def _text_letters(rng, vocab, n):
    out = []
    for _ in range(n):
        w = rng.choice(vocab)
        which = rng.choice(["first", "last"])
        out.append((None, f"The {which} letter of '{w}'?",
                    w[0] if which == "first" else w[-1]))
    return out


# ---------------------------------------------------------------- assembly
GENERAL = ("shapes", "digits", "clipart", "fashion", "letters", "video_color")
TASKS = ("fashion", "clipart_mc", "digit_sum", "ocr", "grounding", "motion", "count")


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
    fine = _clipart_images({k: [v] for k, v in CLIPART_FINE.items()})
    coarse = _clipart_images(CLIPART_COARSE)
    five = src.words(5)
    w_train, w_test = _split(len(five), rng, 0.2)
    return {"fashion": (f_train, f_train_y, f_test, f_test_y, order), "digits": (digits, digit_y, d_order),
            "fine": {k: _split_list(v, rng) for k, v in fine.items()},
            "coarse": {k: _split_list(v, rng) for k, v in coarse.items()},
            "letters": ([five[i] for i in w_train], [five[i] for i in w_test]), "ocr": src.words(3)}


def _split_list(items: list, rng: random.Random) -> tuple[list, list]:
    tr, te = _split(len(items), rng, 0.2)
    return [items[i] for i in tr], [items[i] for i in te]


def _labelled(pools: dict, part: int) -> list[tuple[Image.Image, str]]:
    return [(img, name) for name, split in sorted(pools.items()) for img in split[part]]


def _general_items(name: str, s: dict, rng: random.Random, n: int, test: bool) -> list[tuple]:
    f_train, f_train_y, f_test, f_test_y, order = s["fashion"]
    digits, digit_y, d_order = s["digits"]
    if name == "shapes":
        return _g_shapes(rng, n)
    if name == "video_color":
        return _g_video(rng, n)
    if name == "letters":
        return _text_letters(rng, s["letters"][int(test)], n)
    if name == "fashion":
        images, labels, idx = (f_test, f_test_y, range(0, 5000)) if test else (f_train, f_train_y, order[:6000])
        return _fashion(images, labels, FASHION_COARSE, "Top, bottom, dress, shoe or bag?",
                        rng.sample(list(idx), n))
    if name == "digits":
        idx = rng.sample(d_order[2600:3000] if test else d_order[:2600], n)
        return [(_gray_rgb(digits[i]), "What digit?", DIGITS[digit_y[i]]) for i in idx]
    pool = _labelled(s["coarse"], int(test))
    return [(img, "What is shown?", label) for img, label in rng.choices(pool, k=n)]


def _task_items(name: str, s: dict, rng: random.Random, n: int, test: bool) -> list[tuple]:
    f_train, f_train_y, f_test, f_test_y, order = s["fashion"]
    digits, digit_y, d_order = s["digits"]
    if name == "fashion":
        images, labels, idx = (f_test, f_test_y, range(5000, 10000)) if test else (f_train, f_train_y, order[6000:])
        return _fashion(images, labels, FASHION, "What item of clothing is this?" + ONE_WORD, rng.sample(list(idx), n))
    if name == "clipart_mc":
        labelled = _labelled(s["fine"], int(test))
        return _clipart_mc(rng, labelled, sorted(CLIPART_FINE), -(-n // len(labelled)))[:n]
    if name == "digit_sum":
        return _digit_sum(rng, digits, digit_y, d_order[4000:] if test else d_order[3000:4000], n)
    makers = {"ocr": lambda: _ocr(rng, s["ocr"], n), "grounding": lambda: _grounding(rng, n),
              "motion": lambda: _motion(rng, n), "count": lambda: _count(rng, n)}
    return makers[name]()


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
    s = _sources(seed)
    files = {}
    for group, names, make, n_tr, n_te in (("general", GENERAL, _general_items, n_general, n_general_test),
                                           ("tasks", TASKS, _task_items, n_train, n_test)):
        for name in names:
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
