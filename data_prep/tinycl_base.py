"""Pretrain the TinyCL-VL base: a small Video-LLaVA (transformers classes) that knows the general suite.

    python -m data_prep.tinycl_base --data data/tinycl --out data/tinycl/base     # 7.3 min measured on 2 idle CPU cores

KeepLoRA's premise is that a pretrained model's principal weight directions hold its general knowledge;
a random-init model has none to lose, so the continual-learning runs start from this checkpoint. Every
weight trains here (vision tower, projector, decoder) on the general-suite mixture of
``data_prep.tinycl``; the continual recipes then freeze it as LLaVA freezes CLIP. The checkpoint is a
plain transformers folder (tokenizer and chat template included) with ``base_info.json``: the config,
steps, wall time and held-out general-suite scores. An existing matching checkpoint is reused.

The tokenizer (version 3) is a byte-level BPE of ``VOCAB_SIZE`` tokens trained on the benchmark's own
training text, so that answers are words of one or two tokens as in a real VLM, not spelled byte by byte.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import time
from functools import partial
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["build_base", "BASE_MODEL", "general_scores", "train_on_general", "cached_info", "publish"]

# 6 decoder layers (a visible depth ramp for layer scaling), d = 128; a 3-layer ViT on 32×32 images
BASE_MODEL = {"family": "video_llava", "num_frames": 4,
              "tiny": {"hidden_size": 128, "num_layers": 6, "vision_hidden_size": 64, "vision_layers": 3,
                       "initializer_range": 0.02}}
VOCAB_SIZE = 1024


def _corpus(data: Path) -> list[str]:
    """Every turn of every training file (general mixture and tasks), media placeholders removed."""
    texts = []
    for path in sorted(data.glob("*/*/train.json")):
        for sample in json.loads(path.read_text()):
            texts += [t["value"].replace("<image>", "").replace("<video>", "") for t in sample["conversations"]]
    if not texts:
        raise SystemExit(f"error: no training text under {data}: run `python -m data_prep.tinycl --out {data}` first")
    return texts


def cached_info(out: Path, name: str, key: dict, force: bool) -> dict | None:
    """The ``name`` info file of a built base if it was built with ``key`` (and not forced)."""
    path = out / name
    info = json.loads(path.read_text()) if path.is_file() and not force else None
    return info if info is not None and info.get("key") == key else None


def publish(tmp: Path, out: Path, name: str, info: dict) -> dict:
    """Write the info file and move the finished folder into place: a crash leaves the old base or none."""
    (tmp / name).write_text(json.dumps(info, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return info


def _general_files(data: Path, split: str, skills: tuple[str, ...] | None = None) -> dict[str, Path]:
    from .tinycl_general import GENERAL
    name = "train.json" if split == "train" else "test.jsonl"
    files = {g: data / "general" / g / name for g in (skills or GENERAL)}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"error: {missing[0]} not found: run `python -m data_prep.tinycl --out {data}` first")
    return files


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def general_scores(model, encoder, data: Path, device, batch_size: int = 64,
                   skills: tuple[str, ...] | None = None) -> dict[str, float]:
    """Exact-match accuracy (%) of each general-suite skill on its held-out test split."""
    from eval.harness import evaluate_task
    from keeplora.data.records import read_test_file
    model.eval()
    out = {}
    for skill, path in _general_files(data, "test", skills).items():
        result, _ = evaluate_task(model, encoder, read_test_file(path), "exact_match", batch_size, 16, device)
        out[skill] = round(result.value, 2)
    return out


class _EncodedOnce(Dataset):
    """Each sample encoded on first read and kept: the base's 4,800 steps read every general sample about
    ten times, and encoding (image decode, resize, tokenize) was a quarter of a step. Same batches, same
    base; the collators build new tensors, so a kept item is never modified."""

    def __init__(self, dataset: Dataset):
        self.dataset, self.items = dataset, [None] * len(dataset)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        if self.items[i] is None:
            self.items[i] = self.dataset[i]
        return self.items[i]


def _skill_batches(encoder, data: Path, batch: int, seed: int, skills: tuple[str, ...] | None = None,
                   keep_encoded: bool = True):
    """Endless batches, each from one skill (a batch mixing 17-token images with 68-token clips would pad
    every image sample to the clip's length), skills drawn in proportion to their size; video batches
    cost four image batches, so the one video skill is drawn half as often."""
    from keeplora.data.batching import EncodedDataset, collate_train
    from keeplora.data.records import read_train_file
    loaders = {}
    for i, (skill, path) in enumerate(sorted(_general_files(data, "train", skills).items())):
        dataset = EncodedDataset(read_train_file(path), encoder)
        loaders[skill] = DataLoader(_EncodedOnce(dataset) if keep_encoded else dataset, batch_size=batch, shuffle=True,
                                    drop_last=True, generator=torch.Generator().manual_seed(seed + i),
                                    collate_fn=partial(collate_train, pad_id=encoder.loaded.tokenizer.pad_token_id))
    iters = {k: iter(v) for k, v in loaders.items()}
    rng, names = random.Random(seed), sorted(loaders)
    weights = [len(loaders[k]) * (0.5 if k.startswith("video") else 1.0) for k in names]
    while True:
        skill = rng.choices(names, weights)[0]
        b = next(iters[skill], None)
        if b is None:
            iters[skill] = iter(loaders[skill])
            b = next(iters[skill])
        yield b


def train_on_general(model, encoder, data: Path, steps: int, batch: int, lr: float, seed: int, *,
                     params: list | None = None, skills: tuple[str, ...] | None = None,
                     desc: str = "pretraining the TinyCL-VL base", keep_encoded: bool = True) -> float:
    """AdamW + warm-up/cosine on the general mixture; ``params`` (default: every weight) are the ones trained."""
    from tqdm import tqdm

    from keeplora.data.batching import to_device
    params = list(model.parameters()) if params is None else params
    for p in params:
        p.requires_grad_(True)
    model.train()
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(_schedule, total=steps, warmup=max(1, steps // 20)))
    loss_ema, batches = None, _skill_batches(encoder, data, batch, seed, skills, keep_encoded)
    for _ in (bar := tqdm(range(steps), desc=desc)):
        loss = model(**to_device(next(batches), torch.device("cpu"), torch.float32)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        value = float(loss.detach())
        loss_ema = value if loss_ema is None else 0.95 * loss_ema + 0.05 * value
        bar.set_postfix(loss=f"{loss_ema:.3f}")
    model.requires_grad_(False)
    return loss_ema


def build_base(data: str | Path = "data/tinycl", out: str | Path | None = None, steps: int = 4800,
               batch: int = 16, lr: float = 1e-3, seed: int = 0, force: bool = False) -> dict:
    """Train (or reuse) the base checkpoint; returns its ``base_info.json``."""
    from keeplora.config import ModelCfg
    from keeplora.models import Encoder, get_adapter
    from keeplora.models.tokenizer import train_bpe_tokenizer
    data = Path(data)
    out = Path(out) if out else data / "base"
    manifest = json.loads((data / "manifest.json").read_text()) if (data / "manifest.json").is_file() else {}
    files = {k: v["sha256"] for k, v in manifest.get("tasks", {}).items()}
    # the weights learn the general suite only; the tokenizer is trained on every file's text
    key = {"model": BASE_MODEL, "steps": steps, "batch": batch, "lr": lr, "seed": seed, "files": files,
           "tokenizer": {"bpe_vocab": VOCAB_SIZE}}
    if (cached := cached_info(out, "base_info.json", key, force)) is not None:
        return cached
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    train_bpe_tokenizer(_corpus(data), VOCAB_SIZE).save_pretrained(tmp / "tokenizer")
    torch.manual_seed(seed)
    random.seed(seed)
    cfg = ModelCfg(**BASE_MODEL, tokenizer=str(tmp / "tokenizer"))
    adapter = get_adapter(cfg.family)
    loaded = adapter.load(cfg, seed=seed)
    encoder = Encoder(adapter, loaded, cfg, 1024)
    start = time.perf_counter()
    loss = train_on_general(loaded.model, encoder, data, steps, batch, lr, seed)
    after = general_scores(loaded.model, encoder, data, torch.device("cpu"))
    info = {"key": key, "final_loss": round(loss, 4), "wall_s": round(time.perf_counter() - start, 1),
            "general_after": after,
            "params": sum(p.numel() for p in loaded.model.parameters())}
    shutil.rmtree(tmp / "tokenizer")
    loaded.model.save_pretrained(tmp, safe_serialization=True)
    loaded.tokenizer.save_pretrained(tmp)
    return publish(tmp, out, "base_info.json", info)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/tinycl")
    ap.add_argument("--out", default=None, help="default: DATA/base")
    ap.add_argument("--steps", type=int, default=4800)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    info = build_base(args.data, args.out, args.steps, args.batch, args.lr, args.seed, args.force)
    print(f"TinyCL-VL base ({info['params'] / 1e6:.2f}M params, {info['wall_s']} s): held-out general suite "
          + ", ".join(f"{k} {v:.0f}" for k, v in info["general_after"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
