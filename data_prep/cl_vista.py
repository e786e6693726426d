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

import sys
from pathlib import Path

from .common import (
    LEADING_MEDIA,
    ConvertError,
    TaskFiles,
    cli,
    convert_tasks,
    find_file,
    read_json,
    resolve,
)

__all__ = ["TASKS", "convert", "ConvertError"]

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
VIDEO_EXTS = ("", ".mp4", ".avi", ".mov", ".mkv")


def _train_record(rec: dict, src: Path, missing: list[str]) -> dict | None:
    video = resolve(rec.get("video", ""), [src], VIDEO_EXTS)
    if video is None:
        missing.append(str(src / rec.get("video", "?")))
        return None
    conv = [dict(turn) for turn in rec["conversations"]]
    conv[0]["value"] = "<video>\n" + LEADING_MEDIA.sub("", conv[0]["value"])      # one placeholder per video
    return {"id": str(rec.get("id", video.stem)), "video": str(video), "conversations": conv}


def _convert_task(src: Path, task: str) -> TaskFiles:
    where = f"CL-VISTA {task}"
    train_f, q_f, a_f = (find_file(src / task, [n], where) for n in TASKS[task])
    files = TaskFiles()
    files.train = [r for r in (_train_record(rec, src, files.missing_train) for rec in read_json(train_f, where)) if r]
    questions, answers = read_json(q_f, where), read_json(a_f, where)
    if len(questions) != len(answers):
        raise ConvertError(f"{where}: {q_f.name} has {len(questions)} questions but "
                           f"{a_f.name} has {len(answers)} answers")
    for q, a in zip(questions, answers):                 # aligned by index, as the official inference reads them
        video = resolve(q["video_name"], [src], VIDEO_EXTS)
        if video is None:
            files.missing_test.append(str(src / q["video_name"]))
            continue
        files.test.append({"question_id": q["question_id"], "video": str(video), "prompt": q["question"],
                           "answer": a["answer"]})
    return files


def convert(src: str | Path, out: str | Path, tasks=tuple(TASKS)) -> dict:
    """The asked tasks whose folders the download holds; the absent ones are listed in the manifest
    (``absent``) and on stderr, so a partial download converts what it has."""
    present = [t for t in tasks if (Path(src) / t).is_dir()]
    absent = [t for t in tasks if t not in present]
    if not present:
        raise ConvertError(f"CL-VISTA: none of the task folders {list(tasks)} under {src} (is --src the "
                           f"CL-VISTA root?)")
    if absent:
        print(f"CL-VISTA: task folder(s) absent under {src}, not converted: {', '.join(absent)}", file=sys.stderr)
    return convert_tasks("CL-VISTA", src, out, present, _convert_task, absent=absent)


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/cl_vista", TASKS, convert)


if __name__ == "__main__":
    sys.exit(main())
