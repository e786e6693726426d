"""CL-VISTA (arXiv 2604.00677) as used by KeepLoRA++ → this project's training/test files.

    python -m data_prep.cl_vista --src /path/to/CL-VISTA --out data/cl_vista

Reads the upstream layout (``<src>/<Task>/.../<file>``; file names differ per task, as in the official
``CL_VISTA/configs/data_configs/CL-VISTA/*.json``) and writes, per task, ``train.jsonl`` (LLaVA
conversations, one ``<video>`` placeholder, absolute video paths), ``test.jsonl`` (``question_id``,
``video``, ``prompt``, ``answer``) and a top-level ``manifest.json`` (counts, missing videos,
checksums). Test videos are ``<src>/<video_name>`` + the first of ``.mp4 .avi .mov .mkv`` that exists;
upstream inference skips a question whose video is missing without a word, here each one is counted
and listed in the manifest.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

__all__ = ["TASKS", "convert"]

# task -> (train file, test questions, test answers); searched anywhere under <src>/<task>/
TASKS = {
    "Counting": ("train_data_20k.json", "test_questions_2k.json", "test_answers_2k.json"),
    "Space": ("train_30k.json", "test_questions_2k.json", "test_answers_2k.json"),
    "Traffic": ("train_data_30k.json", "test_questions_2k.json", "test_answers_2k.json"),
    "Movie": ("movie_train_subtitle_30k.json", "test_question_2k.json", "test_answer_2k.json"),
    "GUI": ("train_data_30k.json", "test_questions_2k.json", "test_answers_2k.json"),
    "Science": ("train_data_30k.json", "test_questions_2k.json", "test_answers_2k.json"),
    "Sports": ("train_data_30k.json", "test_questions_2k.json", "test_answers_2k.json"),
    "STAR": ("train_data_25k.json", "test_questions_2k.json", "test_answers_2k.json"),
}
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv")
_LEADING_MEDIA = re.compile(r"^\s*(?:<(?:image|video)>\s*)+")


class ConvertError(ValueError):
    """One line naming the task and file."""


def _find(src: Path, task: str, name: str) -> Path:
    hits = sorted((src / task).rglob(name))
    if not hits:
        raise ConvertError(f"CL-VISTA {task}: no {name} under {src / task} (is --src the CL-VISTA root?)")
    return hits[0]


def _resolve_video(src: Path, name: str) -> Path | None:
    base = src / name
    if base.suffix in VIDEO_EXTS and base.is_file():
        return base
    return next((p for p in (base.with_name(base.name + e) for e in VIDEO_EXTS) if p.is_file()), None)


def _train_record(rec: dict, src: Path, missing: list[str]) -> dict | None:
    video = _resolve_video(src, rec.get("video", ""))
    if video is None:
        missing.append(str(src / rec.get("video", "?")))
        return None
    conv = [dict(turn) for turn in rec["conversations"]]
    conv[0]["value"] = "<video>\n" + _LEADING_MEDIA.sub("", conv[0]["value"])      # one placeholder per video
    return {"id": str(rec.get("id", video.stem)), "video": str(video), "conversations": conv}


def _convert_task(src: Path, out: Path, task: str) -> dict:
    train_f, q_f, a_f = (_find(src, task, n) for n in TASKS[task])
    missing_train, missing_test = [], []
    train = [r for r in (_train_record(rec, src, missing_train) for rec in json.loads(train_f.read_text())) if r]
    questions, answers = json.loads(q_f.read_text()), json.loads(a_f.read_text())
    if len(questions) != len(answers):
        raise ConvertError(f"CL-VISTA {task}: {q_f.name} has {len(questions)} questions but "
                           f"{a_f.name} has {len(answers)} answers")
    test = []
    for q, a in zip(questions, answers):                 # aligned by index, as the official inference reads them
        video = _resolve_video(src, q["video_name"])
        if video is None:
            missing_test.append(str(src / q["video_name"]))
            continue
        test.append({"question_id": q["question_id"], "video": str(video), "prompt": q["question"],
                     "answer": a["answer"]})
    folder = out / task
    folder.mkdir(parents=True, exist_ok=True)
    stats = {}
    for name, rows in (("train.jsonl", train), ("test.jsonl", test)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (folder / name).write_text(text)
        stats[name] = {"samples": len(rows), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    stats["missing_videos"] = {"train": len(missing_train), "test": len(missing_test),
                               "first": (missing_train + missing_test)[:5]}
    return stats


def convert(src: str | Path, out: str | Path, tasks=tuple(TASKS)) -> dict:
    src, out = Path(src), Path(out)
    manifest = {"source": str(src), "tasks": {t: _convert_task(src, out, t) for t in tasks}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True, help="CL-VISTA root (the folder holding Counting/, Movie/, …)")
    ap.add_argument("--out", default="data/cl_vista")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    args = ap.parse_args(argv)
    try:
        manifest = convert(args.src, args.out, args.tasks)
    except ConvertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for task, s in manifest["tasks"].items():
        miss = s["missing_videos"]
        note = f"; missing videos: {miss['train']} train, {miss['test']} test (first: {miss['first'][:2]})" \
            if miss["train"] or miss["test"] else ""
        print(f"{task}: {s['train.jsonl']['samples']} train, {s['test.jsonl']['samples']} test{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
