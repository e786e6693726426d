"""Real DeepSpeed scenarios on a tiny LLaVA with trainable-A KeepLoRA++, run inside test process groups."""
from __future__ import annotations

import torch
import torch.distributed as dist

from keeplora.config import load_recipe
from keeplora.dist import build_ds_config, init_distributed, make_engine
from keeplora.dist.residual_a import install_residual_a
from keeplora.lora import ADAPTER, lora_modules
from keeplora.testing import keeplora_tiny_peft

from ..conftest import ROOT

GLOBAL_BATCH = 8


def _batches(steps: int, seq: int = 16):
    g = torch.Generator().manual_seed(123)
    ids = torch.randint(10, 200, (steps * GLOBAL_BATCH, seq), generator=g)
    return ids


def _micro(ids, step, m, rank, world, gas):
    """Rank r's share of micro-step m: the union over ranks equals the 1-rank micro-batch m."""
    per_micro = GLOBAL_BATCH // gas
    size = per_micro // world
    start = step * GLOBAL_BATCH + m * per_micro + rank * size
    x = ids[start:start + size]
    return {"input_ids": x, "attention_mask": torch.ones_like(x), "labels": x.clone()}


def train(rank, world, stage: int, dtype: str, gas: int, steps: int, project: bool = True,
          config: str | None = None):
    """Train (with the DeepSpeed JSON ``config`` where given), then report the per-module leak of
    ΔW = s·B·A (fp32 masters) and a checksum of every parameter."""
    from deepspeed.utils import safe_get_full_fp32_param
    info = init_distributed()
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"model.dtype={dtype}"])
    peft, bases, pairs = keeplora_tiny_peft(recipe, train_a=True)
    recipe.optim.micro_batch_size, recipe.optim.grad_accum = GLOBAL_BATCH // gas // world, gas
    recipe.deepspeed.config, recipe.deepspeed.zero_stage = config and str(ROOT / config), stage
    cfg = build_ds_config(recipe, world, 64, on_cpu=True)
    params = [{"params": [p for n, p in peft.named_parameters() if p.requires_grad], "lr": 1e-2}]
    engine = make_engine(peft, params, cfg, steps, 0.0, 0.0)
    modules = lora_modules(peft)
    names = sorted(modules)
    handle = install_residual_a(engine, pairs) if project else None
    ids = _batches(steps)
    for step in range(steps):
        for m in range(gas):
            x = {k: v.to(info.device) for k, v in _micro(ids, step, m, rank, world, gas).items()}
            engine.backward(engine(**x).loss)
            engine.step()
    def fp32(p):          # the fp32 master (ZeRO-1/2, bf16); the module parameter itself without one
        master = safe_get_full_fp32_param(p)
        return p.detach().float() if master is None else master

    leaks, state = {}, {}
    for n in names:
        a, b = fp32(modules[n].lora_A[ADAPTER].weight), fp32(modules[n].lora_B[ADAPTER].weight)
        dw = modules[n].scaling[ADAPTER] * (b @ a)
        leaks[n] = float((dw @ bases[n]).norm() / dw.norm())
        state[n] = (a.clone(), b.clone())
    lp = torch.cat([p.detach().float().reshape(-1) for _, p in sorted(peft.named_parameters())])
    gathered = [torch.zeros_like(lp) for _ in range(world)]
    dist.all_gather(gathered, lp)
    if handle:
        handle.remove()
    engine.destroy()
    same = all(torch.equal(gathered[0], t) for t in gathered)
    return {"leaks": leaks, "state": state, "ranks_identical": same}


def scenarios(rank, world):
    """Several configurations in one process group (engines destroyed in between)."""
    out = {}
    for name, kwargs in {"z2_fp32_gas2": dict(stage=2, dtype="float32", gas=2),
                         "z2_bf16_gas2": dict(stage=2, dtype="bfloat16", gas=2),
                         "z1_fp32": dict(stage=1, dtype="float32", gas=1),
                         "z0_fp32": dict(stage=0, dtype="float32", gas=1),
                         "z2_fp32_unprojected": dict(stage=2, dtype="float32", gas=2, project=False),
                         # last: DeepSpeed keeps autocast state in module globals once an engine enables it
                         "z2_fp32_autocast": dict(stage=2, dtype="float32", gas=2,
                                                  config="recipes/ds/zero2_autocast.json")}.items():
        out[name] = train(rank, world, steps=4, **kwargs)
    return out


def reference(rank, world):
    return train(rank, world, stage=2, dtype="float32", gas=2, steps=4)
