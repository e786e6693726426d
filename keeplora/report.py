"""Everything a run writes: metrics.json, predictions, per-task checkpoints and bases, logs, the table.

Files are written to a temporary name and renamed, so a crash never leaves half a file; only rank 0
writes.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from .atomic import atomic_write_text
from .bases import save_bases, save_record
from .errors import UserError
from .metrics import general_change, run_metrics
from .resume import MANIFEST, task_label, write_manifest
from .scalars import ScalarSink
from .sealed import seal

__all__ = ["RunWriter"]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise UserError(f"{path} is damaged (not valid JSON); delete it to continue (the finished tasks' rows "
                        f"come from the run manifest), or start over with overwrite=true") from None


class RunWriter:
    def __init__(self, out: Path, tasks: list[str], is_main: bool, fingerprint: str = "",
                 checksums: dict[str, str] | None = None, report_to: tuple[str, ...] = ("tensorboard",),
                 config: dict | None = None):
        self.out, self.tasks, self.is_main, self.fingerprint = out, tasks, is_main, fingerprint
        self.checksums = checksums or {}
        self.zero_shot: list[float] | None = None
        self.matrix: list[list[float]] = []
        self.diagnostics: dict[str, dict] = {}
        self.notes: dict[str, str] = {}       # task -> why its score is not the official computation
        self.skipped: dict[str, dict] = {}    # task -> {"count", "examples"} (data.on_bad_sample: skip)
        self.timings: dict[str, dict] = {}    # task -> seconds per stage (task start, train, task end, eval)
        self.general: dict[str, dict] = {}    # stage label -> {general-suite skill: score}
        self.steps: dict[str, int] = {}       # task -> optimizer steps (offsets of the global step)
        self.console = Console()
        self.scalars = ScalarSink(out, list(report_to), is_main, config)
        if is_main:
            out.mkdir(parents=True, exist_ok=True)

    def save_recipe(self, recipe) -> None:
        if self.is_main:
            atomic_write_text(self.out / "recipe.resolved.yaml", yaml.safe_dump(recipe.model_dump(), sort_keys=False))

    @contextmanager
    def stage(self, text: str):
        """A spinner while one long stage without natural progress units runs (merge, basis growth, save),
        then one line with its time; rank 0 only."""
        if not self.is_main:
            yield
            return
        start = time.perf_counter()
        with self.console.status(f"{text} …"):
            yield
        self.console.print(f"  {text}: {time.perf_counter() - start:.1f} s")

    def global_step(self, t: int, done: int = 0) -> int:
        """Optimizer steps of the sequence after ``done`` steps of task ``t`` (tasks before it finished)."""
        return sum(self.steps.get(name, 0) for name in self.tasks[:t]) + done

    def log_stage(self, step: int, row: list[float], general: dict[str, float] | None) -> None:
        """One evaluation stage's scores: every task's and the general suite's, with their means."""
        values = {f"eval/{name}": v for name, v in zip(self.tasks, row)}
        values["eval/mean"] = sum(row) / len(row)
        if general:
            values.update({f"general/{name}": v for name, v in general.items()})
            values["general/mean"] = sum(general.values()) / len(general)
        self.scalars.log(values, step)

    def save_model(self, model, companions, name: str) -> None:
        """``save_pretrained`` into a temporary folder, then rename: a plain transformers checkpoint.
        ``companions`` (the tokenizer, or ``models.Companions``: tokenizer + processor) is saved beside it."""
        if not self.is_main:
            return
        final = self.out / name
        tmp = self.out / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        companions.save_pretrained(tmp)
        seal(tmp)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)

    def clear_manifest(self) -> None:
        if self.is_main:
            (self.out / MANIFEST).unlink(missing_ok=True)

    def restore(self, manifest: dict) -> None:
        """Rows, diagnostics, stage timings and skip counts of the tasks a resumed run already finished."""
        self.zero_shot, self.matrix = manifest["zero_shot"], manifest["matrix"]
        done = set(manifest["tasks_done"])
        diag = self.out / "diagnostics.json"
        if diag.is_file():
            self.diagnostics = {k: v for k, v in _read_json(diag).items() if k in done}
        metrics = self.out / "metrics.json"
        if metrics.is_file():
            data = _read_json(metrics)
            self.timings = {k: v for k, v in data.get("timings", {}).items() if k in done}
            self.skipped = {k: v for k, v in data.get("skipped", {}).items() if k in done}
            self.steps = {k: v for k, v in data.get("steps", {}).items() if k in done}
            stages = {"zero-shot"} | {f"after {t}" for t in done}
            self.general = {k: v for k, v in data.get("general", {}).items() if k in stages}

    def save_task(self, t: int, name: str, model, companions, method, recipe, record=None,
                  reference: str = "") -> None:
        label = task_label(t, name)
        if recipe.save_merged:
            self.save_model(model, companions, label)
        if self.is_main and record is not None:
            save_record(self.out / "record", record, [task_label(i, n) for i, n in enumerate(self.tasks[:t + 1])])
        state = method.state()
        if self.is_main and state:
            save_bases(self.out / "bases" / f"{label}.safetensors", state, str(recipe.model.name_or_path),
                       recipe.model.family, name, reference)

    def save_predictions(self, label: str, task: str, preds: list[dict], result=None) -> None:
        """Predictions JSONL; a score with parts (caption metrics) or a note also gets ``<task>.score.json``."""
        if result is not None and result.note:
            self.notes[task] = result.note
        if self.is_main:
            folder = self.out / "predictions" / label.replace(" ", "_")
            atomic_write_text(folder / f"{task}.jsonl", "".join(json.dumps(p) + "\n" for p in preds))
            if result is not None and (result.parts or result.note):
                atomic_write_text(folder / f"{task}.score.json", json.dumps(vars(result), indent=1))

    def add_skipped(self, task: str, skipped: dict[str, str]) -> None:
        """Bad samples skipped while training ``task``: counted in metrics.json and printed, never silent."""
        if not skipped:
            return
        self.skipped[task] = {"count": len(skipped), "examples": list(skipped.values())[:5]}
        if self.is_main:
            self.console.print(f"[yellow]task {task}: skipped {len(skipped)} bad sample(s)[/yellow], "
                               f"e.g. {next(iter(skipped.values()))}")

    def add_diagnostics(self, task: str, diag: dict) -> None:
        self.diagnostics[task] = diag
        if self.is_main:
            atomic_write_text(self.out / "diagnostics.json", json.dumps(self.diagnostics, indent=1))

    def add_row(self, row: list[float]) -> None:
        self.matrix.append(row)
        self._write_metrics()
        if self.is_main:
            write_manifest(self.out, self.fingerprint, self.tasks, self.zero_shot, self.matrix, self.checksums)

    def _write_metrics(self) -> dict:
        data = {"tasks": self.tasks, "zero_shot": self.zero_shot, "matrix": self.matrix,
                "metrics": run_metrics(self.matrix, self.zero_shot)}
        if self.notes:
            data["notes"] = self.notes
        if self.skipped:
            data["skipped"] = self.skipped
        if self.timings:
            data["timings"] = self.timings
        if self.steps:
            data["steps"] = self.steps
        if self.general:
            data["general"] = self.general
            data["metrics"]["general_change"] = general_change(self.general)
        if self.is_main:
            atomic_write_text(self.out / "metrics.json", json.dumps(data, indent=1))
        return data

    def add_general(self, label: str, scores: dict[str, float]) -> None:
        """General-suite scores at one stage; written with the next metrics.json (the stage's row)."""
        self.general[label] = scores
        if self.is_main:
            cells = "  ".join(f"{k}={v:.1f}" for k, v in scores.items())
            self.console.print(f"  general suite: {cells}")

    def print_row(self, label: str, row: list[float]) -> None:
        if self.is_main:
            cells = "  ".join(f"{t}={v:.1f}" for t, v in zip(self.tasks, row))
            self.console.print(f"[bold]{label}[/bold]: {cells}")

    def finish(self) -> dict:
        data = self._write_metrics()
        self.scalars.close()
        if self.is_main:
            self._print_table(data)
        return data

    def _print_table(self, data: dict) -> None:
        table = Table(title=f"Accuracy matrix R[i][j] (%) — {self.out}")
        table.add_column("after \\ on")
        for name in self.tasks:
            table.add_column(name, justify="right")
        if data["zero_shot"]:
            table.add_row("zero-shot", *(f"{v:.1f}" for v in data["zero_shot"]))
        for name, row in zip(self.tasks, data["matrix"]):
            table.add_row(name, *(f"{v:.1f}" for v in row))
        self.console.print(table)
        metrics = Table(title="Continual-learning metrics")
        for key in data["metrics"]:
            metrics.add_column(key, justify="right")
        metrics.add_row(*("-" if v is None else f"{v:.2f}" for v in data["metrics"].values()))
        self.console.print(metrics)
        for task, note in data.get("notes", {}).items():
            self.console.print(f"[yellow]{task}[/yellow]: {note}")
