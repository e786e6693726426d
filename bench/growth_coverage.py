"""How much of the post-task gradient's energy the grown basis really protects: exact growth against the sketch.

    python bench/growth_coverage.py [--widths 64 256 1024 4096 --ks 16 64 256 --energy 0.99 --seeds 3]

For each layer width d (d × d) and seed: a pretrained-like weight (σ_i ∝ i^-0.5) gives the principal
basis at ε_w = 0.6; a gradient G with a power-law spectrum (σ_i ∝ i^-0.75, random singular vectors) is the
finished task's statistic. The basis is grown at ε_f with the exact rule (``grow_basis`` on Gᵀ, what
``growth_estimate: exact`` runs) and with the streamed sketch of size k (``grow_basis_from_sketch``, G fed
token by token as the layer hooks do). Coverage = ‖Bᵀ Gᵀ‖² / ‖G‖², measured on the true G: the share of the
task's gradient energy the new basis protects (target ≥ ε_f − 0.01). "believed" is the sketch's own
estimate. Memory is the accumulator each needs per layer: the exact fp32 gradient sum (d_out × d_in), the
sketch's tensors (test matrices included). Mean over seeds; last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _power_law(d: int, decay: float, g: torch.Generator) -> torch.Tensor:
    u, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    v, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    s = torch.arange(1, d + 1, dtype=torch.float32).pow(-decay)
    return (u * s) @ v.T


def _coverage(basis: torch.Tensor, g_t: torch.Tensor) -> float:
    return float((basis.T @ g_t).square().sum() / g_t.square().sum())


def one(width: int, ks: list[int], energy: float, seed: int) -> dict:
    from keeplora.core import GradientSketch, grow_basis, grow_basis_from_sketch, principal_basis
    g = torch.Generator().manual_seed(seed)
    basis = principal_basis(_power_law(width, 0.5, g), 0.6)
    grad = _power_law(width, 0.75, g)                                    # (d_out, d_in)
    exact = grow_basis(basis, grad.T, energy)
    row = {"width": width, "principal": basis.shape[1], "exact_added": exact.shape[1] - basis.shape[1],
           "exact_coverage": _coverage(exact, grad.T), "exact_MB": 4 * width * width / 2 ** 20, "sketch": {}}
    for k in ks:
        if k > width:
            continue
        sk = GradientSketch(width, width, basis, k, seed)
        for start in range(0, width, 512):                              # tokens x = e_t, δ = G[:, t]
            stop = min(width, start + 512)
            sk.update(torch.eye(width)[start:stop], grad.T[start:stop])
        res = sk.result(1)
        grown = grow_basis_from_sketch(basis, res, energy)
        acc = (res.total_energy - res.residual_energy) / res.total_energy
        added = grown.shape[1] - basis.shape[1]
        believed = acc + float(res.sigma[:added].square().sum()) / res.total_energy
        mem = sum(t.numel() for t in (sk.omega, sk.psi_p, sk.y, sk.w)) * 4 / 2 ** 20
        row["sketch"][k] = {"added": added, "believed": believed, "coverage": _coverage(grown, grad.T), "MB": mem}
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1024, 4096])
    ap.add_argument("--ks", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--energy", type=float, default=0.99)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    table = []
    print("| width | principal cols | exact: added / coverage / MB | " +
          " | ".join(f"sketch k={k}: added / believed / coverage / MB" for k in args.ks) + " |")
    print("|---" * (3 + len(args.ks)) + "|")
    for width in args.widths:
        runs = [one(width, args.ks, args.energy, seed) for seed in range(args.seeds)]

        def mean(get, runs=runs):
            return statistics.mean(get(r) for r in runs)
        row = {"width": width, "principal": mean(lambda r: r["principal"]),
               "exact": {"added": mean(lambda r: r["exact_added"]), "coverage": mean(lambda r: r["exact_coverage"]),
                         "min_coverage": min(r["exact_coverage"] for r in runs), "MB": runs[0]["exact_MB"]},
               "sketch": {k: {key: mean(lambda r, k=k, key=key: r["sketch"][k][key])
                              for key in ("added", "believed", "coverage", "MB")}
                          for k in args.ks if k in runs[0]["sketch"]}}
        table.append(row)
        cells = [f"{row['sketch'][k]['added']:.0f} / {row['sketch'][k]['believed']:.3f} / "
                 f"{row['sketch'][k]['coverage']:.3f} / {row['sketch'][k]['MB']:.2f}" if k in row["sketch"] else "—"
                 for k in args.ks]
        e = row["exact"]
        print(f"| {width} | {row['principal']:.0f} | {e['added']:.0f} / {e['coverage']:.3f} / {e['MB']:.2f} | "
              + " | ".join(cells) + " |", flush=True)
    print(json.dumps({"energy": args.energy, "seeds": args.seeds, "rows": table}))


if __name__ == "__main__":
    main()
