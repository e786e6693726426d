"""CoIN (zackschen/CoIN; data Zacks-Chen/CoIN) → this project's training/test files, 8 tasks.

    python -m data_prep.coin --src /path/to/CoIN --out data/coin

Upstream layout: instructions under ``playground/Instructions_Original/<Task>/`` (``train.json``, and
``test.json`` or — TextVQA, VizWiz, VQAv2, which CoIN scores on the validation split — ``val.json``);
images under ``cl_dataset/``. Answers as CoIN's evaluators read them:

* TextVQA: the 10 annotator answers from ``cl_dataset/TextVQA/TextVQA_0.5.1_val.json`` (by question id).
* ScienceQA: the letter of ``problems.json``'s answer index when the record has no ``answer``; items
  without an image stay text-only.
* Grounding: ``answer_bbox`` (pixels, x1 y1 x2 y2) and ``size`` (w, h) → ``[x1/m, y1/m, x2/m, y2/m]`` with
  m = max(w, h), as the official evaluator compares boxes (its padded-square offset is commented out).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .common import (
    ConvertError,
    TaskFiles,
    cli,
    convert_tasks,
    find_dir,
    find_file,
    read_json,
    resolve,
    train_record,
)

__all__ = ["TASKS", "convert", "grounding_answer"]

TASKS = {"ScienceQA": ("ScienceQA",), "TextVQA": ("TextVQA",), "ImageNet": ("ImageNet",), "GQA": ("GQA",),
         "VizWiz": ("VizWiz",), "Grounding": ("Grounding",), "VQAv2": ("VQAv2",), "OCR-VQA": ("OCRVQA", "OCR-VQA")}
VAL_SPLIT = ("TextVQA", "VizWiz", "VQAv2")


def grounding_answer(bbox, size) -> str:
    """The reference box as ``eval_grounding.py`` reads it: CoIN's test records hold ``answer_bbox`` as a string
    of four coordinates already normalised to the padded square (``"[0.05, 0.1, 0.3, 0.35]"``), kept as it is;
    a list in pixels (other exports) is divided by the longer side of ``size``."""
    if isinstance(bbox, str):
        values = [float(x) for x in bbox.replace("[", "").replace("]", "").split(",")]
        if len(values) != 4:
            raise ConvertError(f"CoIN Grounding: answer_bbox {bbox!r} does not hold four coordinates")
        return "[" + ", ".join(str(v) for v in values) + "]"
    w, h = (size["width"], size["height"]) if isinstance(size, dict) else size[:2]
    m = max(w, h) if max(bbox[:4]) > 1 else 1
    return "[" + ", ".join(f"{v / m:.4f}" for v in bbox[:4]) + "]"


def _textvqa_answers(src: Path) -> dict[str, list[str]]:
    f = find_file(src / "cl_dataset", ["TextVQA_0.5.1_val.json"], "CoIN TextVQA")
    return {str(r["question_id"]): r["answers"] for r in read_json(f, "CoIN TextVQA")["data"]}


def _scienceqa_letters(src: Path) -> dict[str, str]:
    f = find_file(src / "cl_dataset", ["problems.json"], "CoIN ScienceQA")
    return {str(pid): "ABCDE"[p["answer"]] for pid, p in read_json(f, "CoIN ScienceQA").items()}


def _answer(task: str, rec: dict, lookup: dict) -> dict:
    qid = str(rec.get("question_id"))
    if task == "TextVQA":
        if qid not in lookup:
            raise ConvertError(f"CoIN TextVQA: question {qid} not in TextVQA_0.5.1_val.json")
        return {"answers": lookup[qid]}
    if task == "Grounding" and "answer" not in rec:
        return {"answer": grounding_answer(rec["answer_bbox"], rec["size"])}
    if task == "ScienceQA" and "answer" not in rec:
        return {"answer": lookup[qid]}
    return {"answer": rec["answer"]}


def _convert_task(src: Path, task: str) -> TaskFiles:
    where = f"CoIN {task}"
    base = src / "playground" / "Instructions_Original"
    folder = find_dir([base / n for n in TASKS[task]] + [src / n for n in TASKS[task]], where)
    roots = [src / "cl_dataset", src, folder]
    lookup = _textvqa_answers(src) if task == "TextVQA" else _scienceqa_letters(src) if task == "ScienceQA" else {}
    files = TaskFiles()
    train = read_json(find_file(folder, ["train.json"], where), where)
    files.train = [r for r in (train_record(rec, roots, files.missing_train) for rec in train) if r]
    test_names = ["val.json", "test.json"] if task in VAL_SPLIT else ["test.json"]
    for i, rec in enumerate(read_json(find_file(folder, test_names, where), where)):
        row = {"question_id": str(rec.get("question_id", i)), "prompt": rec.get("text", rec.get("prompt", ""))}
        if rec.get("image"):
            image = resolve(rec["image"], roots)
            if image is None:
                files.missing_test.append(str(roots[0] / rec["image"]))
                continue
            row["image"] = str(image)
        files.test.append({**row, **_answer(task, rec, lookup)})
    return files


def convert(src: str | Path, out: str | Path, tasks=tuple(TASKS)) -> dict:
    return convert_tasks("CoIN", src, out, tasks, _convert_task)


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/coin", TASKS, convert)


if __name__ == "__main__":
    sys.exit(main())
