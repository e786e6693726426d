"""Which inputs a task's merged update moves: its response on the general suite's prompts, layer by layer.

    python -m bench.update_response --recipe recipes/real_image_seq.yaml --base data/tinycl/real_base \\
        --after runs/X/task_01_fashion [runs/Y/task_01_fashion ...] [--samples 16]

For every adapted linear ``W`` and its update ``ΔW`` (the checkpoint's weight minus the base's), on the
input tokens ``x`` of general-suite prompts (never trained on): ``response`` = ‖ΔW x‖ / ‖W x‖ (how much of
the layer's output the task changed) and ``sameness`` = the mean pairwise cosine of ``ΔW x`` over tokens
(1: the update adds the same vector whatever the input — a bias that pushes every prompt the same way;
near 0: it depends on the input). Reported as the mean over the layer's linears, at a few depths.
"""
from __future__ import annotations

import argparse
import json

import torch

from keeplora.config import load_recipe
from keeplora.data import read_test_file
from keeplora.models import get_adapter

__all__ = ["main", "layer_inputs", "response"]


@torch.no_grad()
def layer_inputs(model, names: list[str], batch: dict) -> dict[str, torch.Tensor]:
    """Each named linear's input rows (non-padding tokens) on one batch."""
    seen: dict[str, torch.Tensor] = {}
    mask = batch["attention_mask"].bool()
    hooks = [model.get_submodule(n).register_forward_hook(
        lambda mod, args, out, n=n: seen.__setitem__(n, args[0][mask].float())) for n in names]
    model(**batch)
    for h in hooks:
        h.remove()
    return seen


def response(w: torch.Tensor, dw: torch.Tensor, x: torch.Tensor) -> tuple[float, float]:
    out, moved = x @ w.T, x @ dw.T
    ratio = float(moved.norm() / out.norm().clamp_min(1e-12))
    unit = moved / moved.norm(dim=1, keepdim=True).clamp_min(1e-12)
    n = unit.shape[0]
    sameness = float(((unit @ unit.T).sum() - n) / max(n * (n - 1), 1))
    return ratio, sameness


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--after", nargs="+", required=True, help="merged checkpoints after a task")
    ap.add_argument("--samples", type=int, default=16, help="prompts per general-suite entry")
    ap.add_argument("--layers", type=int, nargs="*", default=None, help="decoder layers (default: 5 depths)")
    args = ap.parse_args(argv)
    recipe = load_recipe(args.recipe)
    adapter = get_adapter(recipe.model.family)
    base = adapter.load(recipe.model.model_copy(update={"name_or_path": args.base}))
    targets = adapter.lora_targets(base.model)
    depth = max(targets.values()) + 1
    layers = args.layers if args.layers is not None else sorted({0, depth // 4, depth // 2, 3 * depth // 4, depth - 1})
    names = [n for n, i in targets.items() if i in layers]
    encoder = adapter.make_encoder(base, recipe)
    samples = [s for g in recipe.general if g.scorer != "text_likelihood"
               for s in read_test_file(g.test, g.media_root, g.name)[: args.samples]]
    inputs: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    for start in range(0, len(samples), 8):
        batch = encoder.collate_train([encoder.encode(s) for s in samples[start:start + 8]])
        batch.pop("labels")
        for n, x in layer_inputs(base.model, names, batch).items():
            inputs[n].append(x)
    x_all = {n: torch.cat(v)[:512] for n, v in inputs.items()}
    base_w = {n: base.model.get_submodule(n).weight.float() for n in names}
    table = {}
    for ckpt in args.after:
        after = adapter.load(recipe.model.model_copy(update={"name_or_path": ckpt})).model
        rows = {}
        for layer in layers:
            pairs = [response(base_w[n], after.get_submodule(n).weight.float() - base_w[n], x_all[n])
                     for n in names if targets[n] == layer]
            rows[layer] = {"response": sum(p[0] for p in pairs) / len(pairs),
                           "sameness": sum(p[1] for p in pairs) / len(pairs)}
        table[ckpt] = rows
        print(ckpt + ": " + "  ".join(f"L{k} {v['response']:.4f}/{v['sameness']:.2f}" for k, v in rows.items()),
              flush=True)
    print(json.dumps({"samples": len(samples), "tokens": {n: int(x.shape[0]) for n, x in list(x_all.items())[:1]},
                      "table": table}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
