"""One LoRA training step of a recipe's model in fp32 and under bf16 autocast, measured side by side.

    python -m bench.autocast_step --recipe recipes/real_image_seq.yaml [--batch 8 --tokens 70 --repeats 3]

A lead for CPU runs (this project's machines have avx512_bf16): the model's language side with PEFT LoRA on
the recipe's targets, a forward + backward on random token ids, fp32 and ``torch.autocast("cpu", bfloat16)``
alternated so both see the same machine load. The trainer runs its training forward this way when the
recipe's DeepSpeed JSON enables ``torch_autocast`` (``recipes/ds/zero2_autocast.json``); its statistics
passes, merges and evaluation stay fp32. Prints seconds per step and the ratio; last line JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from peft import LoraConfig, get_peft_model

from keeplora.config import load_recipe
from keeplora.models import get_adapter


def recipe_lora_model(recipe):
    """(adapter, loaded model, PEFT model): the recipe's model with plain LoRA of its rank on its targets."""
    adapter = get_adapter(recipe.model.family)
    loaded = adapter.load(recipe.model)
    targets = sorted({n.rsplit(".", 1)[-1] for n in adapter.lora_targets(loaded.model)})
    model = get_peft_model(loaded.model, LoraConfig(r=recipe.lora.r, lora_alpha=recipe.lora.alpha,
                                                    target_modules=targets))
    return adapter, loaded, model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=70)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    _, loaded, model = recipe_lora_model(load_recipe(args.recipe))
    ids = torch.randint(0, loaded.tokenizer.vocab_size, (args.batch, args.tokens))

    def step(autocast: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return time.perf_counter() - start

    step(False), step(True)                                 # warm-up
    times = {"fp32": [], "autocast_bf16": []}
    for _ in range(args.repeats):
        times["fp32"].append(step(False))
        times["autocast_bf16"].append(step(True))
    out = {k: statistics.median(v) for k, v in times.items()}
    out["speedup"] = out["fp32"] / out["autocast_bf16"]
    print(f"fp32 {out['fp32']:.2f} s/step, bf16 autocast {out['autocast_bf16']:.2f} s/step: "
          f"{out['speedup']:.2f}× ({args.batch} × {args.tokens} tokens, {torch.get_num_threads()} threads)")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
