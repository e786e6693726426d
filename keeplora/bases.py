"""Protected bases on disk: safetensors (fp32) plus metadata saying which model and layers they belong to.

A basis file applied to another model, or to a different set of adapted layers, would silently
protect the wrong directions; ``load_bases`` refuses it with one line saying what differs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .errors import UserError

__all__ = ["save_bases", "load_bases"]


def save_bases(path: Path, bases: dict[str, torch.Tensor], model: str, family: str, after_task: str) -> None:
    """Write atomically (temporary name, then rename)."""
    meta = {"model": model, "model_family": family, "after_task": after_task,
            "layers": json.dumps(sorted(bases))}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.detach().to(torch.float32).contiguous().cpu() for k, v in bases.items()}, str(tmp), metadata=meta)
    os.replace(tmp, path)


def load_bases(path: Path, model: str, family: str, layers: list[str]) -> dict[str, torch.Tensor]:
    """Bases saved by ``save_bases`` for exactly this model and these adapted layers."""
    if not Path(path).is_file():
        raise UserError(f"basis file {path} not found")
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
        return {k: f.get_tensor(k) for k in f.keys()}
