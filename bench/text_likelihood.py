"""The English-text likelihood (``scorer: text_likelihood``) of saved checkpoints, after a run.

    python -m bench.text_likelihood --recipe recipes/real_image_seq.yaml --checkpoints BASE runs/X/task_*

Scores what a run's general suite would have scored had it named the text, on the checkpoints a run saved
(the base, then every ``task_XX_<name>/``): ``100·exp(−NLL)`` with NLL per token and perplexity. One line
per checkpoint, then JSON.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from eval.likelihood import text_likelihood
from keeplora.config import load_recipe
from keeplora.models import get_adapter

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True, help="the run's recipe (model family and dtype)")
    ap.add_argument("--checkpoints", nargs="+", required=True)
    ap.add_argument("--text", default="data/tinycl/general/english/text.txt")
    args = ap.parse_args(argv)
    recipe, text = load_recipe(args.recipe), Path(args.text).read_text()
    adapter, rows = get_adapter(recipe.model.family), {}
    for ckpt in args.checkpoints:
        loaded = adapter.load(recipe.model.model_copy(update={"name_or_path": ckpt}))
        result = text_likelihood(loaded.model, loaded.tokenizer, text, torch.device("cpu"))
        rows[ckpt] = {"score": round(result.value, 3), **{k: round(v, 4) for k, v in result.parts.items()}}
        print(f"{ckpt}: {result.value:.2f} (NLL {result.parts['nll_per_token']:.4f}/token, "
              f"perplexity {result.parts['perplexity']:.2f})", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
