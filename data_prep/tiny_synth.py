"""Procedural shapes-world tasks for the tiny recipes, written in the same formats as real benchmarks.

    python -m data_prep.tiny_synth --out data/tiny            # images + mp4 clips, deterministic

Image tasks (32×32 PNG): ``color`` (what colour is the shape), ``shape`` (circle/square/triangle),
``position`` (left/right). Video task (4-frame mp4 via PyAV): ``motion`` (which way the square moves).
Each task folder gets ``train.json`` (LLaVA conversations) and ``test.jsonl`` (question_id, image|video,
prompt, answer). The same seed always gives the same files.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["build", "TASKS"]

SIZE = 32
COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220), "yellow": (230, 210, 40),
          "purple": (150, 60, 190), "white": (245, 245, 245)}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def paint(img: Image.Image, shape: str, color: tuple, cx: int, cy: int, r: int) -> Image.Image:
    """Draw one filled shape of radius ``r`` centred at (cx, cy) onto ``img`` (in place)."""
    d = ImageDraw.Draw(img)
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        d.ellipse(box, fill=color)
    elif shape == "square":
        d.rectangle(box, fill=color)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=color)
    return img


def _draw(shape: str, color: tuple, cx: int, cy: int, r: int) -> Image.Image:
    return paint(Image.new("RGB", (SIZE, SIZE), (30, 30, 30)), shape, color, cx, cy, r)


def _random_scene(rng: random.Random, x_range=(8, 24)) -> dict:
    return {"shape": rng.choice(SHAPES), "color": rng.choice(sorted(COLORS)),
            "cx": rng.randint(*x_range), "cy": rng.randint(8, 24), "r": rng.randint(5, 7)}


def _image_item(task: str, rng: random.Random) -> tuple[Image.Image, str, str]:
    if task == "position":
        side = rng.choice(["left", "right"])
        scene = _random_scene(rng, (6, 11) if side == "left" else (21, 26))
        question, answer = "Is the shape on the left or the right?", side
    else:
        scene = _random_scene(rng)
        question, answer = {"color": ("What color is the shape?", scene["color"]),
                            "shape": ("What shape is shown?", scene["shape"])}[task]
    img = _draw(scene["shape"], COLORS[scene["color"]], scene["cx"], scene["cy"], scene["r"])
    return img, question + " Answer with one word.", answer


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 4) -> None:
    """Encode RGB frames (H×W×3 uint8) as an MPEG-4 mp4 with PyAV: the same decode path as real videos."""
    import av
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for arr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _video_item(rng: random.Random, num_frames: int = 4) -> tuple[list[np.ndarray], str, str]:
    direction = rng.choice(sorted(DIRECTIONS))
    dx, dy = DIRECTIONS[direction]
    color = COLORS[rng.choice(sorted(COLORS))]
    step = 4
    cx = 16 - dx * step * (num_frames - 1) // 2 + rng.randint(-2, 2)
    cy = 16 - dy * step * (num_frames - 1) // 2 + rng.randint(-2, 2)
    frames = [np.asarray(_draw("square", color, cx + dx * step * i, cy + dy * step * i, 4)) for i in range(num_frames)]
    return frames, "Which way does the square move? Answer with one word.", direction


def write_items(folder: Path, task: str, items: list[tuple], n_train: int) -> None:
    """Write ``(media, question, answer)`` items as one task: media files, ``train.json`` (LLaVA
    conversations, the first ``n_train`` items) and ``test.jsonl`` (the rest). ``media`` is a PIL image,
    a list of RGB frames (written as mp4), or None (a text-only sample)."""
    (folder / "media").mkdir(parents=True, exist_ok=True)
    train, test = [], []
    for i, (media, question, answer) in enumerate(items):
        kind, rel = _save_media(folder, f"media/{task}_{i:05d}", media)
        prompt = f"<{kind}>\n{question}" if kind else question
        extra = {kind: rel} if kind else {}
        if i < n_train:
            train.append({"id": f"{task}-{i}", **extra, "conversations": [
                {"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]})
        else:
            test.append({"question_id": f"{task}-{i}", **extra, "prompt": prompt, "answer": answer})
    (folder / "train.json").write_text(json.dumps(train, indent=0))
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))


def _save_media(folder: Path, stem: str, media) -> tuple[str | None, str | None]:
    if media is None:
        return None, None
    if isinstance(media, Image.Image):
        media.save(folder / f"{stem}.png")
        return "image", f"{stem}.png"
    write_clip(folder / f"{stem}.mp4", media)
    return "video", f"{stem}.mp4"


def _write_task(root: Path, task: str, n_train: int, n_test: int, rng: random.Random) -> None:
    items = [_video_item(rng) if task == "motion" else _image_item(task, rng) for _ in range(n_train + n_test)]
    write_items(root / task, task, items, n_train)


TASKS = ("color", "shape", "position", "motion")


def build(out: str | Path, tasks=TASKS, n_train: int = 256, n_test: int = 48, seed: int = 0) -> Path:
    """Write every task under ``out`` (one seeded generator per task, so tasks are independent)."""
    out = Path(out)
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"unknown tiny task {task!r}; known: {', '.join(TASKS)}")
        _write_task(out, task, n_train, n_test, random.Random(f"{seed}-{task}"))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/tiny")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--n-train", type=int, default=256)
    ap.add_argument("--n-test", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    build(args.out, args.tasks, args.n_train, args.n_test, args.seed)
    print(f"wrote {', '.join(args.tasks)} under {args.out}")


if __name__ == "__main__":
    main()
