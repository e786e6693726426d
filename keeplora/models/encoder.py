"""Samples to token ids, labels and media tensors for one loaded model.

The conversation is rendered through the checkpoint's chat template into prompt and answer segments
(``keeplora.data.chat``), each tokenised on its own, so the loss mask is exact by construction. Each media
token in the rendered text is expanded to that item's number of placeholder tokens.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from ..config import ModelCfg
from ..data.batching import IGNORE, collate_generate, collate_train, to_device
from ..data.chat import PLACEHOLDER, conversation_segments
from ..data.media import MediaError
from ..data.records import DataError, Sample
from .base import LoadedModel, MediaItem, ModelAdapter

__all__ = ["Encoder"]

_TOKEN_TYPE = {"image": 1, "video": 2}       # transformers' modality-id convention


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
        fill = {kind: self.adapter.media_fill_token.get(kind, text) for kind, text in tokens.items()}
        self._token_id = {kind: tok.convert_tokens_to_ids(text) for kind, text in fill.items()}
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
            item = pending[kind].pop(0)
            ids += (tok(item.text, add_special_tokens=False).input_ids if item.text is not None
                    else [self._token_id[kind]] * item.num_tokens)
            pos = m.end()
        return ids + tok(text[pos:], add_special_tokens=False).input_ids

    def _segments(self, sample: Sample, with_answers: bool) -> list[tuple[str, bool]]:
        template = None if self.cfg.prompt_template else self.loaded.chat_template
        return conversation_segments(self.loaded.tokenizer, sample.turns, template=template,
                                     prompt_format=self.cfg.prompt_template or self.adapter.default_prompt,
                                     media_text=self.adapter.media_text, system=sample.system or self.cfg.system_prompt,
                                     with_answers=with_answers)

    def prompt_text(self, sample: Sample) -> str:
        """The rendered prompt with one placeholder per media item, before expansion: what an engine that
        runs the checkpoint's own processor (vLLM) is given. Its tokenizer adds the BOS where it has one."""
        return "".join(text for text, _ in self._segments(sample, with_answers=False))

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
        if self.adapter.token_types_key:
            out[self.adapter.token_types_key] = [self._type_of_id.get(i, 0) for i in ids]
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
