"""The TinyCL-VL base's pretraining with each general sample encoded once and kept, against encoding it at
every read, side by side in one process.

    python -m bench.base_encoding [--steps 700 --batch 16 --threads 1]

Both runs start from the same seed and read the same batches; the script checks that they end with
bit-identical weights (keeping encoded samples may change the speed, never the base) and prints both
wall times, their ratio and the peak memory; last line JSON. The full build (4,800 steps) reads every
sample about ten times, so ``--steps`` below that understates the saving.
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch

from data_prep.tinycl_base import BASE_MODEL, train_on_general
from keeplora.config import ModelCfg
from keeplora.models import Encoder, get_adapter


def _pretrain(data: Path, steps: int, batch: int, keep_encoded: bool) -> tuple[torch.Tensor, float]:
    torch.manual_seed(0)
    cfg = ModelCfg(**BASE_MODEL, tokenizer=str(data / "base"))
    adapter = get_adapter(cfg.family)
    loaded = adapter.load(cfg, seed=0)
    encoder = Encoder(adapter, loaded, cfg, 1024)
    start = time.perf_counter()
    train_on_general(loaded.model, encoder, data, steps, batch, 1e-3, 0, keep_encoded=keep_encoded,
                     desc=f"keep_encoded={keep_encoded}")
    wall = time.perf_counter() - start
    return torch.cat([p.detach().reshape(-1) for p in loaded.model.parameters()]), wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/tinycl", help="built by python -m data_prep.tinycl and tinycl_base")
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch", type=int, default=16, help="the base build's batch")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    every_read, wall_every = _pretrain(data, args.steps, args.batch, keep_encoded=False)
    kept, wall_kept = _pretrain(data, args.steps, args.batch, keep_encoded=True)
    out = {"steps": args.steps, "threads": args.threads, "encode_every_read_s": round(wall_every, 1),
           "encode_once_s": round(wall_kept, 1), "speedup": round(wall_every / wall_kept, 3),
           "identical_weights": bool(torch.equal(every_read, kept)),
           "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)}
    print(f"{args.steps} steps: encoded at every read {wall_every:.1f} s, encoded once {wall_kept:.1f} s "
          f"({out['speedup']:.2f}×); weights identical: {out['identical_weights']}")
    print(json.dumps(out))
    return 0 if out["identical_weights"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
