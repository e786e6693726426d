"""One grid cell's result: its summary row (what ``bench.tinycl``'s table reads), and the cells kept in the
repository.

The row is a cell's continual-learning metrics with the mechanism diagnostics derived from its run folder:
the largest leak and ‖ΔW‖ by depth (``diagnostics.json``), the protected basis's share of each layer's inputs
(``bases/``) and the format capture (``predictions/``).

A real-weights cell costs tens of CPU minutes and its run folder (checkpoints, bases, predictions) is far
too large to commit, so a grid that takes longer than one sitting would be lost with the run folder. What
the table, the verdicts and the plots read is small: the cell's ``metrics.json`` (accuracy matrix, general
suite, timings) and the row ``bench.tinycl`` derives from its diagnostics, bases and predictions. ``--results
DIR`` writes both for every finished cell to ``DIR/<method>/order<o>_seed<s>/`` (``metrics.json``,
``row.json``) and reads them back for any cell the run folder lacks, so the grid grows cell by cell and its
table can be rebuilt from a fresh clone with ``--report-only``.
"""
from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import yaml

__all__ = ["COLUMNS", "ROW", "archived", "archive", "base_mismatch", "cell_summary", "stored_row"]

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("transfer", "average", "last", "mft", "bwt", "general_change")
ROW = "row.json"
SAME_BASE_POINTS = 1.0     # tolerance: one answer of a 100-question set (a rebuilt real base moved sets by 4-14)


def _key(cell: Path) -> Path:
    """``<method>/order<o>_seed<s>``: where a cell of the run folder sits in the results folder."""
    return Path(cell.parent.name) / cell.name


def archived(results: Path | None, cell: Path) -> Path | None:
    """The results folder's copy of ``cell`` when it holds one (both files), else None."""
    if results is None:
        return None
    kept = results / _key(cell)
    return kept if (kept / "metrics.json").is_file() and (kept / ROW).is_file() else None


def archive(results: Path, cell: Path, row: dict) -> Path:
    """Write ``cell``'s ``metrics.json`` and its summary ``row`` to the results folder (replacing an older copy)."""
    kept = results / _key(cell)
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cell / "metrics.json", kept / "metrics.json")
    (kept / ROW).write_text(json.dumps(row, indent=1, sort_keys=True) + "\n")
    return kept


def zero_shot_scores(cell: Path) -> dict[str, float]:
    """The base's scores before any training, by task and general set: what every cell on one base shares."""
    data = json.loads((cell / "metrics.json").read_text())
    scores = dict(zip(data.get("tasks", []), data.get("zero_shot") or []))
    scores.update((data.get("general") or {}).get("zero-shot", {}))
    return scores


def base_mismatch(cells: list[Path]) -> str | None:
    """Why ``cells`` cannot share one table, or None. A base built again can be another model (the real
    track's alignment: ``data_prep/tinycl_real.py``), and a table that averaged cells of two bases would compare
    methods on different models. Cells of one base share their zero-shot scores (one score cache, one greedy
    evaluation)."""
    if not cells:
        return None
    first, ref = cells[0], zero_shot_scores(cells[0])
    for cell in cells[1:]:
        scores = zero_shot_scores(cell)
        moved = {k: (ref[k], v) for k, v in scores.items() if k in ref and abs(ref[k] - v) > SAME_BASE_POINTS}
        if moved:
            sets = ", ".join(f"{k} {a:.1f} vs {b:.1f}" for k, (a, b) in sorted(moved.items()))
            return (f"{cell} and {first} ran on different bases (zero-shot {sets}): keep each base's cells in "
                    "their own --results and --out folders")
    return None


def stored_row(cell: Path) -> dict | None:
    """The summary row kept beside an archived cell's ``metrics.json`` (None for a run folder)."""
    path = cell / ROW
    return json.loads(path.read_text()) if path.is_file() else None


def _diagnostics(cell: Path) -> dict:
    """Largest leak and the deepest/shallowest layer ratio of mean ‖ΔW‖ over the whole sequence."""
    path = cell / "diagnostics.json"
    if not path.is_file():
        return {}
    per_layer, relative, leaks = {}, {}, []
    for modules in json.loads(path.read_text()).values():
        for d in modules.values():
            per_layer.setdefault(d["layer"], []).append(d["norm"])
            relative.setdefault(d["layer"], []).append(d.get("relative"))
            if d.get("leak") is not None:                  # methods without a protected basis have none
                leaks.append(d["leak"])
    means = {k: statistics.fmean(v) for k, v in per_layer.items()}
    out = {"depth_ratio": means[max(means)] / means[min(means)] if means[min(means)] else None}
    # ‖ΔW‖/‖W‖ of one task's merged update, per layer (mean over tasks and modules): how far a task moves weights
    out.update({f"relative_l{k}": statistics.fmean(v) for k, v in sorted(relative.items()) if None not in v})
    if leaks:
        out["leak"] = max(leaks)
    return out


def basis_fill(cell: Path) -> dict:
    """Share of each adapted layer's input dimensions inside the protected basis (mean over modules, %)
    after the first task and after the last: how much room the sequence left for the next task."""
    from safetensors import safe_open
    files = sorted((cell / "bases").glob("task_*.safetensors"))
    out = {}
    for key, path in (("basis_first", files[0]), ("basis_last", files[-1])) if files else ():
        with safe_open(str(path), "pt") as f:
            shapes = [f.get_slice(name).get_shape() for name in f.keys()]
        out[key] = 100 * statistics.fmean(k / d_in for d_in, k in shapes)
    return out


def format_capture(cell: Path) -> float | None:
    """Share of general-suite answers, after each task, that are wrong and are answers of that task's own
    training set (mean over tasks, %): the latest task's format taking over prompts it was never trained on."""
    recipe = cell / "recipe.resolved.yaml"
    if not recipe.is_file():
        return None
    from keeplora.data import read_train_file
    shares = []
    for task in yaml.safe_load(recipe.read_text())["tasks"]:
        folder = cell / "predictions" / f"after_{task['name']}"
        if not folder.is_dir():
            continue
        answers = {a for s in read_train_file(ROOT / task["train"]) for _, a in s.turns}
        preds = [json.loads(line) for f in folder.glob("general_*.jsonl")
                 for line in f.read_text().splitlines() if line.strip()]
        if preds:
            shares.append(100 * sum(p["prediction"] in answers and p["prediction"] not in p["answers"]
                                    for p in preds) / len(preds))
    return statistics.fmean(shares) if shares else None


def cell_summary(cell: Path) -> dict:
    """The cell's row: from a run folder, or as kept beside an archived cell's ``metrics.json``."""
    if (row := stored_row(cell)) is not None:              # a cell kept in the results folder
        return row
    data = json.loads((cell / "metrics.json").read_text())
    row = {k: data["metrics"].get(k) for k in COLUMNS}
    row.update(_diagnostics(cell))
    row.update(basis_fill(cell))
    row["minutes"] = sum(sum(stages.values()) for stages in data.get("timings", {}).values()) / 60
    row["zero_shot_mean"] = statistics.fmean(data["zero_shot"]) if data.get("zero_shot") else None
    row["capture"] = format_capture(cell)
    return row
