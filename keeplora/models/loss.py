"""The training objective of a generative VLM, with vocabulary logits only where a label is.

A VLM sample is a long prompt (system turn, image tokens, question) and a short answer: only the answer's
tokens carry a label. The model's own ``.loss`` still projects *every* position onto the vocabulary — for
SmolLM2 (49,152 × 576) that head is about a fifth of the forward FLOPs, and the fp32 logits of a
micro-batch of 8 × 100 tokens take 157 MB, all to be masked out. transformers' ``logits_to_keep`` takes a
boolean ``(batch, sequence)`` mask; the loss here asks for exactly the positions whose next token is
labelled and is the same mean next-token cross-entropy as the model's own (``ForCausalLMLoss``: fp32
logits, ``ignore_index=-100``, mean over labelled tokens). Models without the argument (CLIP, older
transformers) get their own ``.loss``. Measured side by side: ``bench/answer_loss.py``.
"""
from __future__ import annotations

import inspect
from functools import cache

import torch
import torch.nn.functional as F

__all__ = ["answer_loss", "keeps_logits_mask"]

IGNORE = -100


def _unwrapped(model):
    """The transformers model under a DeepSpeed engine (``.module``) and a PEFT wrapper."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


@cache
def _forward_takes_mask(cls: type) -> bool:
    try:
        from transformers.modeling_utils import slice_logits_to_keep  # noqa: F401  (boolean masks since then)
    except ImportError:
        return False
    return "logits_to_keep" in inspect.signature(cls.forward).parameters


def keeps_logits_mask(model) -> bool:
    """Whether ``model`` (plain, PEFT-wrapped or a DeepSpeed engine) computes logits for a boolean mask."""
    return _forward_takes_mask(type(_unwrapped(model)))


def answer_loss(model, inputs: dict) -> torch.Tensor:
    """Mean next-token cross-entropy of ``inputs["labels"]`` (a ``(batch, sequence)`` tensor, -100 where
    unlabelled) under ``model``, computing logits at labelled positions only where the model allows it."""
    labels = inputs.get("labels")
    if labels is None or labels.ndim != 2 or not keeps_logits_mask(model):
        return model(**inputs).loss
    targets = labels[:, 1:]
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = targets != IGNORE                      # position t predicts token t + 1
    rest = {k: v for k, v in inputs.items() if k != "labels"}
    logits = model(**rest, logits_to_keep=keep).logits    # (labelled tokens, vocab)
    return F.cross_entropy(logits.float(), targets[targets != IGNORE], ignore_index=IGNORE)
