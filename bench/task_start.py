"""Task start and task end (the task-statistics passes) against training the same task: memory and time.

    python bench/task_start.py [--hidden 512 --layers 8 --samples 160 --micro 4 --seq 256 --grad-ratio 0.2
                                --pass-mb 0]

Five child processes on the same random LLaVA-architecture model and the same token batches, so each
peak is its own: ``train`` (KeepLoRA++ LoRA, DeepSpeed ZeRO-2, AdamW, one epoch over the task),
``sketch`` (the default task start: streamed gradient sketch, no weight gradient), ``exact`` (task start
from every layer's exact gradient at once, as the official code forms them) and ``growth`` (the default task
end: exact post-task gradients accumulated in passes of at most ``--pass-mb`` MB of sums, 0 = one pass,
each layer's basis grown at ε_f 0.99 as its pass ends) and ``reference`` (step 0's reference set: input
covariances in the same passes, the subset's batches standing in for the reference samples), all on the
evenly spaced ``grad_ratio`` subset.
Peak = CUDA max allocated on a GPU, max RSS on a CPU (then also reported above the loaded-model
baseline). Targets: task-start peak ≤ 1.10× training peak, time ≤ 0.25× training time.
Last line: JSON with ``peak_ratio`` and ``time_ratio`` for both task-start paths.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ROOT = Path(__file__).resolve().parents[1]


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batches(args, n: int, device):
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n // args.micro):
        ids = torch.randint(10, 250, (args.micro, args.seq), generator=g).to(device)
        out.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids})
    return out


def _child(args) -> dict:
    from keeplora.config import load_recipe
    from keeplora.core import (
        grow_basis,
        grow_basis_from_covariance,
        principal_basis,
        residual_init,
        residual_init_from_sketch,
    )
    from keeplora.dist import build_ds_config, init_distributed, make_engine, shutdown
    from keeplora.lora import inject_lora
    from keeplora.methods.base import depth_scales
    from keeplora.models import get_adapter
    from keeplora.statistics import (
        GradientMean,
        InputCovariance,
        chunk_layers,
        mean_gradients,
        passes,
        sketch_gradients,
        subset_indices,
    )
    info = init_distributed()
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml",
                         [f"model.tiny.hidden_size={args.hidden}", f"model.tiny.num_layers={args.layers}",
                          f"lora.r={args.rank}", "deepspeed.config=null", f"optim.micro_batch_size={args.micro}",
                          "model.tiny.max_positions=4096"])
    adapter = get_adapter("llava")
    model = adapter.load(recipe.model, seed=0).model.to(info.device)
    targets = adapter.lora_targets(model)
    layers = {n: model.get_submodule(n) for n in targets}
    bases = {n: principal_basis(layer.weight, 0.6) for n, layer in layers.items()}
    baseline = _peak_mb(info.device)
    if info.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(info.device)
    task = _batches(args, args.samples, info.device)
    subset = [task[i] for i in subset_indices(len(task), args.grad_ratio)]

    def loss(m, b):
        return m(**b).loss

    t0 = time.perf_counter()
    if args.mode == "train":
        init_a = {n: residual_init(torch.randn(layer.weight.shape), bases[n], args.rank) for n, layer in layers.items()}
        peft = inject_lora(model, list(layers), recipe.lora, depth_scales(targets, 0.2, "linear"), init_a, False)
        engine = make_engine(peft, [{"params": [p for p in peft.parameters() if p.requires_grad], "lr": 1e-4}],
                             build_ds_config(recipe, info.world, args.hidden, info.on_cpu), len(task), 0.0, 0.0)
        for b in task:
            engine.backward(engine(**b).loss)
            engine.step()
    elif args.mode == "sketch":
        sk = sketch_gradients(model, layers, subset, loss, bases, 2 * args.rank, 0)
        _ = {n: residual_init_from_sketch(sk[n], bases[n], args.rank) for n in layers}
    elif args.mode == "exact":
        grads = mean_gradients(model, layers, subset, loss)
        _ = {n: residual_init(grads[n], bases[n], args.rank) for n in layers}
    elif args.mode == "reference":                  # step 0's reference set (here: the subset's batches)
        budget = int(args.pass_mb * 2 ** 20) if args.pass_mb > 0 else None
        chunks = chunk_layers({n: InputCovariance().layer_bytes(layer) for n, layer in layers.items()}, budget)
        for n, c in passes(model, layers, lambda: subset, loss, InputCovariance, budget):
            bases[n] = grow_basis_from_covariance(bases[n], c, 0.99)
    else:
        budget = int(args.pass_mb * 2 ** 20) if args.pass_mb > 0 else None
        chunks = chunk_layers({n: GradientMean().layer_bytes(layer) for n, layer in layers.items()}, budget)
        for n, g in passes(model, layers, lambda: subset, loss, GradientMean, budget):
            bases[n] = grow_basis(bases[n], g.T, 0.99)
    if info.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak = _peak_mb(info.device)
    shutdown()
    n_passes = len(chunks) if args.mode in ("growth", "reference") else 1
    return {"mode": args.mode, "seconds": seconds, "peak_mb": peak, "baseline_mb": baseline, "passes": n_passes,
            "device": str(info.device), "batches": len(task) if args.mode == "train" else len(subset)}


def main() -> None:
    ap = argparse.ArgumentParser()
    for name, default in (("hidden", 512), ("layers", 8), ("samples", 160), ("micro", 4), ("seq", 256),
                          ("rank", 16)):
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--grad-ratio", "--grad_ratio", dest="grad_ratio", type=float, default=0.2)
    ap.add_argument("--pass-mb", "--pass_mb", dest="pass_mb", type=float, default=0.0)
    ap.add_argument("--mode", choices=["train", "sketch", "exact", "growth", "reference"])
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(_child(args)))
        return
    runs = {}
    for mode in ("train", "sketch", "exact", "growth", "reference"):
        options = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k != "mode"]
        cmd = [sys.executable, __file__, "--mode", mode] + options
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        runs[mode] = json.loads(out)
        print(json.dumps(runs[mode]))
    train, base = runs["train"], runs["train"]["baseline_mb"]
    result = {"device": train["device"], "hidden": args.hidden, "layers": args.layers, "rank": args.rank,
              "grad_ratio": args.grad_ratio, "samples": args.samples, "growth_passes": runs["growth"]["passes"]}
    for mode in ("sketch", "exact", "growth", "reference"):
        r = runs[mode]
        result[f"{mode}_peak_ratio"] = round(r["peak_mb"] / train["peak_mb"], 3)
        result[f"{mode}_time_ratio"] = round(r["seconds"] / train["seconds"], 3)
        if "cpu" in train["device"]:
            result[f"{mode}_peak_above_model_ratio"] = round((r["peak_mb"] - base) / (train["peak_mb"] - base), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
