"""Samples to token ids, labels and media tensors; collators for training and for generation.

The conversation is rendered through the checkpoint's chat template into prompt and answer segments
(``models.chat``), each tokenised on its own, so the loss mask is exact by construction. Each media
token in the rendered text is expanded to that item's number of placeholder tokens.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from ..config import ModelCfg
from ..models import LoadedModel, MediaItem, ModelAdapter
from ..models.chat import PLACEHOLDER, conversation_segments
from ..models.media import MediaError
from .records import DataError, Sample

__all__ = ["Encoder", "EncodedDataset", "collate_train", "collate_generate", "to_device"]

IGNORE = -100
_TOKEN_TYPE = {"image": 1, "video": 2}       # transformers' mm_token_type_ids convention


@dataclass
class Encoder:
    """Turns a ``Sample`` into model inputs for one loaded model."""
    adapter: ModelAdapter
    loaded: LoadedModel
    cfg: ModelCfg
    max_length: int = 2048

    def __post_init__(self):
        tokens = {kind: self.adapter.media_token[kind] for kind in self.adapter.modalities}
        self._kind_of = {text: kind for kind, text in tokens.items()}
        self._media_re = re.compile("|".join(re.escape(t) for t in tokens.values()))
        tok = self.loaded.tokenizer
        self._token_id = {kind: tok.convert_tokens_to_ids(text) for kind, text in tokens.items()}
        self._type_of_id = {self._token_id[k]: v for k, v in _TOKEN_TYPE.items() if k in self._token_id}

    def _text_ids(self, text: str, pending: dict[str, list[MediaItem]], sample: Sample) -> list[int]:
        """Token ids of one segment; each media token takes the next item of its kind's placeholder count.

        Per-kind order, not global order: llava-hf's templates render a turn's images before its text.
        """
        tok, ids, pos = self.loaded.tokenizer, [], 0
        for m in self._media_re.finditer(text):
            ids += tok(text[pos:m.start()], add_special_tokens=False).input_ids
            kind = self._kind_of[m.group(0)]
            if not pending.get(kind):
                raise DataError(f"sample {sample.id!r}: the text has more <{kind}> placeholders than {kind} files")
            ids += [self._token_id[kind]] * pending[kind].pop(0).num_tokens
            pos = m.end()
        return ids + tok(text[pos:], add_special_tokens=False).input_ids

    def _segments(self, sample: Sample, with_answers: bool) -> list[tuple[str, bool]]:
        template = None if self.cfg.prompt_template else self.loaded.chat_template
        return conversation_segments(self.loaded.tokenizer, sample.turns, template=template,
                                     prompt_format=self.cfg.prompt_template or self.adapter.default_prompt,
                                     media_text=self.adapter.media_text, system=self.cfg.system_prompt,
                                     with_answers=with_answers)

    def encode(self, sample: Sample, with_answers: bool = True) -> dict:
        for kind, _ in sample.media:
            if kind not in self.adapter.modalities:
                raise DataError(f"sample {sample.id!r}: model family {self.adapter.family!r} takes no <{kind}> input")
        media = [(kind, self._load_media(kind, path, sample)) for kind, path in sample.media]
        segments = self._segments(sample, with_answers)
        tok, pending = self.loaded.tokenizer, {}
        for kind, item in media:
            pending.setdefault(kind, []).append(item)
        bos = tok.bos_token_id is not None and not segments[0][0].startswith(tok.bos_token)
        ids, labels = ([tok.bos_token_id], [IGNORE]) if bos else ([], [])
        for text, is_answer in segments:
            seg = self._text_ids(text, pending, sample)
            ids += seg
            labels += seg if is_answer else [IGNORE] * len(seg)
        if left := sum(len(v) for v in pending.values()):
            raise DataError(f"sample {sample.id!r}: {left} media file(s) have no placeholder left in the "
                            f"text; put one <image>/<video> per file")
        if len(ids) > self.max_length:
            raise DataError(f"sample {sample.id!r}: {len(ids)} tokens > data.max_length {self.max_length}; "
                            f"raise data.max_length or shorten the sample")
        if with_answers and all(x == IGNORE for x in labels):
            raise DataError(f"sample {sample.id!r}: every label is masked (no answer tokens)")
        out = {"id": sample.id, "input_ids": ids, "labels": labels, "media": [m for _, m in media],
               "answers": sample.answers, "question": PLACEHOLDER.sub("", sample.turns[-1][0]).strip()}
        if self.adapter.needs_token_types:
            out["mm_token_type_ids"] = [self._type_of_id.get(i, 0) for i in ids]
        return out

    def collate_train(self, items: list[dict | None]) -> dict | None:
        return collate_train(items, self.loaded.tokenizer.pad_token_id)

    def collate_predict(self, items: list[dict | None]) -> dict | None:
        return collate_generate(items, self.loaded.tokenizer.pad_token_id)

    def predict(self, model, batch: dict, device: torch.device, max_new_tokens: int) -> list[str]:
        """Greedy answers of one ``collate_predict`` batch (left padding, KV cache)."""
        tok = self.loaded.tokenizer
        inputs = to_device(batch["inputs"], device, next(model.parameters()).dtype)
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        return [t.strip() for t in tok.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)]

    def _load_media(self, kind: str, path, sample: Sample) -> MediaItem:
        try:
            return self.adapter.encode_media(self.loaded, kind, path)
        except MediaError as exc:
            raise DataError(f"sample {sample.id!r}: {exc}") from None


class EncodedDataset(Dataset):
    """Lazily encoded samples; with ``skip_bad`` a broken sample is counted and skipped, not fatal."""

    def __init__(self, samples: list[Sample], encoder: Encoder, with_answers: bool = True, skip_bad: bool = False):
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
    """Padded per-token tensors: ids, attention mask, labels (training), modality ids (Qwen2-VL)."""
    ids = [it["input_ids"] for it in items]
    out = {"input_ids": _pad(ids, pad_id, left), "attention_mask": _pad([[1] * len(s) for s in ids], 0, left)}
    if labels:
        out["labels"] = _pad([it["labels"] for it in items], IGNORE, left)
    if "mm_token_type_ids" in items[0]:
        out["mm_token_type_ids"] = _pad([it["mm_token_type_ids"] for it in items], 0, left)
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
