"""The general reference set (``subspace.reference``): its samples, and a checksum that names it.

Its layer-input features are protected from step 0, so a basis built with one reference set must never be
resumed with another: the checksum (file bytes, sample count, energy) goes into every basis file's metadata
and ``load_bases`` compares it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .config import ReferenceCfg
from .data import read_train_file
from .errors import UserError
from .statistics import subset_indices

__all__ = ["read_reference"]


def read_reference(cfg: ReferenceCfg | None) -> tuple[list, str]:
    """``(samples, checksum)``; ``([], "")`` when the recipe names no reference set."""
    if cfg is None:
        return [], ""
    digest = hashlib.sha256(f"samples={cfg.samples};energy={cfg.energy}".encode())
    samples = []
    for i, name in enumerate(cfg.train):
        path = Path(name)
        if not path.is_file():
            raise UserError(f"subspace.reference.train[{i}]: file {path} not found; give LLaVA conversation "
                            f"JSON/JSONL of general data")
        digest.update(path.read_bytes())
        samples += read_train_file(path, cfg.media_root, "reference")
    if cfg.samples is not None and cfg.samples < len(samples):
        samples = [samples[j] for j in subset_indices(len(samples), cfg.samples / len(samples))]
    return samples, digest.hexdigest()[:16]
