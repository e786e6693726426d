"""Restartable sequences: ``run_manifest.json`` records each finished task, and a new start continues
after the last one — same recipe (fingerprint), same merged weights, same bases, same rows.

The manifest is rewritten atomically after the task's checkpoint and bases are complete, so it never
points at half-written files.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .atomic import atomic_write_text
from .config import Recipe, RecipeError

__all__ = ["MANIFEST", "fingerprint", "read_manifest", "write_manifest", "plan_resume", "task_label",
           "task_checksums"]

MANIFEST = "run_manifest.json"
_NOT_FINGERPRINTED = {"output_dir", "resume", "overwrite", "dry_run", "tasks", "save_merged", "save_base",
                      "checkpoint", "report_to"}


def fingerprint(recipe: Recipe) -> str:
    """Hash of every setting that shapes the results (the task list is checked separately: it may grow)."""
    data = {k: v for k, v in recipe.model_dump().items() if k not in _NOT_FINGERPRINTED}
    data["eval"].pop("score_cache")                     # where reused zero-shot scores live changes no score
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def task_checksums(recipe: Recipe) -> dict[str, str]:
    """Each task's train and test files (path and content), so a resumed or step-checkpointed task never
    continues on data that changed since it started."""
    out = {}
    for task in recipe.tasks:
        parts = [f"{p}:{_file_checksum(Path(p))}" if Path(p).is_file() else f"{p}:missing"
                 for p in (task.train, task.test)]
        out[task.name] = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    return out


def read_manifest(out: Path) -> dict | None:
    path = Path(out) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise RecipeError(f"{path} is damaged (not valid JSON): the run cannot tell which tasks finished; "
                          f"start over with overwrite=true") from None


def task_label(t: int, name: str) -> str:
    return f"task_{t + 1:02d}_{name}"


def write_manifest(out: Path, fp: str, tasks: list[str], zero_shot, matrix: list[list[float]],
                   checksums: dict[str, str] | None = None) -> None:
    """A task counts as done once its evaluation row exists; paths are relative to ``out``."""
    done = tasks[:len(matrix)]
    data = {"fingerprint": fp, "tasks_done": done, "zero_shot": zero_shot, "matrix": matrix,
            "data": {n: (checksums or {}).get(n) for n in done},
            "checkpoints": {n: task_label(t, n) for t, n in enumerate(done)},
            "bases": {n: f"bases/{task_label(t, n)}.safetensors" for t, n in enumerate(done)}}
    atomic_write_text(Path(out) / MANIFEST, json.dumps(data, indent=1))


def plan_resume(recipe: Recipe) -> dict | None:
    """The manifest to continue from, None to start fresh, or a one-line error saying what to do."""
    out = Path(recipe.output_dir)
    manifest = read_manifest(out)
    if manifest is None or recipe.overwrite:
        if recipe.resume:
            raise RecipeError(f"resume=true but {out / MANIFEST} does not exist; nothing to continue")
        return None
    done, names = manifest["tasks_done"], [t.name for t in recipe.tasks]
    if recipe.resume is False:
        raise RecipeError(f"output_dir {out} already holds a run ({len(done)} tasks done); "
                          f"pass resume=true, overwrite=true or another output_dir")
    if names[:len(done)] != done:
        raise RecipeError(f"output_dir {out} finished tasks {done}, but the recipe's sequence starts "
                          f"{names[:len(done)]}; use another output_dir")
    if manifest["fingerprint"] != fingerprint(recipe):
        raise RecipeError(f"output_dir {out} was trained with different settings (fingerprint {manifest['fingerprint']}"
                          f" vs {fingerprint(recipe)}); restore them, or pass overwrite=true")
    changed = [n for n, c in manifest.get("data", {}).items() if c and c != task_checksums(recipe).get(n)]
    if changed:
        raise RecipeError(f"output_dir {out}: the train/test files of finished task {changed[0]} changed since it "
                          f"was trained; restore them, or pass overwrite=true")
    if len(done) == len(names):
        raise RecipeError(f"output_dir {out} holds a finished run of all {len(done)} tasks; "
                          f"pass overwrite=true or another output_dir")
    if not recipe.save_merged:
        raise RecipeError("save_merged=false: the finished tasks' merged weights were not kept, so the run "
                          "cannot resume; pass overwrite=true")
    return manifest
