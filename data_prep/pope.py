"""POPE (object hallucination, yes/no) → a general-ability test set per sampling setting.

    python -m data_prep.pope --src /path/to/POPE/output/coco --images /path/to/coco/val2014 --out data/general/pope

Upstream layout: the POPE repository's ``coco_pope_{random,popular,adversarial}.json`` (JSON lines:
``question_id``, ``image``, ``text``, ``label``) and the COCO val2014 images they name. The prompt is
LLaVA-1.5's (``model_vqa_loader`` with ``--single-pred-prompt``): the question, then "Answer the question
using a single word or phrase."; the scorer ``pope`` reads answers as LLaVA's ``eval_pope.py`` does.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import ConvertError, TaskFiles, cli, convert_tasks, find_file, resolve

__all__ = ["TASKS", "convert", "PROMPT_SUFFIX"]

TASKS = ("random", "popular", "adversarial")
PROMPT_SUFFIX = "\nAnswer the question using a single word or phrase."


def _rows(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ConvertError(f"{path}: line {n} is not JSON ({exc.msg}); POPE files are JSON lines") from None
    return rows


def _convert_task(src: Path, task: str, images: Path) -> TaskFiles:
    files = TaskFiles()
    path = find_file(src, [f"coco_pope_{task}.json", f"coco_pope_{task}.jsonl"], f"POPE {task}")
    for rec in _rows(path):
        if rec.get("label") not in ("yes", "no"):
            raise ConvertError(f"{path}: question {rec.get('question_id')!r} has label {rec.get('label')!r}; "
                               f"POPE labels are 'yes' or 'no'")
        image = resolve(rec["image"], [images, src])
        if image is None:
            files.missing_test.append(str(images / rec["image"]))
            continue
        files.test.append({"question_id": f"{task}-{rec['question_id']}", "image": str(image),
                           "prompt": f"<image>\n{rec['text']}{PROMPT_SUFFIX}", "answer": rec["label"]})
    return files


def convert(src: str | Path, out: str | Path, images: str | Path, tasks=TASKS) -> dict:
    return convert_tasks("POPE", src, out, tasks, lambda s, t: _convert_task(s, t, Path(images)))


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/general/pope", TASKS, convert,
               lambda ap: ap.add_argument("--images", required=True, help="the COCO val2014 image folder"))


if __name__ == "__main__":
    sys.exit(main())
