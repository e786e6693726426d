"""What every benchmark converter shares: reading upstream JSON, resolving media, writing the files.

Each converter writes, per task, ``train.jsonl`` (LLaVA conversations, absolute media paths) and
``test.jsonl`` (``question_id``, ``image``|``video``, ``prompt``, ``answer``|``answers``, optional
``scorer``), and one ``manifest.json`` (counts, sha256 of each file, missing media: count and the first
paths). A sample whose media file is missing is left out *and counted*; nothing is dropped silently.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConvertError", "TaskFiles", "read_json", "find_file", "find_dir", "resolve", "train_record",
           "write_task", "write_manifest", "convert_tasks", "cli", "choice_prompt", "LETTER_SUFFIX"]

LEADING_MEDIA = re.compile(r"^\s*(?:<(?:image|video)>\s*)+")


LETTER_SUFFIX = "\nAnswer with the option's letter from the given choices directly."
"""LLaVA-1.5's multiple-choice instruction (MMBench, SEED-Bench, ScienceQA with ``--single-pred-prompt``)."""


def choice_prompt(question: str, options: Sequence[str], hint: str = "") -> str:
    """``<image>\n[hint\n]question\nA. …\nB. …`` + the letter instruction, as LLaVA-1.5's ``model_vqa_mmbench``
    writes it; scorers read the options back from these ``X. text`` lines."""
    listing = "".join(f"\n{chr(65 + i)}. {o}" for i, o in enumerate(options))
    head = f"{hint}\n{question}" if hint else question
    return f"<image>\n{head}{listing}{LETTER_SUFFIX}"


class ConvertError(ValueError):
    """One line naming the benchmark, the task and the file."""


@dataclass
class TaskFiles:
    """One task's converted rows and the media paths that were not found."""
    train: list[dict] = field(default_factory=list)
    test: list[dict] = field(default_factory=list)
    missing_train: list[str] = field(default_factory=list)
    missing_test: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Upstream records left out on purpose, by reason (e.g. SEED-Bench's video questions): counted, not hidden."""


def read_json(path: Path, where: str) -> list | dict:
    """A JSON document or a JSONL file (one record per line)."""
    text = path.read_text()
    try:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConvertError(f"{where}: {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None


def find_file(folder: Path, names: Sequence[str], where: str) -> Path:
    """The first of ``names`` found under ``folder`` (any depth), in the order given."""
    for name in names:
        hits = sorted(folder.rglob(name)) if folder.is_dir() else []
        if hits:
            return hits[0]
    raise ConvertError(f"{where}: none of {list(names)} under {folder} (is --src the benchmark root?)")


def find_dir(candidates: Sequence[Path], where: str) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise ConvertError(f"{where}: no folder among {[str(c) for c in candidates]} (is --src the benchmark root?)")


def resolve(rel: str, roots: Sequence[Path], exts: Sequence[str] = ("",)) -> Path | None:
    """``rel`` under the first root where it exists, trying each extension suffix in turn."""
    for root in roots:
        for ext in exts:
            p = root / (rel + ext)
            if p.is_file():
                return p
    return None


def train_record(rec: dict, roots: Sequence[Path], missing: list[str], kind: str = "image") -> dict | None:
    """A LLaVA conversation record with absolute media paths; None (and counted) when a file is missing.

    A text-only record (no ``image``/``video`` key) is kept as it is.
    """
    value = rec.get(kind)
    if value is None:
        return {"id": str(rec.get("id")), "conversations": rec["conversations"]}
    paths = []
    for rel in value if isinstance(value, list) else [value]:
        found = resolve(rel, roots)
        if found is None:
            missing.append(str(roots[0] / rel))
            return None
        paths.append(str(found))
    return {"id": str(rec.get("id", Path(paths[0]).stem)), kind: paths if isinstance(value, list) else paths[0],
            "conversations": rec["conversations"]}


def check_out_of_source(src: Path, out: Path) -> None:
    """A converter never writes into the download it reads: ``--out`` inside ``--src`` would overwrite
    upstream files of the same name (``train.jsonl``, ``test.jsonl``)."""
    s, o = src.resolve(), out.resolve()
    if o == s or s in o.parents:
        raise ConvertError(f"--out {out} is inside --src {src}: converted files would overwrite the download; "
                           f"choose an --out outside it (e.g. data/<benchmark>)")


def write_task(out: Path, task: str, files: TaskFiles) -> dict:
    folder = out / task
    folder.mkdir(parents=True, exist_ok=True)
    stats = {}
    for name, rows in (("train.jsonl", files.train), ("test.jsonl", files.test)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (folder / name).write_text(text)
        stats[name] = {"samples": len(rows), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    stats["missing_media"] = {"train": len(files.missing_train), "test": len(files.missing_test),
                              "first": (files.missing_train + files.missing_test)[:5]}
    if files.skipped:
        stats["skipped"] = dict(files.skipped)
    return stats


def convert_tasks(benchmark: str, src, out, tasks, convert_task: Callable[[Path, str], TaskFiles],
                  absent: Sequence[str] = ()) -> dict:
    """Convert each task with ``convert_task(src, task)``, write its files, then the manifest (with the
    tasks the download did not hold, if any)."""
    from tqdm import tqdm
    src, out = Path(src), Path(out)
    done = {}
    for t in (bar := tqdm(list(tasks), desc=f"{benchmark}: converting", unit="task")):
        bar.set_postfix(task=t)
        done[t] = write_task(out, t, convert_task(src, t))
    return write_manifest(out, benchmark, src, done, absent)


def write_manifest(out: Path, benchmark: str, src: Path, tasks: dict[str, dict], absent: Sequence[str] = ()) -> dict:
    manifest = {"benchmark": benchmark, "source": str(src), "tasks": tasks}
    if absent:
        manifest["absent"] = list(absent)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def cli(argv, doc: str, default_out: str, tasks: Sequence[str] | None, convert: Callable[..., dict],
        add_args: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """``--src DIR --out DIR [--tasks …]`` (+ a converter's own options, passed to ``convert`` by name); one
    line per task with its missing media; exit 2 on bad input."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--src", required=True, help="the benchmark's download root")
    ap.add_argument("--out", default=default_out)
    if tasks is not None:
        ap.add_argument("--tasks", nargs="+", default=list(tasks), choices=list(tasks))
    if add_args is not None:
        add_args(ap)
    args = vars(ap.parse_args(argv))
    try:
        check_out_of_source(Path(args["src"]), Path(args["out"]))
        manifest = convert(**args)
    except ConvertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for task, s in manifest["tasks"].items():
        miss = s["missing_media"]
        note = f"; missing media: {miss['train']} train, {miss['test']} test (first: {miss['first'][:2]})" \
            if miss["train"] or miss["test"] else ""
        print(f"{task}: {s['train.jsonl']['samples']} train, {s['test.jsonl']['samples']} test{note}")
    return 0
