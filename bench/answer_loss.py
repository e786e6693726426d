"""One LoRA training step of a recipe's model with the model's own loss and with ``answer_loss`` (logits
at labelled positions only), measured side by side on the recipe's own first-task batches.

    python -m bench.answer_loss --recipe recipes/real_image_seq.yaml [--repeats 5] [--autocast]

The model's language side gets PEFT LoRA on the recipe's targets; each repeat runs the two losses on the
same micro-batch (the recipe's ``micro_batch_size`` samples of task 1), alternated so both see the same
machine load; ``--autocast`` runs both forwards under bf16 autocast, as the trainer does when the recipe's
DeepSpeed JSON has ``torch_autocast``. Prints the median seconds per step, the ratio, the labelled share
of the positions and the largest loss difference; last line JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from bench.autocast_step import recipe_lora_model
from keeplora.config import load_recipe
from keeplora.data import collate_train, read_train_file
from keeplora.models.loss import answer_loss


def _batches(recipe, loaded, adapter, count: int) -> list[dict]:
    encoder = adapter.make_encoder(loaded, recipe)
    samples = read_train_file(recipe.tasks[0].train)
    size = recipe.optim.micro_batch_size
    return [collate_train([encoder.encode(s) for s in samples[i * size:(i + 1) * size]], loaded.tokenizer.pad_token_id)
            for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--autocast", action="store_true")
    args = ap.parse_args(argv)
    recipe = load_recipe(args.recipe)
    adapter, loaded, model = recipe_lora_model(recipe)
    batches = _batches(recipe, loaded, adapter, args.repeats + 1)

    def step(kind: str, batch: dict) -> tuple[float, float]:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.autocast):
            loss = model(**batch).loss if kind == "own_loss" else answer_loss(model, batch)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - start, loss.item()

    step("own_loss", batches[0]), step("answer_loss", batches[0])          # warm-up
    times, diff = {"own_loss": [], "answer_loss": []}, 0.0
    for batch in batches[1:]:
        (t_own, l_own), (t_ans, l_ans) = step("own_loss", batch), step("answer_loss", batch)
        times["own_loss"].append(t_own)
        times["answer_loss"].append(t_ans)
        diff = max(diff, abs(l_own - l_ans))
    labels = torch.cat([b["labels"][:, 1:].flatten() for b in batches[1:]])
    out = {k: statistics.median(v) for k, v in times.items()}
    out.update(speedup=out["own_loss"] / out["answer_loss"], labelled_share=float((labels != -100).float().mean()),
               max_loss_diff=diff, tokens=int(batches[1]["input_ids"].shape[1]), autocast=args.autocast,
               threads=torch.get_num_threads())
    print(f"own loss {out['own_loss']:.3f} s/step, answer_loss {out['answer_loss']:.3f} s/step: {out['speedup']:.2f}× "
          f"(labelled {100 * out['labelled_share']:.1f} % of positions, loss differs by ≤ {diff:.1e}, "
          f"{torch.get_num_threads()} threads{', bf16 autocast' if args.autocast else ''})")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
