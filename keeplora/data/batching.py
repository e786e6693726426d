"""Encoded samples as a dataset, and the collators for training and for generation.

What turns one sample into token ids, labels and media tensors depends on the model: that is
``keeplora.models.Encoder``; this module only needs something with ``encode(sample, with_answers)``.
"""
from __future__ import annotations

from typing import Protocol

import torch
from torch.utils.data import Dataset

from .records import DataError, Sample

__all__ = ["EncodedDataset", "SampleEncoder", "collate_train", "collate_generate", "to_device", "IGNORE"]

IGNORE = -100
# Per-token modality ids, padded with 0 (text) where a family's encoder writes them (Qwen, Gemma 3).
TOKEN_TYPE_KEYS = ("mm_token_type_ids", "token_type_ids")


class SampleEncoder(Protocol):
    def encode(self, sample: Sample, with_answers: bool = True) -> dict: ...


class EncodedDataset(Dataset):
    """Lazily encoded samples; with ``skip_bad`` a broken sample is counted and skipped, not fatal."""

    def __init__(self, samples: list[Sample], encoder: SampleEncoder, with_answers: bool = True,
                 skip_bad: bool = False):
        self.samples, self.encoder, self.with_answers, self.skip_bad = samples, encoder, with_answers, skip_bad
        self.skipped: dict[str, str] = {}       # sample id -> the one-line reason (once, however many epochs)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict | None:
        try:
            return self.encoder.encode(self.samples[i], self.with_answers)
        except DataError as exc:
            if not self.skip_bad:
                raise
            self.skipped[self.samples[i].id] = str(exc)
            return None


def _media_tensors(items: list[dict]) -> dict:
    """Every item's media tensors concatenated along the item axis, in sample order.

    Items whose trailing shapes differ (LLaVA-NeXT's per-image tile counts) are zero-padded to the
    largest; the model reads each image's real tile count from ``image_sizes``.
    """
    per_key: dict[str, list[torch.Tensor]] = {}
    for it in items:
        for media in it["media"]:
            for key, t in media.tensors.items():
                per_key.setdefault(key, []).append(t)
    out = {}
    for key, ts in per_key.items():
        shape = [max(t.shape[d] for t in ts) for d in range(1, ts[0].dim())]
        ts = [t if list(t.shape[1:]) == shape else _pad_to(t, shape) for t in ts]
        out[key] = torch.cat(ts)
    return out


def _pad_to(t: torch.Tensor, shape: list[int]) -> torch.Tensor:
    out = t.new_zeros((t.shape[0], *shape))
    out[(slice(None), *(slice(0, n) for n in t.shape[1:]))] = t
    return out


def _pad(seqs: list[list[int]], value: int, left: bool) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    rows = [([value] * (width - len(s)) + s) if left else (s + [value] * (width - len(s))) for s in seqs]
    return torch.tensor(rows, dtype=torch.long)


def _token_tensors(items: list[dict], pad_id: int, left: bool, labels: bool) -> dict:
    """Padded per-token tensors: ids, attention mask, labels (training), modality ids (Qwen, Gemma 3)."""
    ids = [it["input_ids"] for it in items]
    out = {"input_ids": _pad(ids, pad_id, left), "attention_mask": _pad([[1] * len(s) for s in ids], 0, left)}
    if labels:
        out["labels"] = _pad([it["labels"] for it in items], IGNORE, left)
    for key in TOKEN_TYPE_KEYS:
        if key in items[0]:
            out[key] = _pad([it[key] for it in items], 0, left)
    return out


def collate_train(items: list[dict | None], pad_id: int) -> dict | None:
    """Right-padded batch with labels; skipped (None) samples are dropped."""
    items = [it for it in items if it is not None]
    if not items:
        return None
    return {**_token_tensors(items, pad_id, left=False, labels=True), **_media_tensors(items)}


def collate_generate(items: list[dict | None], pad_id: int) -> dict | None:
    """Left-padded prompts for batched greedy generation, plus ids and reference answers."""
    items = [it for it in items if it is not None]
    if not items:
        return None
    batch = {**_token_tensors(items, pad_id, left=True, labels=False), **_media_tensors(items)}
    return {"inputs": batch, "ids": [it["id"] for it in items], "answers": [it["answers"] for it in items],
            "questions": [it["question"] for it in items]}


def to_device(batch: dict, device: torch.device, dtype: torch.dtype) -> dict:
    """Move a collated batch; floating tensors (pixels) take the model's dtype, ids stay integer."""
    return {k: v.to(device, dtype) if v.is_floating_point() else v.to(device) for k, v in batch.items()}
