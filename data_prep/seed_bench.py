"""SEED-Bench (multiple choice; the image questions, SEED-IMG as LLaVA-1.5 reports it) → a general-ability set.

    python -m data_prep.seed_bench --src /path/to/SEED-Bench --out data/general/seed_bench

Upstream layout: ``SEED-Bench.json`` (``questions``: ``question_id``, ``question``, ``choice_a``–``choice_d``,
``answer``, ``data_id``, ``data_type``, ``question_type_id``) and the images it names in ``SEED-Bench-image/``.
Video questions are not converted (counted in the manifest: ``skipped.video_questions``). The prompt is LLaVA-1.5's
(``llava-seed-bench.jsonl``): question, ``A. …`` lines, "Answer with the option's letter from the given choices
directly."; the scorer ``seed_bench`` is LLaVA's exact-letter rule.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .common import ConvertError, TaskFiles, choice_prompt, cli, convert_tasks, find_dir, find_file, read_json, resolve

__all__ = ["convert"]

CHOICES = ("choice_a", "choice_b", "choice_c", "choice_d")


def _questions(src: Path) -> tuple[list[dict], Path]:
    path = find_file(src, ["SEED-Bench.json"], "SEED-Bench")
    doc = read_json(path, "SEED-Bench")
    if not isinstance(doc, dict) or not isinstance(doc.get("questions"), list):
        raise ConvertError(f"{path}: no 'questions' list (SEED-Bench.json has one)")
    return doc["questions"], path


def _convert(src: Path, task: str) -> TaskFiles:
    files, (questions, path) = TaskFiles(), _questions(src)
    images = find_dir([src / "SEED-Bench-image", src / "images", src], "SEED-Bench images")
    for q in questions:
        if q.get("data_type", "image") != "image":
            files.skipped["video_questions"] = files.skipped.get("video_questions", 0) + 1
            continue
        if q.get("answer") not in ("A", "B", "C", "D") or any(k not in q for k in CHOICES):
            raise ConvertError(f"{path}: question {q.get('question_id')!r} needs choice_a–choice_d and an answer A–D")
        image = resolve(str(q["data_id"]), [images], ("", ".jpg", ".png"))
        if image is None:
            files.missing_test.append(str(images / str(q["data_id"])))
            continue
        files.test.append({"question_id": str(q["question_id"]), "image": str(image),
                           "prompt": choice_prompt(q["question"], [q[k] for k in CHOICES]), "answer": q["answer"]})
    return files


def convert(src: str | Path, out: str | Path) -> dict:
    return convert_tasks("SEED-Bench", src, out, ["image"], _convert)


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/general/seed_bench", None, convert)


if __name__ == "__main__":
    sys.exit(main())
