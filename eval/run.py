"""Evaluate one checkpoint on a recipe's tasks, resumably.

    python -m eval.run --recipe recipes/smoke_image_seq.yaml --checkpoint runs/smoke_image_seq/task_03_position
    deepspeed --num_gpus 8 launch/eval.sh --recipe recipes/video_seq.yaml --checkpoint CKPT --tasks Counting

Predictions go to ``<out>/<task>.jsonl`` (one line per question, in the test file's order, with the
benchmark's own fields as well: ``eval.layouts``); ids already there are skipped, so an interrupted
evaluation continues where it stopped. ``<out>/scores.json`` holds each task's score with the scorer
that produced it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.harness import predict, with_sample_scorers
from eval.layouts import benchmark_fields
from eval.scorers import score_task
from keeplora.atomic import atomic_write_text
from keeplora.checks import check_files
from keeplora.config import load_recipe
from keeplora.errors import UserError

__all__ = ["main", "evaluate_checkpoint"]


SOURCE = "source.json"


def _source(recipe, checkpoint: str) -> dict:
    """What made the predictions: the checkpoint (a local folder by path and by its files' names, sizes and
    modification times) and the settings that shape an answer."""
    path = Path(checkpoint)
    files = sorted((f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in path.iterdir() if f.is_file()) \
        if path.is_dir() else []
    return {"checkpoint": str(path.resolve()) if path.exists() else checkpoint, "files": files,
            "model": recipe.model.model_dump(exclude={"name_or_path"}), "max_new_tokens": recipe.eval.max_new_tokens}


def _claim(out: Path, source: dict, is_main: bool) -> None:
    """Predictions in ``out`` are reused only if the same checkpoint and settings made them."""
    marker = out / SOURCE
    if marker.is_file():
        held = json.loads(marker.read_text())
        if held != json.loads(json.dumps(source)):
            raise UserError(f"--out {out} holds predictions of {held.get('checkpoint')} (or other settings); "
                            f"use another --out for {source['checkpoint']}, or delete {out}")
    elif is_main:
        atomic_write_text(marker, json.dumps(source, indent=1))


def _done(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    return {str(p["id"]): p for p in map(json.loads, path.read_text().splitlines()) if p}


def evaluate_checkpoint(recipe, checkpoint: str, tasks: list[str] | None, out: Path, dist_info) -> dict:
    from keeplora.data import read_test_file
    from keeplora.models import get_adapter
    chosen = [t for t in recipe.tasks if not tasks or t.name in tasks]
    if tasks and len(chosen) != len(tasks):
        raise UserError(f"--tasks {tasks}: unknown name(s); the recipe has {[t.name for t in recipe.tasks]}")
    out.mkdir(parents=True, exist_ok=True)
    _claim(out, _source(recipe, checkpoint), dist_info.rank == 0)          # before the model loads
    adapter = get_adapter(recipe.model.family)
    loaded = adapter.load(recipe.model.model_copy(update={"name_or_path": checkpoint}), seed=recipe.seed)
    encoder = adapter.make_encoder(loaded, recipe)
    if recipe.eval.backend == "vllm":                 # the HF model stays on the CPU; vLLM loads the folder
        from eval.vllm_backend import VllmPredictor
        engine = VllmPredictor(checkpoint, recipe, dist_info.world)

        def generate(todo):
            return engine.predict(encoder, todo)
    else:
        model = loaded.model.to(dist_info.device)

        def generate(todo):
            return predict(model, encoder, todo, recipe.eval.batch_size, recipe.eval.max_new_tokens,
                           dist_info.device)
    scores = {}
    for task in chosen:
        samples = read_test_file(task.test, task.media_root, task.name)[: recipe.eval.max_samples]
        path = out / f"{task.name}.jsonl"
        done = _done(path)
        todo = [s for s in samples if s.id not in done]
        new = generate(todo)
        if dist_info.rank == 0 and new:
            with path.open("a") as f:
                f.writelines(json.dumps({**p, **benchmark_fields(task.scorer, p, Path(checkpoint).name)}) + "\n"
                             for p in new)
        done.update({str(p["id"]): p for p in new})
        preds = with_sample_scorers([{**done[s.id], "answers": s.answers} for s in samples], samples)
        result = score_task(task.scorer, preds)
        scores[task.name] = {"score": result.value, "scorer": task.scorer, "n": len(preds),
                             "resumed": len(samples) - len(todo), "parts": result.parts, "note": result.note}
    if dist_info.rank == 0:
        (out / "scores.json").write_text(json.dumps({"checkpoint": checkpoint, "tasks": scores}, indent=1))
    return scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate a checkpoint on a recipe's tasks (resumable)")
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--checkpoint", required=True, help="a merged checkpoint folder (task_XX_name/) or hub id")
    ap.add_argument("--tasks", nargs="*", help="task names (default: all)")
    ap.add_argument("--out", help="default: <checkpoint>/eval")
    ap.add_argument("--local_rank", type=int, default=0, help=argparse.SUPPRESS)
    args, overrides = ap.parse_known_args(argv)
    from keeplora.dist import init_distributed, shutdown
    try:
        recipe = load_recipe(args.recipe, overrides)
        check_files(recipe)
        info = init_distributed()
        scores = evaluate_checkpoint(recipe, args.checkpoint, args.tasks,
                                     Path(args.out or Path(args.checkpoint) / "eval"), info)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        shutdown(barrier=False)
        return 2
    if info.rank == 0:
        for name, s in scores.items():
            print(f"{name}: {s['score']:.2f} ({s['scorer']}, {s['n']} questions, {s['resumed']} resumed)")
    shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
