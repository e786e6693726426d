#!/usr/bin/env bash
# The GPU rows of BENCHMARKS.md in one run (one CUDA device; ~6 minutes on an H100/H200 for all steps):
#   core        the core math tests, whose device cases only run where CUDA exists;
#   video       the tiny twin of recipes/video_seq.yaml (Video-LLaVA class, mp4 decoding, ZeRO-2) in bf16 through
#               the launcher, NCCL backend;
#   task_start  bench/task_start.py on a scaled-up LLaVA-architecture config (sketch vs exact task start, CUDA peak);
#   zero2       bench/zero2_overhead.py in bf16 (trainable-A projection hook cost and leak);
#   clip        recipes/tiny_mtil.yaml (the CLIP track's twin) in bf16 and fp32 through the launcher; needs
#               data/tiny_mtil built beforehand (python -m data_prep.tiny_mtil: Debian package images);
#   families    the tiny twins of Qwen3-VL and InternVL (smoke_video_seq) and Gemma 3 (smoke_image_seq) in bf16
#               through the launcher, beside Qwen2.5-VL's on the same recipe: training seconds per task side by side;
#   vllm        bench/vllm_throughput.py: eval samples/s of vLLM against HF generate on one checkpoint (needs the
#               vllm extra on the machine; says so otherwise);
#   protect     (not in the default list) bench/growth_coverage.py and bench/merge_precision.py on the host's
#               cores; the video step's diagnostics.json already carries the bf16 merge record's figures.
# Usage: bash bench/gpu_suite.sh OUT_DIR [STEP ...]   (default: every step; writes OUT_DIR/gpu_suite.log + metrics)
set -uo pipefail
out=${1:?usage: bash bench/gpu_suite.sh OUT_DIR [core video task_start zero2 clip families vllm protect]}
shift
steps=${*:-core video task_start zero2 clip families vllm}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

run_tiny() {   # NAME TIMEOUT RECIPE [overrides...]: a launcher run whose metrics and diagnostics are kept
  local name=$1 limit=$2 recipe=$3 start
  shift 3
  start=$(date +%s)
  timeout "$limit" deepspeed --num_gpus 1 launch/train.sh "$recipe" output_dir="/tmp/gpu_$name" overwrite=true "$@"
  echo "$name rc=$? wall_s=$(( $(date +%s) - start ))"
  cp "/tmp/gpu_$name/metrics.json" "$out/${name}_metrics.json" 2>/dev/null
  cp "/tmp/gpu_$name/diagnostics.json" "$out/${name}_diagnostics.json" 2>/dev/null
}

{
  python - <<'PY'
import torch, deepspeed, transformers, peft
print("torch", torch.__version__, "deepspeed", deepspeed.__version__, "transformers", transformers.__version__,
      "peft", peft.__version__, "device", torch.cuda.get_device_name(0))
PY
  for step in $steps; do
    case $step in
      core) timeout 120 python -m pytest -q -p no:cacheprovider tests/core; echo "core tests on cuda rc=$?" ;;
      video) python -m data_prep.tiny_synth --out data/tiny
             run_tiny tiny_video_bf16 240 recipes/smoke_video_seq.yaml model.dtype=bfloat16 ;;
      task_start) timeout 240 python bench/task_start.py --hidden 2048 --layers 8 --samples 160 --micro 4 --seq 512 \
                    --rank 16; echo "task_start rc=$?" ;;
      zero2) timeout 180 deepspeed --num_gpus 1 bench/zero2_overhead.py --hidden 2048 --layers 8 --dtype bfloat16 \
               --micro 8 --seq 256 --steps 10 --blocks 6; echo "zero2_overhead rc=$?" ;;
      clip) run_tiny tiny_mtil_bf16 240 recipes/tiny_mtil.yaml model.dtype=bfloat16
            run_tiny tiny_mtil_fp32 240 recipes/tiny_mtil.yaml ;;
      families) python -m data_prep.tiny_synth --out data/tiny
                for fam in qwen2_5_vl qwen3_vl internvl; do
                  run_tiny "family_video_$fam" 240 recipes/smoke_video_seq.yaml model.family=$fam model.dtype=bfloat16
                done
                for fam in qwen2_5_vl gemma3; do
                  run_tiny "family_image_$fam" 240 recipes/smoke_image_seq.yaml model.family=$fam model.dtype=bfloat16
                done
                python - "$out" <<'PY'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("family_*_metrics.json")):
    t = json.loads(f.read_text())["timings"]
    print(f.name.removesuffix("_metrics.json"), " ".join(f"{k} train_s={v['train_s']}" for k, v in t.items()))
PY
                ;;
      vllm) if python -c "import vllm" 2>/dev/null; then timeout 420 python bench/vllm_throughput.py
            else echo "vllm: not installed (pip install '.[vllm]')"; fi ;;
      protect) timeout 300 python bench/growth_coverage.py; echo "growth_coverage rc=$?"
               timeout 300 python bench/merge_precision.py; echo "merge_precision rc=$?" ;;
      *) echo "unknown step $step" ;;
    esac
  done
} 2>&1 | tee "$out/gpu_suite.log"
