"""An MVBench-style multiple-choice video QA set → this project's test (and optional training) files.

    python -m data_prep.mvbench --src /path/to/MVBench --out data/mvbench [--train-ratio 0.5]

Upstream layout: ``json/<sub_task>.json`` (``video, question, candidates, answer``; no question id)
and the clips under ``videos/`` (KeepLoRA++ flattens them there) or ``video/``. The prompt is
``eval_mvbench.py``'s ``Question: …\\nOptions:\\n(A) …``, the answer ``"(B) text"``, the scorer ``mvbench``.
Question ids are ``<sub_task>_<row>``, stable across runs. MVBench has no training split: with
``--train-ratio`` a seeded share of each sub-task becomes LLaVA conversations for a trainable task.
Not applied: the per-question time bounds of some sub-tasks (the whole clip is sampled uniformly).
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

from .common import ConvertError, TaskFiles, cli, read_json, resolve, write_manifest, write_task

__all__ = ["convert", "qa_prompt"]


def qa_prompt(rec: dict) -> tuple[str, str]:
    """(prompt, gold) as ``eval_mvbench.py``'s ``qa_template``."""
    lines = [f"Question: {rec['question']}", "Options:"]
    gold = -1
    for i, c in enumerate(rec["candidates"]):
        lines.append(f"({chr(65 + i)}) {c}")
        gold = i if c == rec["answer"] else gold
    if gold < 0:
        raise ConvertError(f"MVBench: answer {rec['answer']!r} is not among the candidates of {rec['video']!r}")
    return "\n".join(lines), f"({chr(65 + gold)}) {rec['answer']}"


def _convert_task(src: Path, json_file: Path, train_ratio: float, seed: int) -> TaskFiles:
    task, files = json_file.stem, TaskFiles()
    rows = list(enumerate(read_json(json_file, f"MVBench {task}")))
    train_ids = set(random.Random(f"{seed}-{task}").sample(range(len(rows)), int(train_ratio * len(rows))))
    for i, rec in rows:
        video = resolve(rec["video"], [src / "videos", src / "video", src])
        if video is None:
            (files.missing_train if i in train_ids else files.missing_test).append(str(src / "videos" / rec["video"]))
            continue
        prompt, gold = qa_prompt(rec)
        if i in train_ids:
            files.train.append({"id": f"{task}_{i}", "video": str(video),
                                "conversations": [{"from": "human", "value": "<video>\n" + prompt},
                                                  {"from": "gpt", "value": gold}]})
        else:
            files.test.append({"question_id": f"{task}_{i}", "video": str(video), "prompt": prompt, "answer": gold,
                               "scorer": "mvbench"})
    return files


def convert(src: str | Path, out: str | Path, train_ratio: float = 0.0, seed: int = 0) -> dict:
    """One task per sub-task, and ``all``: every sub-task's test questions in one file (MVBench's score is
    the accuracy over all of them; the recipes' general suite reads it)."""
    src, out = Path(src), Path(out)
    jsons = sorted((src / "json").glob("*.json"))
    if not jsons:
        raise ConvertError(f"MVBench: no json/*.json under {src} (is --src the MVBench root?)")
    parts = {f.stem: _convert_task(src, f, train_ratio, seed) for f in jsons}
    merged = TaskFiles(test=[row for files in parts.values() for row in files.test])
    tasks = {name: write_task(out, name, files) for name, files in {**parts, "all": merged}.items()}
    return write_manifest(out, "MVBench", src, tasks)


def _options(ap) -> None:
    ap.add_argument("--train_ratio", "--train-ratio", type=float, default=0.0, help="share of each sub-task trained on")
    ap.add_argument("--seed", type=int, default=0)


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/mvbench", None, convert, _options)


if __name__ == "__main__":
    sys.exit(main())
