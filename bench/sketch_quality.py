"""How close the streamed gradient sketch comes to the exact task gradient, on a real task pass.

    python bench/sketch_quality.py [--samples 64 --rank 8 --k 16]

The tiny LLaVA (random weights) and a tiny procedural task: for every adapted linear, the LoRA A from the
exact mean gradient against the A from the sketch (both off the ε_w = 0.6 principal basis): principal
angles between their row spaces, the share of the exact residual gradient's energy that the sketched A
captures relative to the exact A (1 = as good), and the sketch's estimates of ‖G‖² and ‖PGᵀ‖².
Last line: JSON (median / max over layers).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from data_prep.tiny_synth import build
    from keeplora.config import load_recipe
    from keeplora.core import principal_basis, residual_init, residual_init_from_sketch
    from keeplora.data import collate_train, read_train_file
    from keeplora.models import Encoder, get_adapter
    from keeplora.statistics import mean_gradients, sketch_gradients
    ap = argparse.ArgumentParser()
    for name, default in (("samples", 64), ("rank", 8), ("k", 16), ("batch", 4)):
        ap.add_argument(f"--{name}", type=int, default=default)
    args = ap.parse_args()
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml")
    adapter = get_adapter("llava")
    loaded = adapter.load(recipe.model)
    model, encoder = loaded.model, Encoder(adapter, loaded, recipe.model, 256)
    with tempfile.TemporaryDirectory() as tmp:
        data = build(Path(tmp), tasks=("color",), n_train=args.samples, n_test=2)
        samples = read_train_file(data / "color" / "train.json")
        batches = [collate_train([encoder.encode(s) for s in samples[i:i + args.batch]], loaded.tokenizer.pad_token_id)
                   for i in range(0, len(samples), args.batch)]
    layers = {n: model.get_submodule(n) for n in adapter.lora_targets(model)}
    bases = {n: principal_basis(layer.weight, 0.6) for n, layer in layers.items()}

    def loss(m, b):
        return m(**b).loss

    grads = mean_gradients(model, layers, batches, loss)
    sketch = sketch_gradients(model, layers, batches, loss, bases, args.k, 0)
    angles, mean_angles, captured, total_err, residual_err = [], [], [], [], []
    for n in layers:
        exact = residual_init(grads[n], bases[n], args.rank)
        approx = residual_init_from_sketch(sketch[n], bases[n], args.rank)
        cos = torch.linalg.svdvals(exact @ approx.T).clamp(max=1.0)
        angles.append(math.degrees(math.acos(float(cos.min()))))
        mean_angles.append(statistics.mean(math.degrees(math.acos(float(c))) for c in cos))
        g = grads[n]
        g_res = g - g @ bases[n] @ bases[n].T
        captured.append(float((g_res @ approx.T).square().sum() / (g_res @ exact.T).square().sum()))
        total = float(g.square().sum())
        residual = float((g - g @ bases[n] @ bases[n].T).square().sum())
        total_err.append(abs(sketch[n].total_energy / total - 1))
        residual_err.append(abs(sketch[n].residual_energy / residual - 1))
    print(json.dumps({"layers": len(layers), "rank": args.rank, "k": args.k,
                      "max_principal_angle_deg_median": round(statistics.median(angles), 3),
                      "max_principal_angle_deg_max": round(max(angles), 3),
                      "mean_principal_angle_deg_median": round(statistics.median(mean_angles), 3),
                      "captured_energy_ratio_median": round(statistics.median(captured), 4),
                      "captured_energy_ratio_min": round(min(captured), 4),
                      "total_energy_rel_err_median": round(statistics.median(total_err), 4),
                      "residual_energy_rel_err_median": round(statistics.median(residual_err), 4),
                      "residual_energy_rel_err_max": round(max(residual_err), 4)}))


if __name__ == "__main__":
    main()
