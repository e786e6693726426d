"""Step-time cost of trainable-A KeepLoRA++ (residual projection after every step) over plain PEFT LoRA.

    deepspeed --num_gpus 2 bench/zero2_overhead.py [--hidden 256 --layers 4 --steps 20 --blocks 6]

Same engine, same model (LLaVA architecture, random weights), ZeRO-2, AdamW, fp32; blocks of steps
alternate between "projection on" and "off" so both modes see the same machine noise. Then a fresh run
with the projection on from the start measures the leak ‖ΔW·B‖/‖ΔW‖ on the fp32 masters.
Last line: JSON ``{"step_ratio": median(on)/median(off), "leak": max over modules, ...}``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keeplora.config import load_recipe  # noqa: E402
from keeplora.dist import build_ds_config, init_distributed, make_engine, shutdown  # noqa: E402
from keeplora.dist.residual_a import install_residual_a  # noqa: E402
from keeplora.lora import ADAPTER, lora_modules  # noqa: E402
from keeplora.testing import keeplora_tiny_peft  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _setup(args, world: int, device):
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml",
                         [f"model.tiny.hidden_size={args.hidden}", f"model.tiny.num_layers={args.layers}",
                          "lora.r=8", "deepspeed.config=null", f"optim.micro_batch_size={args.micro}",
                          f"model.dtype={args.dtype}"])
    peft, bases, pairs = keeplora_tiny_peft(recipe, train_a=True, device=device)
    engine = make_engine(peft, [{"params": [p for p in peft.parameters() if p.requires_grad], "lr": 1e-3}],
                         build_ds_config(recipe, world, args.hidden, device.type == "cpu"), 10 ** 6, 0.0, 0.0)
    return engine, lora_modules(peft), bases, pairs


def _batch(args, step: int, device):
    g = torch.Generator().manual_seed(step * 1000 + dist.get_rank())
    ids = torch.randint(10, 250, (args.micro, args.seq), generator=g).to(device)   # (B, T)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}


def _timed_steps(engine, args, first: int, n: int, device) -> list[float]:
    out = []
    for s in range(first, first + n):
        batch = _batch(args, s, device)
        dist.barrier()
        t0 = time.perf_counter()
        engine.backward(engine(**batch).loss)
        engine.step()
        out.append(time.perf_counter() - t0)
    return out


def _leak(modules, bases) -> float:
    from deepspeed.utils import safe_get_full_fp32_param
    worst = 0.0
    for n in sorted(modules):
        a = safe_get_full_fp32_param(modules[n].lora_A[ADAPTER].weight)
        b = safe_get_full_fp32_param(modules[n].lora_B[ADAPTER].weight)
        dw = b @ a
        worst = max(worst, float((dw @ bases[n].to(dw.device)).norm() / dw.norm()))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    for name, default in (("hidden", 256), ("layers", 4), ("micro", 8), ("seq", 64), ("steps", 20), ("blocks", 6)):
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--local_rank", type=int, default=0)
    args = ap.parse_args()
    info = init_distributed()
    engine, modules, bases, pairs = _setup(args, info.world, info.device)
    _timed_steps(engine, args, 0, 3, info.device)                               # warm-up
    times = {"on": [], "off": []}
    step = 3
    for block in range(args.blocks):
        mode = "on" if block % 2 == 0 else "off"
        handle = install_residual_a(engine, pairs) if mode == "on" else None
        times[mode] += _timed_steps(engine, args, step, args.steps, info.device)
        step += args.steps
        if handle:
            handle.remove()
    engine.destroy()
    engine, modules, bases, pairs = _setup(args, info.world, info.device)     # clean run for the leak
    install_residual_a(engine, pairs)
    _timed_steps(engine, args, 0, args.steps, info.device)
    leak = _leak(modules, bases)
    engine.destroy()
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    if info.rank == 0:
        print(json.dumps({"step_ratio": round(on / off, 4), "leak": leak, "median_step_s_on": round(on, 5),
                          "median_step_s_off": round(off, 5), "world": info.world, "hidden": args.hidden,
                          "layers": args.layers, "dtype": args.dtype, "lora_modules": len(pairs),
                          "device": str(info.device)}))
    shutdown()


if __name__ == "__main__":
    main()
