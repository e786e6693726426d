"""Zero-shot scores kept on disk and reused (``eval.score_cache``): a grid's cells evaluate the same base on
the same test sets before their first task (3–4 minutes a cell on the real-weights track), whatever the
method, seed or task order.

An entry is found by what decides the score, not by names: a digest of the model's tensors as loaded (so a
seed that builds a different model, or a changed checkpoint, misses), of the test samples as read (text,
answers, and each media file's path, size and modification time), of the model folder's other files
(tokenizer, processor, chat template), and every recipe setting that reaches a prediction — ``model``,
``data``, ``eval``, the set's own entry — with the world size (it sets how batches are cut) and the versions
of the libraries that generate. Training settings are not in it; they cannot change a zero-shot score.
Entries are JSON files written atomically and never changed, so concurrent cells may share one folder.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

import torch

from eval.scorers import TaskScore
from keeplora.atomic import atomic_write_text
from keeplora.step_loop import any_rank

__all__ = ["model_digest", "entry_key", "load_entry", "save_entry", "ScoreCache"]

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
TRAINING_ONLY = {"train", "epochs", "lr"}          # a task entry's fields that no zero-shot score depends on


def model_digest(model: torch.nn.Module, source: str | None) -> str:
    """The model's parameters and buffers (names, dtypes, shapes, bytes), and the model folder's other files."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    folder = Path(source) if source else None
    if folder is not None and folder.is_dir():
        for f in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(WEIGHT_SUFFIXES)):
            h.update(f"{f.relative_to(folder)}|".encode() + f.read_bytes())
    return h.hexdigest()


def _samples_digest(samples) -> str:
    """Test samples as read; text (a likelihood set) as it is."""
    h = hashlib.sha256()
    if isinstance(samples, str):
        h.update(samples.encode())
        return h.hexdigest()
    for s in samples:
        record = asdict(s)
        record["media"] = [(kind, str(p), *_stat(Path(p))) for kind, p in s.media]
        h.update(json.dumps(record, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat() if path.exists() else None
    return (st.st_size, st.st_mtime_ns) if st else (-1, -1)


def entry_key(model_id: str, recipe, entry, prefix: str, samples, world: int) -> str:
    """The cache key of one test set's zero-shot score."""
    settings = {
        "model": model_id, "samples": _samples_digest(samples), "set": entry.model_dump(exclude=TRAINING_ONLY),
        "prefix": prefix,
        "recipe": recipe.model_dump(include={"model", "data"}),
        "eval": recipe.eval.model_dump(exclude={"score_cache", "zero_shot"}), "world": world,
        "versions": {p: version(p) for p in ("torch", "transformers", "keeplora")},
    }
    if recipe.eval.label_set == "all":          # a classifier picks among every set's classes
        settings["all_sets"] = sorted(json.dumps(e.model_dump(exclude=TRAINING_ONLY), sort_keys=True)
                                      for e in [*recipe.tasks, *recipe.general])
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:32]


def load_entry(folder: Path, key: str) -> tuple[TaskScore, list[dict]] | None:
    path = Path(folder) / f"{key}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return TaskScore(**data["score"]), data["predictions"]


def save_entry(folder: Path, key: str, score: TaskScore, predictions: list[dict]) -> None:
    atomic_write_text(Path(folder) / f"{key}.json", json.dumps({"score": asdict(score), "predictions": predictions}))


class ScoreCache:
    """One zero-shot row's lookups: the model digested once for all its sets, and every rank told the same
    answer (all evaluate a set, or none does, so no rank is left in the evaluation's collectives)."""

    def __init__(self, folder: str | Path, model: torch.nn.Module, recipe, rank: int, world: int):
        self.folder, self.recipe, self.rank, self.world = Path(folder), recipe, rank, world
        self.model_id = model_digest(model, recipe.model.name_or_path)

    def lookup(self, entry, prefix: str, samples) -> tuple[str, tuple[TaskScore, list[dict]] | None]:
        key = entry_key(self.model_id, self.recipe, entry, prefix, samples, self.world)
        found = load_entry(self.folder, key)
        return key, None if any_rank(found is None) else found

    def store(self, key: str, score: TaskScore, predictions: list[dict]) -> None:
        if self.rank == 0:
            save_entry(self.folder, key, score, predictions)
