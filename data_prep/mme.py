"""MME (14 yes/no subtasks, two questions per image) → one general-ability test set.

    python -m data_prep.mme --src /path/to/MME_Benchmark_release_version --out data/general/mme

Upstream layout, as the benchmark's release ships it: one folder per subtask; in ``artwork``, ``celebrity``,
``landmark``, ``posters`` and ``scene`` the images sit in ``images/`` and the questions in
``questions_answers_YN/``, in the other nine both sit side by side. Each question file is named after its
image and holds two lines ``question<TAB>Yes|No``. The prompt is lmms-eval's LLaVA prompt for MME: the
question without " Please answer yes or no.", then "Answer the question using a single word or phrase.".
The scorer ``mme`` computes MME's own score (``eval_tool/calculation.py``: accuracy + accuracy+ per
subtask, summed into perception and cognition).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .common import ConvertError, TaskFiles, cli, convert_tasks, resolve
from .pope import PROMPT_SUFFIX

__all__ = ["SUBTASKS", "convert"]

PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork",
              "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")
SUBTASKS = PERCEPTION + COGNITION
YES_NO_SUFFIX = " Please answer yes or no."


def _question_files(folder: Path) -> tuple[list[Path], Path]:
    """The subtask's question files and the folder its images are in (either of the release's layouts)."""
    if (folder / "questions_answers_YN").is_dir():
        return sorted((folder / "questions_answers_YN").glob("*.txt")), folder / "images"
    return sorted(folder.glob("*.txt")), folder


def _pairs(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        question, sep, answer = line.rpartition("\t")
        if not sep or answer.strip() not in ("Yes", "No"):
            raise ConvertError(f"{path}: line {n} is not 'question<TAB>Yes|No' (MME's question files are)")
        pairs.append((question.strip(), answer.strip().lower()))
    return pairs


def _convert_subtask(src: Path, subtask: str, files: TaskFiles) -> None:
    questions, images = _question_files(src / subtask)
    if not questions:
        raise ConvertError(f"MME: no question files in {src / subtask} (is --src MME_Benchmark_release_version?)")
    for qfile in questions:
        image = resolve(qfile.stem, [images], (".jpg", ".png", ".jpeg", ".JPG", ".PNG"))
        if image is None:
            files.missing_test.append(str(images / qfile.stem))
            continue
        for k, (question, answer) in enumerate(_pairs(qfile)):
            text = question.replace(YES_NO_SUFFIX, "").strip()
            # the id carries group, subtask and image: the score sums by group and pairs each image's questions
            group = "perception" if subtask in PERCEPTION else "cognition"
            files.test.append({"question_id": f"{group}/{subtask}/{image.name}/{k}", "image": str(image),
                               "prompt": f"<image>\n{text}{PROMPT_SUFFIX}", "answer": answer})


def _convert(src: Path, present: list[str]) -> TaskFiles:
    files = TaskFiles()
    for subtask in present:
        _convert_subtask(src, subtask, files)
    return files


def convert(src: str | Path, out: str | Path) -> dict:
    src = Path(src)
    present = [t for t in SUBTASKS if (src / t).is_dir()]
    if not present:
        raise ConvertError(f"MME: none of the subtask folders ({', '.join(SUBTASKS[:3])}, …) under {src}")
    return convert_tasks("MME", src, out, ["all"], lambda s, _: _convert(s, present),
                         absent=[t for t in SUBTASKS if t not in present])


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/general/mme", None, convert)


if __name__ == "__main__":
    sys.exit(main())
