"""A recipe's evaluation row (every task and general set) in fp32 and under bf16 autocast, side by side.

    python -m bench.eval_autocast --recipe recipes/real_image_seq.yaml [--sets fashion text_qa english]

The model as the recipe loads it (the base, before any task); each set is scored in fp32 — how the trainer
evaluates — and then under ``torch.autocast(bfloat16)``, as the training forward runs under DeepSpeed's
``torch_autocast``, one right after the other so both see the same machine load, with the recipe's batch
size, generation length and sample cap (each set read once, as the trainer reads it, before the
timing). Prints per set the seconds and the score of each and the share of
predictions that are the same text; totals and the ratio at the end, last line JSON. It answers whether
evaluating under autocast would change the instrument, and what it would save.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from keeplora.config import load_recipe
from keeplora.models import get_adapter
from keeplora.stage_eval import read_eval_sets, score_set


def _score(loaded, encoder, entry, samples, ev, autocast: bool) -> tuple[float, float, list[str]]:
    """(seconds, score, predictions) of one set, read beforehand (the timing is the model's work only)."""
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        result, preds = score_set(loaded.model, loaded.tokenizer, encoder, entry, samples, ev, torch.device("cpu"))
    return time.perf_counter() - start, result.value, [p["prediction"] for p in preds]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--sets", nargs="*", default=None, help="names of task / general sets (default: all)")
    args = ap.parse_args(argv)
    recipe = load_recipe(args.recipe)
    adapter = get_adapter(recipe.model.family)
    loaded = adapter.load(recipe.model, seed=recipe.seed)
    encoder = adapter.make_encoder(loaded, recipe)
    tests, general = read_eval_sets(recipe)
    entries = [(e, samples) for e, samples in zip([*recipe.tasks, *recipe.general], [*tests, *general])
               if not args.sets or e.name in args.sets]
    rows, totals = [], {"fp32": 0.0, "autocast": 0.0}
    for entry, samples in entries:
        t32, s32, p32 = _score(loaded, encoder, entry, samples, recipe.eval, False)
        t16, s16, p16 = _score(loaded, encoder, entry, samples, recipe.eval, True)
        same = sum(a == b for a, b in zip(p32, p16)) / len(p32) if p32 else None
        totals["fp32"] += t32
        totals["autocast"] += t16
        rows.append({"set": entry.name, "fp32_s": t32, "autocast_s": t16, "fp32": s32, "autocast": s16, "same": same})
        print(f"{entry.name:>12}: fp32 {t32:6.1f} s {s32:6.1f} | autocast {t16:6.1f} s {s16:6.1f} | same "
              + ("–" if same is None else f"{100 * same:.0f} %"), flush=True)
    totals["speedup"] = totals["fp32"] / totals["autocast"]
    print(f"total: fp32 {totals['fp32']:.1f} s, autocast {totals['autocast']:.1f} s: {totals['speedup']:.2f}× "
          f"({torch.get_num_threads()} threads)")
    print(json.dumps({"sets": rows, **totals, "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
