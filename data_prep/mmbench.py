"""MMBench (multiple choice, CircularEval) → one general-ability test set.

    python -m data_prep.mmbench --src /path/to/mmbench_dev_20230712.tsv --out data/general/mmbench

Upstream: the benchmark's TSV (``index, question, hint, A, B, C, D, answer, category, image`` with the image
base64-encoded), as LLaVA-1.5's ``model_vqa_mmbench`` reads it. Only a split with answers can be scored
here (dev); the test split is scored by MMBench's server. Every question is written once per option, the
options rotated each round (LLaVA's ``--all-rounds``), so the scorer ``mmbench`` can apply CircularEval: a
question counts only when every rotation is answered right. A TSV that already holds the rotations
(VLMEvalKit's, index + k·10⁶) is taken as it is. The prompt: hint, question, ``A. …`` lines, then "Answer
with the option's letter from the given choices directly.".
"""
from __future__ import annotations

import base64
import binascii
import csv
import sys
from pathlib import Path

from .common import ConvertError, TaskFiles, choice_prompt, cli, convert_tasks

__all__ = ["convert"]

LETTERS = ("A", "B", "C", "D", "E")
ROTATED = 1_000_000
"""VLMEvalKit's circular TSVs number a question's k-th rotation ``index + k·ROTATED``."""


def _cell(row: dict, key: str) -> str:
    value = (row.get(key) or "").strip()
    return "" if value.lower() == "nan" else value


def _rows(path: Path) -> list[dict]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    missing = {"index", "question", "A", "B", "image"} - set(rows[0] if rows else ())
    if missing:
        raise ConvertError(f"{path}: no column(s) {sorted(missing)}; MMBench TSVs have index, question, A–D, image")
    if "answer" not in rows[0]:
        raise ConvertError(f"{path}: no 'answer' column — the test split is scored by MMBench's server; "
                           "convert the dev split")
    return rows


def _save_image(row: dict, folder: Path, where: str) -> Path:
    try:
        data = base64.b64decode(row["image"], validate=True)
    except (binascii.Error, ValueError):
        raise ConvertError(f"{where}: question {row['index']}: the image column is not base64") from None
    suffix = "png" if data.startswith(b"\x89PNG") else "jpg"
    path = folder / f"{row['index']}.{suffix}"
    path.write_bytes(data)
    return path


def _samples(row: dict, image: Path, rotate: bool) -> list[dict]:
    """One sample per rotation of the options, or the row as it is when the TSV holds the rotations itself."""
    options = [_cell(row, k) for k in LETTERS if _cell(row, k)]
    answer, index = LETTERS.index(_cell(row, "answer")), int(row["index"])
    shifts = range(len(options)) if rotate else [0]
    return [{"question_id": f"{index % ROTATED}@{index // ROTATED + shift}", "image": str(image),
             "prompt": choice_prompt(_cell(row, "question"), options[shift:] + options[:shift], _cell(row, "hint")),
             "answer": LETTERS[(answer - shift) % len(options)]} for shift in shifts]


def _convert(src: Path, task: str, out: Path) -> TaskFiles:
    files, folder = TaskFiles(), out / task / "images"
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows(src)
    rotate = not any(int(r["index"]) >= ROTATED for r in rows)
    for row in rows:
        if _cell(row, "answer") not in LETTERS:
            raise ConvertError(f"{src}: question {row['index']} has answer {row.get('answer')!r}; expected A–E")
        files.test += _samples(row, _save_image(row, folder, str(src)), rotate)
    return files


def convert(src: str | Path, out: str | Path) -> dict:
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise ConvertError(f"MMBench: --src {src} is not a file; pass the TSV (e.g. mmbench_dev_20230712.tsv)")
    return convert_tasks("MMBench", src, out, ["dev"], lambda s, t: _convert(s, t, out))


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/general/mmbench", None, convert)


if __name__ == "__main__":
    sys.exit(main())
