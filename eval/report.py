"""Report of one or more runs: ``report.md`` with the metrics and the general suite after every task side
by side, ``compare.png`` (every run's accuracy matrix and all general-suite curves in one figure), and an
accuracy-matrix heatmap and per-task curves for each run.

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

__all__ = ["write_report", "general_means"]

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


def _stages(data: dict) -> tuple[list[list[float]], list[str]]:
    """The accuracy matrix with its zero-shot row first, and each row's label."""
    rows = ([data["zero_shot"]] if data.get("zero_shot") else []) + data["matrix"]
    done = data["tasks"][:len(data["matrix"])]
    labels = (["zero-shot"] if data.get("zero_shot") else []) + [f"after {t}" for t in done]
    return rows, labels


def general_means(data: dict) -> list[tuple[int, float]]:
    """(stage index, general-suite mean) at every stage the run scored it."""
    general, (_, labels) = data.get("general", {}), _stages(data)
    return [(i, sum(general[lab].values()) / len(general[lab])) for i, lab in enumerate(labels) if general.get(lab)]


def _heatmap(ax, data: dict, title: str, row_labels: bool = True):
    rows, labels = _stages(data)
    im = ax.imshow(rows, vmin=0, vmax=100, cmap="viridis")
    ax.set_xticks(range(len(data["tasks"])), data["tasks"], rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), labels if row_labels else [])
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="w" if v < 60 else "k", fontsize=8)
    ax.set_title(title)
    return im


def _compare_plot(loaded: dict[str, dict], out: Path) -> str:
    """One figure for the comparison a user runs this for: each run's R[i][j], then the general suites."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n, width = len(loaded), max(len(d["tasks"]) for d in loaded.values())
    fig, axes = plt.subplots(1, n + 1, figsize=(n * (1.6 + 0.8 * width) + 5, 1.8 + 0.45 * (width + 1)))
    for k, (ax, (name, data)) in enumerate(zip(axes, loaded.items())):
        im = _heatmap(ax, data, f"{name}: R[i][j]", row_labels=k == 0)
    fig.colorbar(im, ax=list(axes[:n]), label="score (%)", shrink=0.8)
    ax = axes[n]
    curves = {name: general_means(data) for name, data in loaded.items()}
    for name, points in curves.items():
        if points:
            ax.plot(*zip(*points), marker="o", label=name)
    ax.set(xlabel="stage (0 = before the first task)", ylabel="general suite mean (%)", ylim=(0, 100),
           title="General suite after every task" if any(curves.values()) else "no general suite in these runs")
    if any(curves.values()):
        ax.legend(fontsize=7)
    fig.savefig(out / "compare.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "compare.png"


def _general_table(loaded: dict[str, dict]) -> list[str]:
    """The general-suite mean at every stage, one row per run (blank where a run has no general suite)."""
    rows = {name: general_means(d) for name, d in loaded.items()}
    stages = max((i for pts in rows.values() for i, _ in pts), default=-1) + 1
    if not stages:
        return []
    lines = ["", "General suite (mean %) at each stage — 0 is before the first task:", "",
             "| run | " + " | ".join(str(i) for i in range(stages)) + " |", "|---|" + "---|" * stages]
    for name, pts in rows.items():
        got = dict(pts)
        lines.append(f"| {name} | " + " | ".join(f"{got[i]:.1f}" if i in got else "-" for i in range(stages)) + " |")
    return lines


def _plots(name: str, data: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tasks = data["tasks"]
    rows, labels = _stages(data)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(tasks), 1 + 0.5 * len(rows)))
    im = _heatmap(ax, data, f"{name}: R[i][j]")
    fig.colorbar(im, ax=ax, label="score (%)")
    fig.tight_layout()
    heat = f"{name}_matrix.png"
    fig.savefig(out / heat, dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for j, task in enumerate(tasks):
        ax.plot(range(len(rows)), [r[j] for r in rows], marker="o", label=task)
    points = general_means(data)
    if points:                                    # the held-out general suite, at the same stages
        ax.plot(*zip(*points), "k--", marker="s", label="general suite (mean)")
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
    lines += _general_table(loaded)
    lines += ["", f"![comparison]({_compare_plot(loaded, out)})"]
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
