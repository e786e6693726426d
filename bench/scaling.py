"""1 rank against 2 ranks at the same global batch: training throughput, and whether the results agree.

    python bench/scaling.py [--steps 12 --global-batch 8]

Runs the tiny image sequence (2 tasks, the embedded tiny data built on the fly) once with ``bash
launch/train.sh`` (1 rank, micro-batch = global batch) and once with ``deepspeed --num_gpus 2`` (micro-batch
= global/2), everything else equal. Throughput counts training only (``timings.train_s`` in metrics.json).
Agreement: the largest difference between the two runs' final merged weights, and whether their score
matrices are equal. Last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run(cmd: list[str], out: Path, args, micro: int) -> dict:
    over = [f"output_dir={out}", f"optim.max_steps={args.steps}", f"optim.micro_batch_size={micro}",
            "eval.zero_shot=false", "optim.epochs=100"]
    for i, task in enumerate(("color", "shape")):
        over += [f"tasks.{i}.name={task}", f"tasks.{i}.train={args.data / task / 'train.json'}",
                 f"tasks.{i}.test={args.data / task / 'test.jsonl'}"]
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    proc = subprocess.run(cmd + ["launch/train.sh", str(ROOT / "recipes/smoke_image_seq.yaml")] + over, cwd=ROOT,
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    metrics = json.loads((out / "metrics.json").read_text())
    train_s = sum(t["train_s"] for t in metrics["timings"].values())
    return {"train_s": train_s, "samples_per_s": 2 * args.steps * args.global_batch / train_s,
            "matrix": metrics["matrix"], "weights": load_file(next((out / "task_02_shape").glob("*.safetensors")))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--global-batch", "--global_batch", dest="global_batch", type=int, default=8)
    args = ap.parse_args()
    from data_prep.tiny_synth import build
    with tempfile.TemporaryDirectory() as tmp:
        args.data = build(Path(tmp) / "data", tasks=("color", "shape"), n_train=128, n_test=16)
        one = _run(["bash"], Path(tmp) / "one", args, args.global_batch)
        two = _run([str(Path(sys.executable).parent / "deepspeed"), "--num_gpus", "2"], Path(tmp) / "two", args,
                   args.global_batch // 2)
    diff = max(float((one["weights"][k] - two["weights"][k]).abs().max()) for k in one["weights"])
    print(json.dumps({"ranks_1_samples_per_s": round(one["samples_per_s"], 2),
                      "ranks_2_samples_per_s": round(two["samples_per_s"], 2),
                      "speedup": round(two["samples_per_s"] / one["samples_per_s"], 3),
                      "max_weight_diff": diff, "matrices_equal": one["matrix"] == two["matrix"],
                      "steps_per_task": args.steps, "global_batch": args.global_batch, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
