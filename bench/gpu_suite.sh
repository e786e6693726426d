#!/usr/bin/env bash
# The GPU rows of BENCHMARKS.md in one run (one CUDA device; ~5 minutes on an H100/H200):
#   0. the core math tests, whose device cases only run where CUDA exists;
#   1. the tiny twin of recipes/video_seq.yaml (Video-LLaVA class, mp4 decoding, ZeRO-2) in bf16 through the
#      launcher, NCCL backend;
#   2. bench/task_start.py on a scaled-up LLaVA-architecture config (sketch vs exact task start, CUDA peak);
#   3. bench/zero2_overhead.py in bf16 (trainable-A projection hook cost and leak).
# Usage: bash bench/gpu_suite.sh OUT_DIR      (writes OUT_DIR/gpu_suite.log and the tiny run's metrics)
set -uo pipefail
out=${1:?usage: bash bench/gpu_suite.sh OUT_DIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{
  python - <<'PY'
import torch, deepspeed, transformers, peft
print("torch", torch.__version__, "deepspeed", deepspeed.__version__, "transformers", transformers.__version__,
      "peft", peft.__version__, "device", torch.cuda.get_device_name(0))
PY
  timeout 120 python -m pytest -q -p no:cacheprovider tests/core
  echo "core tests on cuda rc=$?"
  python -m data_prep.tiny_synth --out data/tiny
  start=$(date +%s)
  timeout 240 deepspeed --num_gpus 1 launch/train.sh recipes/smoke_video_seq.yaml model.dtype=bfloat16 \
    output_dir=/tmp/gpu_tiny_video overwrite=true
  echo "smoke_video_seq bf16 rc=$? wall_s=$(( $(date +%s) - start ))"
  cp /tmp/gpu_tiny_video/metrics.json "$out/tiny_video_bf16_metrics.json" 2>/dev/null
  cp /tmp/gpu_tiny_video/diagnostics.json "$out/tiny_video_bf16_diagnostics.json" 2>/dev/null
  timeout 240 python bench/task_start.py --hidden 2048 --layers 8 --samples 160 --micro 4 --seq 512 --rank 16
  echo "task_start rc=$?"
  timeout 180 deepspeed --num_gpus 1 bench/zero2_overhead.py --hidden 2048 --layers 8 --dtype bfloat16 \
    --micro 8 --seq 256 --steps 10 --blocks 6
  echo "zero2_overhead rc=$?"
} 2>&1 | tee "$out/gpu_suite.log"
