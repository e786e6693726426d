"""Samples/s of evaluation with vLLM against transformers ``generate`` on the same checkpoint and prompts (GPU).

    python bench/vllm_throughput.py [--samples 512 --batch 64 --new-tokens 16 --hidden 1024 --layers 8]

A LLaVA-architecture checkpoint of the given width (random weights; its folder carries the processor and
chat template as every task checkpoint does) answers TinyCL-VL-style procedural questions through
``eval.harness.predict`` (batched, left padding, KV cache) and through ``eval.vllm_backend``. Both run in one
process, HF first; predictions are compared (greedy: the same up to kernel numerics). Last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_prep.tiny_synth import build  # noqa: E402
from eval.harness import predict  # noqa: E402
from keeplora.config import load_recipe  # noqa: E402
from keeplora.data import read_test_file  # noqa: E402
from keeplora.models import Companions, Encoder, get_adapter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=8)
    args = ap.parse_args()
    from eval.vllm_backend import VllmPredictor
    over = ["model.dtype=bfloat16", f"model.tiny.hidden_size={args.hidden}", f"model.tiny.num_layers={args.layers}",
            f"eval.max_new_tokens={args.new_tokens}", "eval.tensor_parallel=1"]
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", over)
    adapter = get_adapter("llava")
    loaded = adapter.load(recipe.model, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ckpt"
        loaded.model.save_pretrained(ckpt)
        Companions(adapter, loaded, recipe.model).save_pretrained(ckpt)
        encoder = Encoder(adapter, loaded, recipe.model, recipe.data.max_length)
        samples = read_test_file(build(Path(tmp) / "data", tasks=("color",), n_train=1, n_test=args.samples)
                                 / "color" / "test.jsonl")
        model = loaded.model.to("cuda")
        t0 = time.perf_counter()
        hf = predict(model, encoder, samples, args.batch, args.new_tokens, torch.device("cuda"))
        hf_s = time.perf_counter() - t0
        model.to("cpu")
        torch.cuda.empty_cache()
        engine = VllmPredictor(str(ckpt), recipe, world=1)
        t0 = time.perf_counter()
        vl = engine.predict(encoder, samples)
        vllm_s = time.perf_counter() - t0
    same = sum(a["prediction"] == b["prediction"] for a, b in zip(hf, vl)) / len(samples)
    print(json.dumps({"vllm_over_hf": round(hf_s / vllm_s, 2), "samples_per_s_hf": round(len(samples) / hf_s, 1),
                      "samples_per_s_vllm": round(len(samples) / vllm_s, 1), "same_prediction": round(same, 3),
                      "samples": len(samples), "hf_batch": args.batch, "new_tokens": args.new_tokens,
                      "hidden": args.hidden, "layers": args.layers, "device": torch.cuda.get_device_name(0)}))


if __name__ == "__main__":
    main()
