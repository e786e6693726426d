"""TinyCL-VL's general suite: the skills the tiny base is pretrained on and is scored on after every task.

The analogue of MME/MMBench in the paper: what a continual run must not destroy. It is also the base's
"pretraining", and each continual task asks something new about what one of these skills sees:

- ``shapes`` (colours, shapes and counts in shapes-world scenes) and ``video_color`` (a moving shape's colour);
- ``digits`` (MNIST digit → its name), ``fashion`` (clothing type), ``clipart`` (coarse clip-art category);
- ``letters`` (first/last letter of a word, text only).

Richer suites (rendered letters, shape positions as ``[x, y]``, numerals and capitals) were measured and
dropped: at this size and pretraining budget they lowered the other skills and made no continual task
more learnable (BENCHMARKS.md, "TinyCL-VL version 1 → 2").
"""
from __future__ import annotations

import random

from .tinycl_world import clip, gray_rgb, render, scene

__all__ = ["GENERAL", "general_items", "FASHION_COARSE", "DIGITS", "NUMBERS"]

GENERAL = ("shapes", "digits", "clipart", "fashion", "letters", "video_color")
FASHION_COARSE = ["top", "bottom", "top", "dress", "top", "shoe", "top", "shoe", "bag", "shoe"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
NUMBERS = DIGITS[:4]


def _shapes(rng, n):
    out = []
    while len(out) < n:
        objs = scene(rng, rng.randint(1, 3))
        kind, o = rng.choice(["count", "color", "shape"]), rng.choice(objs)
        if kind == "count":
            q, a = "How many shapes?", NUMBERS[len(objs)]
        elif kind == "color":
            q, a = f"What color is the {o['shape']}?", o["color"]
            if sum(p["shape"] == o["shape"] for p in objs) > 1:
                q = f"What color is the {o['shape']} on the {'left' if o['cx'] < 16 else 'right'}?"
        else:
            q, a = f"What shape is {o['color']}?", o["shape"]
            if sum(p["color"] == o["color"] for p in objs) > 1:
                continue
        out.append((render(objs), q, a))
    return out


def _letters(rng, vocab, n):
    out = []
    for _ in range(n):
        w, which = rng.choice(vocab), rng.choice(["first", "last"])
        out.append((None, f"The {which} letter of '{w}'?", w[0] if which == "first" else w[-1]))
    return out


def general_items(name: str, s: dict, rng: random.Random, n: int, test: bool) -> list[tuple]:
    """``n`` (media, question, answer) items of one skill; ``test`` draws from the held-out pools."""
    f_train, f_train_y, f_test, f_test_y, order = s["fashion"]
    digits, digit_y, d_order = s["digits"]
    if name == "fashion":
        images, labels, idx = (f_test, f_test_y, range(0, 5000)) if test else (f_train, f_train_y, order[:6000])
        return [(gray_rgb(images[i]), "Top, bottom, dress, shoe or bag?", FASHION_COARSE[labels[i]])
                for i in rng.sample(list(idx), n)]
    if name == "digits":
        idx = rng.sample(d_order[2600:3000] if test else d_order[:2600], n)
        return [(gray_rgb(digits[i]), "What digit?", DIGITS[digit_y[i]]) for i in idx]
    if name == "clipart":
        pool = [(img, label) for label, split in sorted(s["coarse"].items()) for img in split[int(test)]]
        return [(img, "What is shown?", label) for img, label in rng.choices(pool, k=n)]
    if name == "letters":
        return _letters(rng, s["letters"][int(test)], n)
    if name == "video_color":
        return [(f, "What color is the moving shape?", c) for f, _, c in (clip(rng) for _ in range(n))]
    return _shapes(rng, n)
