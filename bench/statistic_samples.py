"""How many samples a task's statistics need: what a capped subset gives against the full ``grad_ratio`` subset.

    python -m bench.statistic_samples --recipe recipes/real_image_seq.yaml [--task 0] [--caps 48 96]

On the recipe's base model and one task's training file, one backward pass over the evenly spaced
``grad_ratio`` subset (what the recipe's task start and growth read) feeds, at every adapted linear of five
depths, the mean gradient and the input covariance — summed separately over the first ``cap`` samples, an
evenly spaced sub-subset taken first, and over the rest. Compared with the full subset's:

* ``A overlap`` — the task-start LoRA ``A`` (top-r rows of the gradient projected off the ε_w principal
  basis): ‖A_cap A_fullᵀ‖²_F / r, 1 when both span the same directions;
* ``feature coverage`` — the share of the full subset's residual input energy (off the principal basis)
  inside the directions the capped covariance adds at ε_f, beside the same share for the full basis's.

A cap whose overlap and coverage stay near the full subset's loses little of what the method protects, at
``cap / subset`` of the passes' time. Mean over the linears of each depth; last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from keeplora.config import load_recipe
from keeplora.core import grow_basis_from_covariance, principal_basis, residual_init
from keeplora.data import read_train_file
from keeplora.models import get_adapter
from keeplora.statistics import Accumulator, accumulate, subset_indices

__all__ = ["main", "SplitStatistics"]


class SplitStatistics(Accumulator):
    """Σ δ xᵀ and Σ x xᵀ per layer, summed apart over the first ``first`` batches and the rest."""
    backward = True

    def __init__(self, first: int):
        self.first, self.batch = first, 0

    def start(self, layers):
        self.grad = {n: [torch.zeros(l.weight.shape), torch.zeros(l.weight.shape)] for n, l in layers.items()}
        self.cov = {n: [torch.zeros(l.in_features, l.in_features) for _ in range(2)] for n, l in layers.items()}

    def add(self, name, x, delta, mask):
        part = 0 if self.batch < self.first else 1
        if mask is not None and tuple(x.shape[:2]) == tuple(mask.shape):
            x, delta = x[mask.bool()], delta[mask.bool()]        # padding tokens are not task inputs
        tokens, grads = x.reshape(-1, x.shape[-1]), delta.reshape(-1, delta.shape[-1])
        self.grad[name][part].addmm_(grads.float().T, tokens.float())
        self.cov[name][part].addmm_(tokens.float().T, tokens.float())

    def results(self, batches):
        return {"grad": self.grad, "cov": self.cov}


def _overlap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a @ b.T).square().sum() / a.shape[0])


def _coverage(basis: torch.Tensor, new_from: int, cov: torch.Tensor, principal: torch.Tensor) -> float:
    """Share of ``cov``'s energy off ``principal`` that the directions added after it hold."""
    p = torch.eye(cov.shape[0]) - principal @ principal.T
    residual = p @ cov @ p
    added = basis[:, new_from:]
    return float(torch.trace(added.T @ residual @ added) / torch.trace(residual).clamp_min(1e-30))


def compare(layer: torch.nn.Linear, grad: list, cov: list, n_first: int, n_all: int, recipe) -> dict:
    sub = recipe.subspace
    principal = principal_basis(layer.weight.detach().float(), sub.weight_energy)
    k = principal.shape[1]
    a_cap = residual_init(grad[0] / n_first, principal, recipe.lora.r)
    a_full = residual_init((grad[0] + grad[1]) / n_all, principal, recipe.lora.r)
    full_cov = cov[0] + cov[1]
    cap_basis = grow_basis_from_covariance(principal, cov[0], sub.feature_energy)
    full_basis = grow_basis_from_covariance(principal, full_cov, sub.feature_energy)
    return {"overlap": _overlap(a_cap, a_full), "coverage_cap": _coverage(cap_basis, k, full_cov, principal),
            "coverage_full": _coverage(full_basis, k, full_cov, principal),
            "added_cap": cap_basis.shape[1] - k, "added_full": full_basis.shape[1] - k}


def _batches(encoder, samples: list, size: int):
    for start in range(0, len(samples), size):
        batch = encoder.collate_train([encoder.encode(s) for s in samples[start:start + size]])
        if batch is not None:
            yield batch


def run(recipe_path: str, task: int, cap: int) -> dict:
    recipe = load_recipe(recipe_path)
    adapter = get_adapter(recipe.model.family)
    loaded = adapter.load(recipe.model)
    targets = adapter.lora_targets(loaded.model)
    depth = max(targets.values()) + 1
    depths = sorted({0, depth // 4, depth // 2, 3 * depth // 4, depth - 1})
    layers = {n: loaded.model.get_submodule(n) for n, i in targets.items() if i in depths}
    samples = read_train_file(recipe.tasks[task].train, recipe.tasks[task].media_root, recipe.tasks[task].name)
    subset = [samples[i] for i in subset_indices(len(samples), recipe.subspace.grad_ratio)]
    size = recipe.subspace.grad_batch_size
    first = subset_indices(len(subset), 1.0, cap)                          # evenly spaced within the subset
    taken = set(first)
    ordered = [subset[i] for i in first] + [s for i, s in enumerate(subset) if i not in taken]
    acc = SplitStatistics(first=-(-len(first) // size))
    encoder = adapter.make_encoder(loaded, recipe)

    start = time.perf_counter()
    batches = list(_batches(encoder, ordered, size))

    def counted():                                         # the batch index moves on once a batch's backward ran
        for b in batches:
            yield b
            acc.batch += 1
    stats = accumulate(loaded.model, layers, counted(), lambda model, batch: model(**batch).loss, acc)
    seconds = time.perf_counter() - start
    n_first, n_all = acc.first, len(batches)
    rows = {}
    for depth_i in depths:
        per = [compare(layers[n], stats["grad"][n], stats["cov"][n], n_first, n_all, recipe)
               for n in layers if targets[n] == depth_i]
        rows[depth_i] = {k: statistics.fmean(p[k] for p in per) for k in per[0]}
    return {"task": recipe.tasks[task].name, "subset": len(subset), "cap": len(first), "seconds_full": seconds,
            "layers": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--task", type=int, default=0, help="index of the task in the recipe")
    ap.add_argument("--caps", type=int, nargs="+", default=[96])
    args = ap.parse_args(argv)
    results = [run(args.recipe, args.task, cap) for cap in args.caps]
    for res in results:
        print(f"task {res['task']}: cap {res['cap']} of the {res['subset']}-sample subset "
              f"(pass over the subset: {res['seconds_full']:.0f} s)")
        print("| depth | A overlap | feature coverage cap / full | directions added cap / full |")
        print("|---|---|---|---|")
        for d, r in res["layers"].items():
            print(f"| {d} | {r['overlap']:.3f} | {r['coverage_cap']:.3f} / {r['coverage_full']:.3f} | "
                  f"{r['added_cap']:.0f} / {r['added_full']:.0f} |")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
