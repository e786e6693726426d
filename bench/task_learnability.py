"""Can the recipe's base model learn a task at all? Full fine-tuning as the plasticity ceiling of a task.

    python bench/task_learnability.py recipes/tiny_image_seq.yaml --tasks digit_plus ocr --steps 150 [--llm-only]

Trains every weight of the recipe's starting model (or only its language model, ``--llm-only``) on one
task's training file in a plain loop (AdamW, ``optim.lr`` unless ``--lr``, the recipe's micro-batch), then
scores the task's test file with the recipe's scorer. No continual-learning method can beat this on the
same budget, so a task scoring near chance here must be redesigned before its forgetting can be measured
(TinyCL-VL's "change the tasks, not the metric"). One line per task: JSON with the score.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def learnability(recipe, task, steps: int, lr: float, llm_only: bool, seed: int = 0) -> dict:
    from eval.harness import predict
    from eval.scorers import score_task
    from keeplora.data import EncodedDataset, read_test_file, read_train_file
    from keeplora.models import get_adapter
    torch.manual_seed(seed)
    adapter = get_adapter(recipe.model.family)
    loaded = adapter.load(recipe.model, seed=seed)
    model, encoder = loaded.model, adapter.make_encoder(loaded, recipe)
    params = [p for n, p in model.named_parameters() if not llm_only or "language_model" in n]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=lr)
    data = EncodedDataset(read_train_file(task.train, task.media_root, task.name), encoder)
    loader = DataLoader(data, batch_size=recipe.optim.micro_batch_size, shuffle=True, drop_last=True,
                        collate_fn=encoder.collate_train)
    model.train()
    done, losses = 0, []
    while done < steps:
        for batch in loader:
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            done += 1
            if done == steps:
                break
    test = read_test_file(task.test, task.media_root, task.name)[: recipe.eval.max_samples]
    preds = predict(model, encoder, test, recipe.eval.batch_size, recipe.eval.max_new_tokens, torch.device("cpu"))
    return {"task": task.name, "trained": "language model" if llm_only else "all weights", "steps": steps,
            "lr": lr, "final_loss_mean_of_last_10": round(sum(losses[-10:]) / len(losses[-10:]), 3),
            "score": round(score_task(task.scorer, preds).value, 1), "test_samples": len(test)}


def main(argv: list[str] | None = None) -> int:
    from keeplora.config import load_recipe
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe")
    ap.add_argument("--tasks", nargs="+", help="task names (default: every task of the recipe)")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--llm-only", action="store_true")
    args = ap.parse_args(argv)
    recipe = load_recipe(args.recipe)
    for task in recipe.tasks:
        if not args.tasks or task.name in args.tasks:
            print(json.dumps(learnability(recipe, task, args.steps, args.lr or recipe.optim.lr, args.llm_only)),
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
