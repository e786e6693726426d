"""Samples/s of the batched evaluation harness over a batch-1 loop: same tiny model, same prompts.

    python bench/eval_throughput.py [--samples 96 --batch 32 --new-tokens 8]

Greedy generation with left padding and KV cache (``eval.harness.predict``); both modes run in one
process, alternating, and the predictions must be identical. Last line: JSON ``{"speedup": ...}``.
"""
from __future__ import annotations

import argparse
import json
import statistics
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
from keeplora.models import (
    Encoder,
    get_adapter,  # noqa: E402
)

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=96)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml")
    adapter = get_adapter("llava")
    loaded = adapter.load(recipe.model, seed=0)
    encoder = Encoder(adapter, loaded, recipe.model, 512)
    with tempfile.TemporaryDirectory() as tmp:
        data = build(tmp, tasks=("color",), n_train=1, n_test=args.samples)
        samples = read_test_file(data / "color" / "test.jsonl")
        times = {"batched": [], "batch1": []}
        outputs = {}
        for _ in range(args.repeats):
            for mode, bs in (("batched", args.batch), ("batch1", 1)):
                t0 = time.perf_counter()
                outputs[mode] = predict(loaded.model, encoder, samples, bs, args.new_tokens, torch.device("cpu"))
                times[mode].append(time.perf_counter() - t0)
    same = [p["prediction"] for p in outputs["batched"]] == [p["prediction"] for p in outputs["batch1"]]
    batched, single = statistics.median(times["batched"]), statistics.median(times["batch1"])
    print(json.dumps({"speedup": round(single / batched, 2), "samples_per_s_batched": round(len(samples) / batched, 1),
                      "samples_per_s_batch1": round(len(samples) / single, 1), "identical_predictions": same,
                      "samples": len(samples), "batch": args.batch, "new_tokens": args.new_tokens,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
