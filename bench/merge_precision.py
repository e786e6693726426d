"""What survives a sequence of merges in fp32 / fp16 / bf16: PEFT's in-dtype merge against the exact record.

    python bench/merge_precision.py [--width 4096 --rank 8 --tasks 8]

One (width × width) linear with weights of std 0.02; every task's update ``ΔW_t = U_t D_t`` (rank r) has its
rows off a protected input basis (width / 8 directions), scaled to ‖ΔW_t‖/‖W‖ = ratio. "peft" merges each task
with ``merge_and_unload`` into the weights' dtype (what a bf16 run did before the record); "record" keeps W0
plus the fp32 factors and rounds their sum once (``keeplora.core.MergeRecord``). After 1 and T merges:

* survives = ⟨W_T − W0, ΣΔW⟩ / ‖ΣΔW‖² — the share of the intended change the weights took (1 = all);
* distance = ‖W_T − (W0 + ΣΔW)‖ / ‖ΣΔW‖, and beyond = the share of elements further from the exact sum
  than one rounding of the dtype (plus 1e-6 of max |ΣΔW| for fp32 arithmetic): 0 = within one rounding;
* leak = ‖(W_T − W0)·B‖ / ‖W_T − W0‖ into the protected basis (0 for the exact sum);
* for the record itself: ‖record change − ΣΔW‖ / ‖ΣΔW‖ (target ≤ 1e-4) and its leak (target ≤ 1e-5).

Then the record's cost for LLaVA-1.5-7B's layout (32 layers of q/k/v/o 4096², gate/up 4096→11008,
down 11008→4096): host memory and disk for W0 in bf16, fp32 factors per task, and the merge time of its
largest linear with T tasks of rank 64 timed on this machine. Last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
LLAVA_7B = {"layers": 32, "hidden": 4096, "intermediate": 11008}


def _updates(width: int, rank: int, tasks: int, ratio: float, w_norm: float, seed: int = 0):
    from keeplora.core import orthonormal_columns, project_off
    g = torch.Generator().manual_seed(seed)
    basis = orthonormal_columns(torch.randn(width, width // 8, generator=g))
    steps = []
    for _ in range(tasks):
        down = project_off(torch.randn(rank, width, generator=g), basis)
        up = torch.randn(width, rank, generator=g)
        up *= ratio * w_norm / float((up @ down).norm())
        steps.append((up, down))
    return basis, steps


class _One(nn.Module):
    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.l = nn.Linear(weight.shape[1], weight.shape[0], bias=False, dtype=weight.dtype)
        self.l.weight.data.copy_(weight)


def _peft_merge(weight: torch.Tensor, up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
    """One task through PEFT: inject LoRA (α = r, so s = 1), set B = U and A = D, ``merge_and_unload``."""
    from peft import LoraConfig, get_peft_model
    rank = down.shape[0]
    model = get_peft_model(_One(weight), LoraConfig(r=rank, lora_alpha=rank, target_modules=["l"]))
    layer = model.base_model.model.l
    with torch.no_grad():
        layer.lora_A["default"].weight.copy_(down)
        layer.lora_B["default"].weight.copy_(up)
    return model.merge_and_unload().l.weight.detach()


def _measure(w: torch.Tensor, w0: torch.Tensor, exact: torch.Tensor, basis: torch.Tensor, dtype) -> dict:
    from keeplora.core import half_ulp, leak
    change = w.double() - w0.double()
    err = change - exact
    one_rounding = half_ulp(w0.double() + exact, dtype).double() * 1.001 + 1e-6 * float(exact.abs().max())
    return {"survives": round(float((change * exact).sum() / exact.square().sum()), 4),
            "distance": round(float(err.norm() / exact.norm()), 4),
            "beyond_one_rounding": round(float((err.abs() > one_rounding).double().mean()), 4),
            "leak": float(f"{leak(change.float(), basis):.3g}")}


def run(width: int, rank: int, tasks: int, ratio: float) -> list[dict]:
    from keeplora.core import MergeRecord, leak
    g = torch.Generator().manual_seed(1)
    w_fp32 = 0.02 * torch.randn(width, width, generator=g)
    basis, steps = _updates(width, rank, tasks, ratio, float(w_fp32.norm()))
    rows = []
    for dname, dtype in DTYPES.items():
        w0 = w_fp32.to(dtype)
        for design in ("peft", "record"):
            w, exact = w0.clone(), torch.zeros(width, width, dtype=torch.float64)
            layer = _One(w0).l
            record = MergeRecord.start({"l": layer})
            for t, (up, down) in enumerate(steps):
                exact += up.double() @ down.double()
                if design == "peft":
                    w = _peft_merge(w, up, down)
                else:
                    record.add({"l": (up, down)})
                    record.apply({"l": layer}, {"l": basis})
                    w = layer.weight.detach()
                if t + 1 in (1, tasks):
                    row = {"dtype": dname, "design": design, "ratio": ratio, "merges": t + 1,
                           **_measure(w, w0, exact, basis, dtype)}
                    if design == "record":                         # the record itself: targets (a) and (b)
                        delta = record.delta("l").double()
                        row["record_error"] = float(f"{float((delta - exact).norm() / exact.norm()):.3g}")
                        row["record_leak"] = float(f"{leak(delta.float(), basis):.3g}")
                    rows.append(row)
    return rows


def llava_7b_cost(tasks: int, rank: int) -> dict:
    """Host memory / disk of the record for LLaVA-1.5-7B, and the timed merge of its largest linear."""
    h, f, n = LLAVA_7B["hidden"], LLAVA_7B["intermediate"], LLAVA_7B["layers"]
    shapes = [(h, h)] * 4 + [(f, h), (f, h), (h, f)]                  # (d_out, d_in): q k v o gate up down
    params = n * sum(o * i for o, i in shapes)
    factors = n * sum(4 * rank * (o + i) for o, i in shapes)
    from keeplora.core import MergeRecord
    layer = nn.Linear(f, h, bias=False, dtype=torch.bfloat16)          # down_proj: 11008 -> 4096
    record = MergeRecord.start({"l": layer})
    for _ in range(tasks):
        record.add({"l": (1e-3 * torch.randn(h, rank), torch.randn(rank, f))})
    start = time.perf_counter()
    record.apply({"l": layer}, {"l": None})                            # the merge and its rounding check
    seconds = time.perf_counter() - start
    flops_layer = 2 * h * f * rank * tasks
    return {"model": "LLaVA-1.5-7B decoder linears", "adapted_params": params,
            "base_copy_GB_bf16": round(2 * params / 1e9, 2), "factors_GB_per_task": round(factors / 1e9, 3),
            "factors_GB_after_tasks": round(tasks * factors / 1e9, 2), "tasks": tasks, "rank": rank,
            "merge_flops_all_layers": n * sum(2 * o * i * rank * tasks for o, i in shapes),
            "down_proj_merge_s_here": round(seconds, 3), "down_proj_merge_flops": flops_layer}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--ratios", type=float, nargs="+", default=[1e-3, 1e-4])
    args = ap.parse_args()
    torch.manual_seed(0)
    rows = [r for ratio in args.ratios for r in run(args.width, args.rank, args.tasks, ratio)]
    print("| dtype | design | ‖ΔW‖/‖W‖ | merges | survives | distance | beyond one rounding | leak | record: error "
          "(a) / leak (b) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dtype']} | {r['design']} | {r['ratio']:g} | {r['merges']} | {r['survives']} | {r['distance']} | "
              f"{r['beyond_one_rounding']} | {r['leak']} | {r.get('record_error', '—')} / "
              f"{r.get('record_leak', '—')} |")
    cost = llava_7b_cost(args.tasks, 64)
    print(json.dumps({"width": args.width, "rank": args.rank, "rows": rows, "llava_7b_record": cost}))


if __name__ == "__main__":
    main()
