"""Protected bases and the merge record on disk: safetensors plus metadata saying what they belong to.

A basis file applied to another model, or to a different set of adapted layers, would silently
protect the wrong directions; ``load_bases`` refuses it with one line saying what differs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .core.record import MergeRecord
from .errors import UserError

__all__ = ["save_bases", "load_bases", "save_record", "load_record", "RECORD_BASE"]

RECORD_BASE = "base.safetensors"


def _save_atomic(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    """safetensors under a temporary name, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=meta)
    os.replace(tmp, path)


def save_bases(path: Path, bases: dict[str, torch.Tensor], model: str, family: str, after_task: str,
               reference: str = "") -> None:
    """Write atomically (temporary name, then rename); ``reference`` = the reference set's checksum, if any."""
    meta = {"model": model, "model_family": family, "after_task": after_task,
            "layers": json.dumps(sorted(bases)), "reference": reference}
    _save_atomic(path, {k: v.to(torch.float32) for k, v in bases.items()}, meta)


def save_record(folder: Path, record: MergeRecord, task_labels: list[str]) -> None:
    """The merge record after the last of ``task_labels``: ``base.safetensors`` (the starting weights, written
    with the first task, so a run started over replaces an old one) and that task's fp32 factor file."""
    t = len(task_labels) - 1
    if t == 0 or not (folder / RECORD_BASE).is_file():
        _save_atomic(folder / RECORD_BASE, record.base_tensors(), {"layers": json.dumps(sorted(record.base))})
    _save_atomic(folder / f"{task_labels[t]}.safetensors", record.task_tensors(t), {"task": task_labels[t]})


def load_record(folder: Path, task_labels: list[str], layers: list[str]) -> MergeRecord:
    """The record of the finished tasks ``task_labels``; a missing or foreign file is one line."""
    path = folder / RECORD_BASE
    if not path.is_file():
        raise UserError(f"merge record {path} not found: this run folder predates exact merges or lost it; "
                        f"start over with overwrite=true")
    base = load_file(str(path))
    if sorted(base) != sorted(layers):
        raise UserError(f"merge record {path} covers other layers than this run's LoRA targets; "
                        f"start over with overwrite=true")
    tasks = []
    for label in task_labels:
        task_file = folder / f"{label}.safetensors"
        if not task_file.is_file():
            raise UserError(f"merge record {task_file} not found; start over with overwrite=true")
        tasks.append(MergeRecord.factors_from(load_file(str(task_file))))
    return MergeRecord(base, tasks)


def load_bases(path: Path, model: str, family: str, layers: list[str], reference: str = "") -> dict[str, torch.Tensor]:
    """Bases saved by ``save_bases`` for exactly this model, these adapted layers and this reference set."""
    if not Path(path).is_file():
        raise UserError(f"basis file {path} not found")
    try:
        return _read_bases(path, model, family, layers, reference)
    except UserError:
        raise
    except Exception as exc:                      # safetensors' own error for a truncated or garbled file
        raise UserError(f"basis file {path} is damaged ({exc}); start over with overwrite=true") from None


def _read_bases(path: Path, model: str, family: str, layers: list[str], reference: str) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if (meta.get("model"), meta.get("model_family")) != (model, family):
            raise UserError(f"basis file {path} belongs to {meta.get('model_family')}:{meta.get('model')}, "
                            f"not {family}:{model}; use the bases of this model's run")
        saved = json.loads(meta.get("layers", "[]"))
        if saved != sorted(layers):
            extra, missing = sorted(set(saved) - set(layers)), sorted(set(layers) - set(saved))
            raise UserError(f"basis file {path} covers other layers (missing {missing[:3]}, extra {extra[:3]}); "
                            f"it was made for another LoRA target set")
        if meta.get("reference", "") != reference:
            raise UserError(f"basis file {path} was built with reference set {meta.get('reference') or 'none'}, "
                            f"this recipe names {reference or 'none'}; restore subspace.reference's files or start "
                            f"over with overwrite=true")
        return {k: f.get_tensor(k) for k in f.keys()}
