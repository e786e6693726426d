"""Samples to token ids, labels and media tensors; collators for training and for generation.

Prompt and answer are tokenised separately and concatenated, so the loss mask is exact by
construction (no re-tokenisation of the full text that can drift: LLaVA's "tokenization mismatch").
Each ``<image>``/``<video>`` placeholder is expanded to the model's number of media tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from ..config import ModelCfg
from ..models import LoadedModel, ModelAdapter
from ..models.media import MediaError
from .records import PLACEHOLDER, DataError, Sample

__all__ = ["Encoder", "EncodedDataset", "collate_train", "collate_generate", "to_device"]

IGNORE = -100


@dataclass
class Encoder:
    """Turns a ``Sample`` into model inputs for one loaded model."""
    adapter: ModelAdapter
    loaded: LoadedModel
    cfg: ModelCfg
    max_length: int = 2048

    def _text_ids(self, text: str) -> list[int]:
        tok, ids = self.loaded.tokenizer, []
        pos = 0
        for m in PLACEHOLDER.finditer(text):
            ids += tok(text[pos:m.start()], add_special_tokens=False).input_ids
            kind = m.group(1)
            if kind not in self.loaded.media_tokens:
                raise DataError(f"model family {self.adapter.family!r} takes no <{kind}> input")
            ids += [tok.convert_tokens_to_ids(f"<{kind}>")] * self.loaded.media_tokens[kind]
            pos = m.end()
        return ids + tok(text[pos:], add_special_tokens=False).input_ids

    def encode(self, sample: Sample, with_answers: bool = True) -> dict:
        tok = self.loaded.tokenizer
        ids = [tok.bos_token_id] if tok.bos_token_id is not None else []
        labels = [IGNORE] * len(ids)
        for question, answer in sample.turns:
            prompt = self._text_ids(self.adapter.prompt(self.cfg, question))
            ids += prompt
            labels += [IGNORE] * len(prompt)
            if with_answers:
                ans = tok(" " + answer.strip(), add_special_tokens=False).input_ids + [tok.eos_token_id]
                ids += ans
                labels += ans
        if len(ids) > self.max_length:
            raise DataError(f"sample {sample.id!r}: {len(ids)} tokens > data.max_length {self.max_length}; "
                            f"raise data.max_length or shorten the sample")
        if with_answers and all(x == IGNORE for x in labels):
            raise DataError(f"sample {sample.id!r}: every label is masked (no answer tokens)")
        media = [(kind, self._load_media(kind, path, sample)) for kind, path in sample.media]
        return {"id": sample.id, "input_ids": ids, "labels": labels, "media": media, "answers": sample.answers}

    def _load_media(self, kind: str, path, sample: Sample) -> torch.Tensor:
        try:
            return self.loaded.media.image(path) if kind == "image" else self.loaded.media.video(path)
        except MediaError as exc:
            raise DataError(f"sample {sample.id!r}: {exc}") from None


class EncodedDataset(Dataset):
    """Lazily encoded samples; with ``skip_bad`` a broken sample is counted and skipped, not fatal."""

    def __init__(self, samples: list[Sample], encoder: Encoder, with_answers: bool = True, skip_bad: bool = False):
        self.samples, self.encoder, self.with_answers, self.skip_bad = samples, encoder, with_answers, skip_bad
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict | None:
        try:
            return self.encoder.encode(self.samples[i], self.with_answers)
        except DataError as exc:
            if not self.skip_bad:
                raise
            self.skipped.append(str(exc))
            return None


def _media_tensors(items: list[dict]) -> dict:
    images = [t for it in items for kind, t in it["media"] if kind == "image"]
    videos = [t for it in items for kind, t in it["media"] if kind == "video"]
    out = {}
    if images:
        out["pixel_values"] = torch.stack(images)              # (N_img, 3, H, W)
    if videos:
        out["pixel_values_videos"] = torch.stack(videos)       # (N_vid, F, 3, H, W)
    return out


def _pad(seqs: list[list[int]], value: int, left: bool) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    rows = [([value] * (width - len(s)) + s) if left else (s + [value] * (width - len(s))) for s in seqs]
    return torch.tensor(rows, dtype=torch.long)


def collate_train(items: list[dict | None], pad_id: int) -> dict | None:
    """Right-padded batch with labels; skipped (None) samples are dropped."""
    items = [it for it in items if it is not None]
    if not items:
        return None
    ids = [it["input_ids"] for it in items]
    batch = {"input_ids": _pad(ids, pad_id, left=False),
             "labels": _pad([it["labels"] for it in items], IGNORE, left=False),
             "attention_mask": _pad([[1] * len(s) for s in ids], 0, left=False)}
    batch.update(_media_tensors(items))
    return batch


def collate_generate(items: list[dict | None], pad_id: int) -> dict | None:
    """Left-padded prompts for batched greedy generation, plus ids and reference answers."""
    items = [it for it in items if it is not None]
    if not items:
        return None
    ids = [it["input_ids"] for it in items]
    batch = {"input_ids": _pad(ids, pad_id, left=True),
             "attention_mask": _pad([[1] * len(s) for s in ids], 0, left=True)}
    batch.update(_media_tensors(items))
    return {"inputs": batch, "ids": [it["id"] for it in items], "answers": [it["answers"] for it in items]}


def to_device(batch: dict, device: torch.device, dtype: torch.dtype) -> dict:
    """Move a collated batch; floating tensors (pixels) take the model's dtype, ids stay integer."""
    return {k: v.to(device, dtype) if v.is_floating_point() else v.to(device) for k, v in batch.items()}
