"""Samples to (image, class) pairs for contrastive classifiers (CLIP): the MTIL track's data path.

A task's classes come from its ``classes`` JSON (``{"classnames": [...], "templates": [...]}``); a sample
is one image whose answer is one of those names. Each batch carries the tokenised class prompts it is
scored against, so the text encoder (and its LoRA) runs inside every training step, as in the MTIL code.
A batch that mixes tasks (joint training) holds every task's prompts once, and each sample's logits are
masked to its own task's classes; ``eval.label_set: all`` scores every sample against the merged list.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .batching import _pad, to_device
from .media import MediaError
from .records import DataError, Sample

__all__ = ["ClassSet", "read_class_set", "ClassEncoder", "MERGED"]

MERGED = "*all*"          # the class set that merges every task's classes (task-agnostic evaluation)


@dataclass
class ClassSet:
    """One label space: class names in label order and the prompt template (``{}`` = the class name)."""
    classnames: list[str]
    template: str

    def prompts(self) -> list[str]:
        return [self.template.replace("{}", c) for c in self.classnames]


def read_class_set(path: str | Path) -> ClassSet:
    """The first template is used, as the MTIL code uses ``templates[0]``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read the class list ({exc}); expected JSON with 'classnames' and "
                        f"'templates'") from None
    names, templates = data.get("classnames"), data.get("templates", ["a photo of a {}."])
    if not isinstance(names, list) or not names or not all(isinstance(c, str) for c in names):
        raise DataError(f"{path}: 'classnames' must be a non-empty list of strings")
    if len(set(names)) != len(names):
        raise DataError(f"{path}: class names must be unique (e.g. {next(c for c in names if names.count(c) > 1)!r})")
    if not templates or not isinstance(templates[0], str) or "{}" not in templates[0]:
        raise DataError(f"{path}: 'templates' must be a list of strings with a '{{}}' for the class name")
    return ClassSet(names, templates[0])


class ClassEncoder:
    """Turns samples into pixel tensors + label indices; batches add the class prompts they need."""

    def __init__(self, adapter, loaded, class_sets: dict[str, ClassSet], label_set: str = "task"):
        self.adapter, self.loaded, self.label_set = adapter, loaded, label_set
        self.sets = dict(class_sets)
        self.sets[MERGED] = ClassSet([c for s in class_sets.values() for c in s.classnames], "{}")
        self._prompt_ids = {name: [self._tokenise(p) for p in s.prompts()] for name, s in class_sets.items()}
        self._prompt_ids[MERGED] = [ids for name in class_sets for ids in self._prompt_ids[name]]
        self._index = {name: {c: i for i, c in enumerate(s.classnames)} for name, s in class_sets.items()}
        sizes = [len(s.classnames) for s in class_sets.values()]
        self._merged_offset = dict(zip(class_sets, (sum(sizes[:i]) for i in range(len(sizes)))))

    def _tokenise(self, prompt: str) -> list[int]:
        """Prompt ids ending in EOS (CLIP pools the text at its EOS token), padded to the text tower's context
        (77 for CLIP), as the official MTIL code's ``clip.tokenize``: the text tower's features, hence its
        bases, include the padding positions."""
        tok = self.loaded.tokenizer
        ids = tok(prompt).input_ids
        ids = ids if ids and ids[-1] == tok.eos_token_id else ids + [tok.eos_token_id]
        context = self.loaded.model.config.text_config.max_position_embeddings
        return ids + [tok.pad_token_id] * max(0, context - len(ids))

    def encode(self, sample: Sample, with_answers: bool = True) -> dict:
        if [k for k, _ in sample.media] != ["image"]:
            raise DataError(f"sample {sample.id!r}: a classifier takes exactly one image per sample")
        own = sample.task
        if own not in self._index:
            raise DataError(f"sample {sample.id!r}: task {sample.task!r} has no class list; give the task a "
                            f"'classes' file")
        answer = sample.answers[0] if sample.answers else sample.turns[-1][1]
        label = self._index[own].get(answer.strip())
        if label is None:
            raise DataError(f"sample {sample.id!r}: answer {answer!r} is not a class of task {own!r}; "
                            f"fix the sample or the task's classes file")
        kind, path = sample.media[0]
        try:
            item = self.adapter.encode_media(self.loaded, kind, path)
        except MediaError as exc:
            raise DataError(f"sample {sample.id!r}: {exc}") from None
        scored = MERGED if self.label_set == "all" else own
        if scored == MERGED:                               # its class's column in the merged list
            label += self._merged_offset[own]
        return {"id": sample.id, "pixel_values": item.tensors["pixel_values"], "label": label, "set": scored,
                "answers": sample.answers or [answer], "question": ""}

    def _batch(self, items: list[dict]) -> dict:
        """Pixels, the prompts of every class set in the batch (each once), labels and per-sample masks."""
        sets = list(dict.fromkeys(it["set"] for it in items))
        offsets, prompts = {}, []
        for name in sets:
            offsets[name] = len(prompts)
            prompts += self._prompt_ids[name]
        batch = {"pixel_values": torch.cat([it["pixel_values"] for it in items]),
                 "class_input_ids": _pad(prompts, self.loaded.tokenizer.pad_token_id, left=False),
                 # no padding mask, as OpenAI's CLIP: the causal mask alone keeps the EOS features exact
                 "class_attention_mask": _pad([[1] * len(p) for p in prompts], 0, left=False),
                 "labels": torch.tensor([offsets[it["set"]] + it["label"] for it in items])}
        if len(sets) > 1:                                  # mixed tasks: each sample scores its own classes
            own = torch.zeros(len(items), len(prompts), dtype=torch.bool)
            for row, it in enumerate(items):
                own[row, offsets[it["set"]]:offsets[it["set"]] + len(self._prompt_ids[it["set"]])] = True
            batch["class_mask"] = own
        return batch

    def collate_train(self, items: list[dict | None]) -> dict | None:
        items = [it for it in items if it is not None]
        return self._batch(items) if items else None

    def collate_predict(self, items: list[dict | None]) -> dict | None:
        items = [it for it in items if it is not None]
        if not items:
            return None
        batch = self._batch(items)
        del batch["labels"]
        columns = [c for name in dict.fromkeys(it["set"] for it in items) for c in self.sets[name].classnames]
        return {"inputs": batch, "columns": columns, "ids": [it["id"] for it in items],
                "answers": [it["answers"] for it in items], "questions": [it["question"] for it in items]}

    @torch.no_grad()
    def predict(self, model, batch: dict, device: torch.device, max_new_tokens: int = 0) -> list[str]:
        """The arg-max class name of every sample (``max_new_tokens`` is unused: nothing is generated)."""
        logits = model(**to_device(batch["inputs"], device, next(model.parameters()).dtype)).logits
        return [batch["columns"][i] for i in logits.argmax(-1).tolist()]
