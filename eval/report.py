"""Report of one or more runs: ``report.md`` with the metrics side by side, an accuracy-matrix heatmap and
per-task curves for each run.

    python -m eval.report runs/tiny_seq_lora runs/smoke_image_seq --out runs/report

Reads each run's ``metrics.json``; metrics are recomputed from the matrix (``keeplora.metrics``), so a
report never trusts a number it cannot derive.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from keeplora.metrics import general_change, run_metrics

__all__ = ["write_report"]

_ORDER = ("transfer", "average", "last", "mft", "mfn", "maa", "bwt", "forgetting", "fwt", "general_change")


def _load(run: Path) -> dict:
    path = run / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run} an output_dir of a finished (or started) run?")
    data = json.loads(path.read_text())
    data["metrics"] = run_metrics(data["matrix"], data.get("zero_shot"))
    if data.get("general"):
        data["metrics"]["general_change"] = general_change(data["general"])
    return data


def _plots(name: str, data: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tasks, matrix = data["tasks"], data["matrix"]
    rows = ([data["zero_shot"]] if data.get("zero_shot") else []) + matrix
    labels = (["zero-shot"] if data.get("zero_shot") else []) + [f"after {t}" for t in tasks[:len(matrix)]]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(tasks), 1 + 0.5 * len(rows)))
    im = ax.imshow(rows, vmin=0, vmax=100, cmap="viridis")
    ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), labels)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="w" if v < 60 else "k", fontsize=8)
    fig.colorbar(im, ax=ax, label="score (%)")
    ax.set_title(f"{name}: R[i][j]")
    fig.tight_layout()
    heat = f"{name}_matrix.png"
    fig.savefig(out / heat, dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for j, task in enumerate(tasks):
        ax.plot(range(len(rows)), [r[j] for r in rows], marker="o", label=task)
    general = data.get("general", {})
    if general:                                   # the held-out general suite, at the same stages
        xs = [i for i, label in enumerate(labels) if label in general]
        ax.plot(xs, [sum(general[labels[i]].values()) / len(general[labels[i]]) for i in xs], "k--", marker="s",
                label="general suite (mean)")
    ax.set_xticks(range(len(rows)), labels, rotation=45, ha="right")
    ax.set_ylabel("score (%)")
    ax.legend(fontsize=7)
    ax.set_title(f"{name}: each task over the sequence")
    fig.tight_layout()
    curves = f"{name}_curves.png"
    fig.savefig(out / curves, dpi=120)
    plt.close(fig)
    return [heat, curves]


def _labels(runs: list[Path]) -> dict[Path, str]:
    """Each run by the shortest tail of its path that tells it apart (``runs/A/seq`` and ``runs/B/seq`` are
    ``A/seq`` and ``B/seq``, never one row); a run given twice is an error, not a silent merge."""
    resolved = [run.resolve() for run in runs]
    if len(set(resolved)) != len(resolved):
        raise SystemExit("error: a run is given twice: " + " ".join(map(str, runs)))
    for depth in range(1, max(len(r.parts) for r in resolved) + 1):
        tails = ["/".join(r.parts[-depth:]) for r in resolved]
        if len(set(tails)) == len(tails):
            return dict(zip(runs, tails))
    return {run: str(r) for run, r in zip(runs, resolved)}


def write_report(runs: list[Path], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    labels = _labels(runs)
    loaded = {labels[run]: _load(run) for run in runs}
    lines = ["# Continual-learning report", "", "| run | tasks done | " + " | ".join(_ORDER) + " |",
             "|---|---|" + "---|" * len(_ORDER)]
    for name, data in loaded.items():
        m = data["metrics"]
        cells = ["-" if m.get(k) is None else f"{m[k]:.2f}" for k in _ORDER]
        lines.append(f"| {name} | {len(data['matrix'])}/{len(data['tasks'])} | " + " | ".join(cells) + " |")
    for i, (name, data) in enumerate(loaded.items()):
        lines += ["", f"## {name}", ""]
        lines += [f"* **{task}**: {note}" for task, note in data.get("notes", {}).items()]
        lines += [f"![{p}]({p})" for p in _plots(f"{i + 1:02d}_{Path(name).name}", data, out)]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Side-by-side CL report of one or more runs")
    ap.add_argument("runs", nargs="+", type=Path, help="output_dir of each run")
    ap.add_argument("--out", type=Path, default=Path("runs/report"))
    args = ap.parse_args(argv)
    try:
        print(write_report(args.runs, args.out))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
