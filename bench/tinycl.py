"""TinyCL-VL grid: methods × seeds × task orders on one recipe, aggregated into BENCHMARKS.md's table.

    python -m bench.tinycl --methods seq_lora keeplora keeplora_pp --seeds 3 --orders 2 [--jobs 2] [--write-benchmarks]

Each cell is an ordinary run of the recipe (``launch/train.sh``, one CPU rank) in
``OUT/<method>/order<o>_seed<s>``; a finished cell is reused, an interrupted one resumes, so the grid
can be stopped and restarted; the cells evaluate the base once between them (``OUT/.score_cache``: a
zero-shot score is reused where the model, test set and evaluation settings are the same). ``--results DIR``
keeps every finished cell's metrics in the repository (``bench/cell_results.py``), so a grid longer than one
sitting grows cell by cell and ``--report-only --results DIR`` rebuilds its table from a fresh clone. Order 1 is the
recipe's order, order 2 the reverse; ``--dev`` runs order 3 only (``order_tasks``), where defaults are
chosen before the reported grid runs. Reported per method,
mean ± std over seeds × orders: Transfer, Average, Last, MFT, BWT (points) and the general-suite change
(after the last task minus before the first), plus mechanism diagnostics from ``diagnostics.json``:
the largest leak ‖ΔW·B‖/‖ΔW‖ into the protected basis and the deepest/shallowest ratio of mean ‖ΔW‖ (with
‖ΔW‖/‖W‖ by layer), and the format capture: the share of general-suite answers that are wrong and are answers
of the task just learned.
The verdict lines apply benchmarks.md §6.5.6: validity (zero-shot far below joint, sequential LoRA
forgets) before any claim, and an effect counts only beyond 2 std at matched plasticity (MFT within 3).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from bench.cell_results import COLUMNS, archive, archived, base_mismatch, cell_summary
from eval.report import general_means, write_report

ROOT = Path(__file__).resolve().parents[1]


REFERENCE = "reference@"
"""A variant's override ``reference@<energy>``: the recipe's own reference set at that energy."""


def _reference_override(recipe: Path, energy: float, samples: int) -> str:
    """``subspace.reference`` from the recipe's general suite: the training split (``train.json``) beside each
    general test set that has one — TinyCL-VL's six skills on the tiny recipes, the four image skills on the
    real-weights track (its text questions and English prose have no training split, so they stay held out)."""
    general = yaml.safe_load(recipe.read_text()).get("general") or []
    files = [str(Path(g["test"]).parent / "train.json") for g in general
             if (ROOT / Path(g["test"]).parent / "train.json").is_file()]
    if not files:
        raise SystemExit(f"error: {recipe}: no general set has a train.json beside its test file to build "
                         "the reference set from; pick a method without a reference set")
    return f"subspace.reference={{train: [{', '.join(files)}], samples: {samples}, energy: {energy}}}"


# the published methods run as published (no reference set, the post-task gradient grows the basis),
# whatever the recipe's defaults; the ablations change one switch of the recipe as it is
NO_REFERENCE, PAPER_GROWTH = "subspace.reference=null", "subspace.growth=grad"
# method name -> recipe overrides
VARIANTS = {
    "seq_lora": ["method.name=seq_lora", NO_REFERENCE],
    "keeplora": ["method.name=keeplora", NO_REFERENCE, PAPER_GROWTH],
    "keeplora_pp": ["method.name=keeplora_pp", NO_REFERENCE, PAPER_GROWTH],
    "keeplora_pp_train_a": ["method.name=keeplora_pp", "lora.train_a=true", NO_REFERENCE, PAPER_GROWTH],
    # the recipe as it ships (the tiny recipes: KeepLoRA++ with feature growth, chosen on tiny_video_seq; the
    # real-weights track adds the base's general mixture as a reference set, chosen on its development order)
    "default": [],
    "no_reference": ["method.name=keeplora_pp", NO_REFERENCE],
    "olora": ["method.name=olora", NO_REFERENCE],
    "inflora": ["method.name=inflora", NO_REFERENCE],
    "joint": ["method.name=joint", NO_REFERENCE],
    "no_principal": ["method.name=keeplora_pp", "subspace.principal=false"],
    "no_task_basis": ["method.name=keeplora_pp", "subspace.grow=false"],
    "scale_uniform": ["method.name=keeplora_pp", "layer_scale.schedule=uniform"],
    "scale_exp": ["method.name=keeplora_pp", "layer_scale.schedule=exp"],
    "ew_0.8": ["method.name=keeplora_pp", "subspace.weight_energy=0.8"],
    "ew_0.95": ["method.name=keeplora_pp", "subspace.weight_energy=0.95"],
    "ef_0.9": ["method.name=keeplora_pp", "subspace.feature_energy=0.9"],
    "ef_0.99": ["method.name=keeplora_pp", "subspace.feature_energy=0.99"],
    # growth statistic × gradient path (the published default: grad growth read exactly, sketched task start)
    "grow_grad_sketch": ["method.name=keeplora_pp", PAPER_GROWTH, "subspace.growth_estimate=sketch"],
    "grow_features": ["method.name=keeplora_pp", "subspace.growth=features"],
    "exact_grad": ["method.name=keeplora_pp", PAPER_GROWTH, "subspace.gradient=exact"],
    "exact_features": ["method.name=keeplora_pp", "subspace.gradient=exact", "subspace.growth=features"],
    # the base's general mixture (--reference-samples, evenly spaced over the general sets' training splits)
    # protected from step 0
    "keeplora_pp_ref": ["method.name=keeplora_pp", REFERENCE + "0.99"],
    "ref_0.9": ["method.name=keeplora_pp", REFERENCE + "0.9"],
    "ref_features": ["method.name=keeplora_pp", REFERENCE + "0.99", "subspace.growth=features"],
    "frozen_projector": ["method.name=keeplora_pp", "optim.projector_lr=null"],
}
MARK_START, MARK_END = "<!-- tinycl:start -->", "<!-- tinycl:end -->"
SCORE_CACHE = ".score_cache"         # the grid's cells share their zero-shot scores (eval/score_cache.py)


def order_tasks(tasks: list, order: int) -> list:
    """Order 1: the recipe's; 2: reversed; 3, the development order (``--dev``): every other task, then the
    rest (a, c, e, b, d) — neither of the reported two, so a default chosen on it is not fitted to them."""
    if order == 3:
        return tasks[::2] + tasks[1::2]
    return list(reversed(tasks)) if order == 2 else list(tasks)


def _ordered_recipe(recipe: Path, order: int, out: Path) -> Path:
    """The recipe itself for order 1; a copy with its tasks in ``order`` otherwise."""
    if order == 1:
        return recipe
    data = yaml.safe_load(recipe.read_text())
    data["tasks"] = order_tasks(data["tasks"], order)
    path = out / f"{recipe.stem}.order{order}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _finished(cell: Path, n_tasks: int) -> bool:
    manifest = cell / "run_manifest.json"
    return manifest.is_file() and len(json.loads(manifest.read_text())["tasks_done"]) == n_tasks


def _overrides(recipe: Path, method: str, reference_samples: int) -> list[str]:
    return [_reference_override(recipe, float(o[len(REFERENCE):]), reference_samples) if o.startswith(REFERENCE)
            else o for o in VARIANTS[method]]


def run_cell(recipe: Path, method: str, order: int, seed: int, out: Path, extra: list[str], jobs: int = 1,
             reference_samples: int = 1200, results: Path | None = None) -> Path:
    """Run one cell unless it finished (in ``out`` or in the ``results`` folder); with ``jobs`` > 1 its output
    goes to ``<cell>/train.log`` and it gets ``cpus / jobs`` threads, so parallel cells do not oversubscribe."""
    cell = out / method / f"order{order}_seed{seed}"
    path = _ordered_recipe(recipe, order, out)
    n_tasks = len(yaml.safe_load(path.read_text())["tasks"])
    if _finished(cell, n_tasks):
        return cell
    if kept := archived(results, cell):
        return kept
    cmd = ["bash", str(ROOT / "launch/train.sh"), str(path), f"output_dir={cell}", f"seed={seed}",
           f"eval.score_cache={out / SCORE_CACHE}", *_overrides(path, method, reference_samples), *extra]
    print("$ " + " ".join(cmd), flush=True)
    env = {**os.environ, "PYTHON": sys.executable}
    if jobs == 1:
        subprocess.run(cmd, check=True, cwd=ROOT, env=env)
        return cell
    env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    cell.mkdir(parents=True, exist_ok=True)
    with (cell / "train.log").open("a") as log:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"error: cell {cell} failed (exit {done.returncode}); its output: {cell / 'train.log'}")
    return cell


def _plan(methods: list[str], seeds: int, orders: list[int]) -> list[tuple[str, int, int]]:
    """(method, order, seed) for every cell, seed by seed."""
    return [(m, o, s) for s in range(seeds) for o in orders for m in methods]


def run_grid(recipe: Path, methods: list[str], seeds: int, orders: list[int], out: Path, extra: list[str],
             jobs: int, reference_samples: int = 1200, results: Path | None = None) -> dict[str, list[Path]]:
    """Every cell, ``jobs`` at a time, seed by seed (a grid stopped early has every method at the same seeds);
    a failed cell stops the grid after the running ones end."""
    plan = _plan(methods, seeds, orders)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda c: run_cell(recipe, *c, out, extra, jobs, reference_samples, results), plan))
    return {m: [cell for (pm, _, _), cell in zip(plan, done) if pm == m] for m in methods}


def finished_cells(recipe: Path, methods: list[str], seeds: int, orders: list[int], out: Path,
                   results: Path | None = None) -> dict[str, list[Path]]:
    """The grid's cells that finished, in ``out`` or else in ``results``, running nothing (``--report-only``):
    a method whose cells are still missing is reported over those it has (the table's ``cells`` column)."""
    n_tasks = len(yaml.safe_load(recipe.read_text())["tasks"])
    plan = _plan(methods, seeds, orders)
    cells = {m: [out / m / f"order{o}_seed{s}" for pm, o, s in plan if pm == m] for m in methods}
    found = {m: [c if _finished(c, n_tasks) else archived(results, c) for c in cs] for m, cs in cells.items()}
    return {m: kept for m, cs in found.items() if (kept := [c for c in cs if c is not None])}


def aggregate(cells: list[dict]) -> dict:
    """mean and std (population over seeds × orders; 0 for one cell) of every numeric field."""
    out = {}
    for key in cells[0]:
        values = [c[key] for c in cells if c.get(key) is not None]
        if values:
            out[key] = (statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0)
    out["cells"] = (len(cells), 0.0)
    return out


def _fmt(pair: tuple[float, float] | None, digits: int = 1) -> str:
    return "–" if pair is None else f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def table(summary: dict[str, dict]) -> str:
    head = ("| method | cells | Transfer | Average | Last | MFT | BWT | general Δ | max leak | ‖ΔW‖ deep/shallow "
            "| basis % after task 1 → last | capture % | min / run |\n|" + "---|" * 13 + "\n")
    rows = []
    zero = next((agg["zero_shot_mean"] for agg in summary.values() if "zero_shot_mean" in agg), None)
    if zero:                                       # the base before any task: every run's zero-shot row
        rows.append(f"| zero-shot (base) | – | – | {_fmt(zero)} | {_fmt(zero)} | – | – | 0 | – | – | – | – | – |")
    for method, agg in summary.items():
        cells = [str(int(agg["cells"][0]))] + [_fmt(agg.get(k)) for k in COLUMNS]
        leak = agg.get("leak")
        fill = (f"{_fmt(agg['basis_first'], 0)} → {_fmt(agg['basis_last'], 0)}" if "basis_first" in agg else "–")
        cells += [f"{leak[0]:.1e}" if leak else "–", _fmt(agg.get("depth_ratio"), 2), fill, _fmt(agg.get("capture")),
                  _fmt(agg.get("minutes"))]
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def relative_table(summary: dict[str, dict]) -> str:
    """Mean ‖ΔW‖/‖W‖ of one task's update at each decoder layer, shallowest first."""
    layers = sorted({int(k[len("relative_l"):]) for agg in summary.values() for k in agg if k.startswith("relative_l")})
    if not layers:
        return ""
    rows = [f"| {m} | " + " | ".join(_fmt(agg.get(f"relative_l{i}"), 3) for i in layers) + " |"
            for m, agg in summary.items()]
    return ("\nPer task, ‖ΔW‖/‖W‖ of the merged update by layer (mean over tasks, modules and cells):\n\n"
            "| method | " + " | ".join(f"layer {i}" for i in layers) + " |\n|---|" + "---|" * len(layers) + "\n"
            + "\n".join(rows) + "\n")


def general_table(summary_cells: dict[str, list[Path]], recipe: Path) -> str:
    """The general suite set by set, before the first task → after the last (mean over cells): which of the
    model's abilities a method keeps, and the change of the sets scored by their answers alone. A likelihood
    set (English prose) is shown as perplexity, where its 100·exp(−NLL) score would move by a fraction of a
    point and, averaged in, only shrink the headline general Δ."""
    from eval.likelihood import SCORER
    likelihood = {g["name"] for g in yaml.safe_load(recipe.read_text()).get("general") or []
                  if g.get("scorer") == SCORER}
    names, rows = [], []
    for method, cells in summary_cells.items():
        generals = [json.loads((c / "metrics.json").read_text()).get("general") or {} for c in cells]
        ends = [(g["zero-shot"], list(g.values())[-1]) for g in generals if "zero-shot" in g and len(g) > 1]
        if not ends:
            continue
        names = names or list(ends[0][0])
        answered = [statistics.fmean(b[n] - a[n] for n in names if n not in likelihood) for a, b in ends]
        cols = [_fmt((statistics.fmean(answered), statistics.pstdev(answered)))]
        for name in names:
            before, after = (statistics.fmean(e[i][name] for e in ends) for i in (0, 1))
            cols.append(f"{100 / before:.1f} → {100 / after:.1f}" if name in likelihood else
                        f"{before:.0f} → {after:.0f}")
        rows.append(f"| {method} | {len(ends)} | " + " | ".join(cols) + " |")
    if not rows:
        return ""
    heads = [f"{n} (perplexity)" if n in likelihood else n for n in names]
    return ("\nThe general suite by set, before the first task → after the last (mean over cells); Δ answered = "
            "the change of the sets scored by their answers (the likelihood set apart):\n\n"
            "| method | cells | Δ answered | " + " | ".join(heads) + " |\n|" + "---|" * (len(names) + 3) + "\n"
            + "\n".join(rows) + "\n")


def verdicts(summary: dict[str, dict]) -> list[str]:
    """benchmarks.md §6.5.6, stated from the numbers (no claim survives a failed validity check)."""
    out = []
    seq, pp, kl, joint = (summary.get(k) for k in ("seq_lora", "keeplora_pp", "keeplora", "joint"))
    zero = next(iter(summary.values())).get("zero_shot_mean")
    if joint and zero:
        out.append(f"validity: zero-shot mean {zero[0]:.1f} vs joint Last {joint['last'][0]:.1f} "
                   f"({'far below' if joint['last'][0] - zero[0] >= 20 else 'NOT far below'}: 20-point rule)")
    if seq:
        forgets = seq["bwt"][0] <= -10 and (seq.get("general_change", (0, 0))[0] < 0)
        out.append(f"validity: SeqLoRA BWT {seq['bwt'][0]:.1f}, general Δ {_fmt(seq.get('general_change'))} "
                   f"({'forgets' if forgets else 'does NOT forget enough: BWT must be ≤ −10 and general Δ < 0'})")
    if pp and kl:
        out.append(_compare("KeepLoRA++", pp, "KeepLoRA", kl))
    # every protected variant against the baseline, by the same rule (keeplora_pp first: the published method)
    for method in sorted(summary, key=lambda m: m != "keeplora_pp"):
        if seq and method not in ("seq_lora", "joint"):
            out.append(_compare("KeepLoRA++" if method == "keeplora_pp" else method, summary[method], "SeqLoRA", seq))
    return out


def _compare(a_name: str, a: dict, b_name: str, b: dict) -> str:
    """A gap counts beyond 2 std of the noisier side; a side of one cell has no spread, so no test is made."""
    mft_gap = a["mft"][0] - b["mft"][0]
    matched = abs(mft_gap) <= 3
    single = min(a.get("cells", (2,))[0], b.get("cells", (2,))[0]) < 2
    parts = []
    for key, label in (("bwt", "BWT"), ("general_change", "general Δ")):
        if key in a and key in b:
            gap, noise = a[key][0] - b[key][0], 2 * max(a[key][1], b[key][1])
            test = ("one cell: no 2-std test" if single else
                    f"{'beyond' if abs(gap) > noise else 'within'} 2 std = {noise:.1f}")
            parts.append(f"{label} {gap:+.1f} ({test})")
    plasticity = ("matched: within 3" if matched else
                  f"NOT matched: more than 3 apart, {a_name if mft_gap > 0 else b_name} learns more")
    return f"{a_name} vs {b_name}: " + ", ".join(parts) + f"; MFT gap {mft_gap:+.1f} ({plasticity})"


def plot(summary_cells: dict[str, list[Path]], out: Path) -> list[Path]:
    """General-suite mean after each stage, and BWT against MFT per cell."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for method, cells in summary_cells.items():
        curves, points = [], []
        for cell in cells:
            data = json.loads((cell / "metrics.json").read_text())
            if data.get("general"):
                curves.append([mean for _, mean in general_means(data)])
            points.append((data["metrics"]["mft"], data["metrics"]["bwt"]))
        if curves:
            ax1.plot([statistics.fmean(c) for c in zip(*curves)], marker="o", label=method)
        ax2.scatter(*zip(*points), label=method)
    ax1.set(xlabel="stage (0 = before the first task)", ylabel="general suite mean (%)", title="Retention")
    ax2.set(xlabel="MFT (plasticity)", ylabel="BWT (backward transfer)", title="Forgetting vs plasticity")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path = out / "tinycl.png"
    fig.savefig(path, dpi=120)
    return [path]


def write_benchmarks(text: str, path: Path = ROOT / "BENCHMARKS.md") -> None:
    """Replace the TinyCL-VL section between its markers (appended the first time)."""
    doc = path.read_text()
    block = f"{MARK_START}\n{text}{MARK_END}"
    if MARK_START in doc:
        doc = doc[:doc.index(MARK_START)] + block + doc[doc.index(MARK_END) + len(MARK_END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/tiny_image_seq.yaml")
    ap.add_argument("--methods", nargs="+", default=["seq_lora", "keeplora", "keeplora_pp", "joint"],
                    choices=sorted(VARIANTS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--orders", type=int, default=2, choices=[1, 2])
    ap.add_argument("--dev", action="store_true",
                    help="run and report the development order (3) only: where defaults are chosen, before the grid")
    ap.add_argument("--out", default="runs/tinycl")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra recipe overrides for every cell")
    ap.add_argument("--jobs", type=int, default=1, help="cells run at once (each gets cpus / jobs threads)")
    ap.add_argument("--reference-samples", type=int, default=1200,
                    help="samples of the reference set for the methods that use one (evenly spaced over its files)")
    ap.add_argument("--report-only", action="store_true", help="aggregate the finished cells, run none")
    ap.add_argument("--results", default=None, help="a folder that keeps every finished cell's metrics and row "
                    "(bench/cell_results.py); cells found there are not run again")
    ap.add_argument("--write-benchmarks", action="store_true", help="put the table into BENCHMARKS.md")
    args = ap.parse_args(argv)
    recipe, out, start = ROOT / args.recipe, ROOT / args.out, time.perf_counter()
    if args.dev and args.write_benchmarks:
        raise SystemExit("error: --dev reports the development order, not the grid; drop --write-benchmarks")
    orders = [3] if args.dev else list(range(1, args.orders + 1))
    results = ROOT / args.results if args.results else None
    cells = (finished_cells(recipe, args.methods, args.seeds, orders, out, results) if args.report_only else
             run_grid(recipe, args.methods, args.seeds, orders, out, args.set, args.jobs, args.reference_samples,
                      results))
    if mismatch := base_mismatch([c for cs in cells.values() for c in cs]):
        raise SystemExit(f"error: {mismatch}")
    rows = {m: [cell_summary(c) for c in cs] for m, cs in cells.items()}
    for method, method_cells in cells.items() if results else ():   # keep the cells this run folder finished
        for cell, row in zip(method_cells, rows[method]):
            if cell.is_relative_to(out):
                archive(results, cell, row)
    summary = {m: aggregate(rs) for m, rs in rows.items()}
    out.mkdir(parents=True, exist_ok=True)             # a report from kept cells alone has no run folder yet
    wall = time.perf_counter() - start
    command = "python -m bench.tinycl " + " ".join(argv if argv is not None else sys.argv[1:])
    plots = plot(cells, out)
    # the first cell of every method side by side: matrices and general suite after every task, one figure
    report = write_report([cs[0] for cs in cells.values()], out / "report")
    text = (f"### TinyCL-VL: `{args.recipe}`\n\n`{command}` — {time.strftime('%Y-%m-%d')}, "
            f"{platform.machine()}, {os.cpu_count()} cores, wall {wall / 60:.1f} min for this call "
            f"(cells already finished are reused). Mean ± std over {args.seeds} seed(s) × "
            f"{'the development order' if args.dev else f'{args.orders} order(s)'}.\n\n"
            + table(summary) + "\n" + "".join(f"- {v}\n" for v in verdicts(summary)) + general_table(cells, recipe)
            + relative_table(summary)
            + f"\nPlots: `{os.path.relpath(plots[0], ROOT)}`, `{os.path.relpath(report.parent / 'compare.png', ROOT)}` "
            f"(not committed; rerun the command).\n\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "table.md").write_text(text)
    print(text)
    print(report.read_text().split("\n## ")[0].replace("](compare.png)", f"]({report.parent / 'compare.png'})"))
    if args.write_benchmarks:
        write_benchmarks(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
