#!/usr/bin/env bash
""":"
# Evaluation entry point, bash and Python like launch/train.sh (so every launcher works):
#   deepspeed --num_gpus 8 launch/eval.sh --recipe RECIPE --checkpoint CKPT [--tasks A B] [key.sub=value]
#   bash launch/eval.sh --recipe RECIPE --checkpoint CKPT
set -euo pipefail
exec "${PYTHON:-python3}" "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/eval.sh" "$@"
":"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from eval.run import main  # noqa: E402

sys.exit(main())
