"""General ability without generation: how well the language model still predicts plain English text.

A general-suite entry ``{name: english, test: data/general/english.txt, scorer: text_likelihood}`` is
scored as ``100 · exp(−NLL)``, the geometric-mean probability (%) the model gives each next token of the
text (higher is better, like every other score here), with the NLL per token and the perplexity beside it.
The text is tokenised without special tokens and cut into fixed-length chunks; the same chunks at every
stage, so a change is the model's, not the sample's.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from eval.scorers import TaskScore

__all__ = ["SCORER", "text_likelihood", "read_text"]

SCORER = "text_likelihood"


def read_text(path: str | Path) -> str:
    from keeplora.errors import UserError
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise UserError(f"{path}: empty text for scorer {SCORER}; build it with python -m data_prep.english_text")
    return text


@torch.no_grad()
def text_likelihood(model, tokenizer, text: str, device: torch.device, chunk: int = 256, max_chunks: int = 64,
                    batch_size: int = 8) -> TaskScore:
    ids = tokenizer(text, add_special_tokens=False).input_ids
    chunks = [ids[i:i + chunk] for i in range(0, len(ids) - chunk + 1, chunk)][:max_chunks]
    if not chunks:
        chunks = [ids]
    was_training, total, count = model.training, 0.0, 0
    model.eval()
    for start in range(0, len(chunks), batch_size):
        x = torch.tensor(chunks[start:start + batch_size], device=device)
        loss = model(input_ids=x, attention_mask=torch.ones_like(x), labels=x).loss     # mean over predicted
        predicted = x.shape[0] * (x.shape[1] - 1)
        total, count = total + float(loss) * predicted, count + predicted
    model.train(was_training)
    nll = total / count
    return TaskScore(100.0 * math.exp(-nll), SCORER, {"nll_per_token": nll, "perplexity": math.exp(nll),
                                                      "tokens": count})
