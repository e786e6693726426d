"""MLLM-DCL (MLLM-CL's domain track: RS → Med → AD → Sci → Fin) → this project's training/test files.

    python -m data_prep.dcl --src /path/to/MLLM-CL/domain_data --out data/dcl

Upstream layout: ``<Domain>/{images/, train.json, test.json}`` with image paths relative to the domain
folder. The spellings users actually have are accepted: ``RemoteSensing/`` for ``RS/`` (MLLM-CL's training
scripts), Fin's ``test.sjon`` (its README). Test records are LLaVA eval records (``question_id, image,
text|question, answer``) or conversations (the ``gpt`` turn is the answer).

Sci mixes AI2D / TQA / VQA / SciVerse / MapQA images, scored by ``eval_sci.py`` per image: MapQA items
(``mapqa`` in the image path) get their own scorer in the test file — ``dcl_mapqa_states`` (list
partial credit) for "Which states …" questions, ``dcl_mapqa`` (containment) otherwise — and the rest
the task's ``dcl_sci`` (lower-case exact match).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .common import TaskFiles, cli, convert_tasks, find_dir, find_file, read_json, resolve, train_record

__all__ = ["TASKS", "convert", "sci_scorer"]

TASKS = {"RS": ("RS", "RemoteSensing"), "Med": ("Med", "Medical"), "AD": ("AD", "AutoDrive", "Autonomous_Driving"),
         "Sci": ("Sci", "Science"), "Fin": ("Fin", "Finance")}


def sci_scorer(image: str, question: str) -> str | None:
    """Per-sample scorer of a Sci item, or None for the task's default (``dcl_sci``)."""
    if "mapqa" not in image.lower():
        return None
    return "dcl_mapqa_states" if question.strip().lower().startswith("which states") else "dcl_mapqa"


def _question_answer(rec: dict) -> tuple[str, str]:
    if "conversations" in rec:
        conv = rec["conversations"]
        return conv[0]["value"], next(t["value"] for t in conv if t.get("from") in ("gpt", "assistant"))
    return rec.get("text", rec.get("question", rec.get("prompt", ""))), rec["answer"]


def _convert_task(src: Path, task: str) -> TaskFiles:
    where = f"MLLM-DCL {task}"
    folder = find_dir([src / n for n in TASKS[task]], where)
    roots = [folder, folder / "images", src]
    files = TaskFiles()
    train = read_json(find_file(folder, ["train.json", "train.jsonl"], where), where)
    files.train = [r for r in (train_record(rec, roots, files.missing_train) for rec in train) if r]
    for i, rec in enumerate(read_json(find_file(folder, ["test.json", "test.sjon", "test.jsonl"], where), where)):
        image = resolve(rec["image"], roots)
        if image is None:
            files.missing_test.append(str(folder / rec["image"]))
            continue
        question, answer = _question_answer(rec)
        row = {"question_id": str(rec.get("question_id", rec.get("id", i))), "image": str(image),
               "prompt": question, "answer": answer}
        if task == "Sci" and (scorer := sci_scorer(rec["image"], question)):
            row["scorer"] = scorer
        files.test.append(row)
    return files


def convert(src: str | Path, out: str | Path, tasks=tuple(TASKS)) -> dict:
    return convert_tasks("MLLM-DCL", src, out, tasks, _convert_task)


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/dcl", TASKS, convert)


if __name__ == "__main__":
    sys.exit(main())
