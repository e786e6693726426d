#!/usr/bin/env bash
""":"
# KeepLoRA++ training entry point. This file is both a bash script and a Python program:
#
#   deepspeed launch/train.sh recipes/video_seq.yaml                  # every local GPU (CPU: --num_gpus N)
#   deepspeed --num_gpus 2 launch/train.sh recipes/smoke_video_seq.yaml optim.max_steps=5
#   deepspeed --hostfile launch/hostfile.example launch/train.sh RECIPE   # multi-node over ssh
#   torchrun --nproc_per_node 2 launch/train.sh RECIPE
#   bash launch/train.sh RECIPE [key.sub=value ...]                   # one process
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 NPROC_PER_NODE=8 bash launch/train.sh RECIPE
#
# The deepspeed launcher runs its script argument with `python -u`, so Python reads this file too:
# to Python the bash part is a string; to bash the first line of the string is the no-op `:`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-python3}"
if [[ -n "${NNODES:-}" || -n "${NPROC_PER_NODE:-}" ]]; then
  exec "$py" -m torch.distributed.run --nnodes "${NNODES:-1}" --node_rank "${NODE_RANK:-0}" \
    --nproc_per_node "${NPROC_PER_NODE:-1}" --master_addr "${MASTER_ADDR:-127.0.0.1}" \
    --master_port "${MASTER_PORT:-29500}" "$here/train.sh" "$@"
fi
exec "$py" "$here/train.sh" "$@"
":"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from keeplora.cli import main  # noqa: E402

sys.exit(main())
