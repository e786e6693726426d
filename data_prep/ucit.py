"""UCIT (HiDe-LLaVA; as KeepLoRA's DCL_UCIT scripts run it) → this project's training/test files.

    python -m data_prep.ucit --src /path/to/UCIT --out data/ucit

Accepts both layouts users have: HiDe-LLaVA's ``<src>/instructions/<Task>/…`` + ``<src>/datasets/…``,
and KeepLoRA/MCITlib's ``<src>/<Task>/…`` (CLEVR-Math's folder may be ``CLEVR``). Training files as
``train_all.sh`` reads them (``train.json``; ``train_4w.json`` for ArxivQA and CLEVR-Math;
``train_brief_4w.json`` for Flickr30k); tests from ``test_3000.json`` (``question_id, image, text,
answer``). Caption tasks take their references from ``val_coco_type_3000.json`` when present: the i-th
image of its ``images`` list (the order ``create_coco_type`` numbers predictions in) belongs to the i-th
test question; otherwise from the test file's ``answer``.
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

__all__ = ["TASKS", "convert"]

TASKS = {"ImageNet-R": ("train.json",), "ArxivQA": ("train_4w.json", "train.json"),
         "VizWiz": ("train.json",), "IconQA": ("train.json",), "CLEVR-Math": ("train_4w.json", "train.json"),
         "Flickr30k": ("train_brief_4w.json", "train.json")}
CAPTION_TASKS = ("VizWiz", "Flickr30k")
_FOLDERS = {"CLEVR-Math": ("CLEVR-Math", "CLEVR")}


def _task_dir(src: Path, task: str) -> Path:
    names = _FOLDERS.get(task, (task,))
    return find_dir([src / "instructions" / n for n in names] + [src / n for n in names], f"UCIT {task}")


def _coco_references(path: Path, where: str) -> list[list[str]]:
    data = read_json(path, where)
    by_image: dict = {}
    for ann in data.get("annotations", []):
        by_image.setdefault(ann["image_id"], []).append(ann["caption"])
    order = [img["id"] for img in data.get("images", [])] or list(by_image)
    return [by_image.get(i, []) for i in order]


def _test_rows(folder: Path, task: str, roots: list[Path], files: TaskFiles) -> None:
    where = f"UCIT {task}"
    records = read_json(find_file(folder, ["test_3000.json", "test.json"], where), where)
    refs = None
    if task in CAPTION_TASKS and (folder / "val_coco_type_3000.json").is_file():
        refs = _coco_references(folder / "val_coco_type_3000.json", where)
        if len(refs) != len(records):
            raise ConvertError(f"{where}: val_coco_type_3000.json has {len(refs)} images but the test file has "
                               f"{len(records)} questions; they must be in the same order")
    for i, rec in enumerate(records):
        image = resolve(rec["image"], roots)
        if image is None:
            files.missing_test.append(str(roots[0] / rec["image"]))
            continue
        answers = refs[i] if refs is not None else rec["answer"]
        files.test.append({"question_id": str(rec.get("question_id", i)), "image": str(image),
                           "prompt": rec.get("text", rec.get("prompt", "")),
                           **({"answers": answers} if isinstance(answers, list) else {"answer": answers})})


def _convert_task(src: Path, task: str) -> TaskFiles:
    folder = _task_dir(src, task)
    roots = [src, src / "datasets", folder, src / "datasets" / task]
    files = TaskFiles()
    train = read_json(find_file(folder, TASKS[task], f"UCIT {task}"), f"UCIT {task}")
    files.train = [r for r in (train_record(rec, roots, files.missing_train) for rec in train) if r]
    _test_rows(folder, task, roots, files)
    return files


def convert(src: str | Path, out: str | Path, tasks=tuple(TASKS)) -> dict:
    return convert_tasks("UCIT", src, out, tasks, _convert_task)


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/ucit", TASKS, convert)


if __name__ == "__main__":
    sys.exit(main())
