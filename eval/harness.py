"""Batched prediction over a task's test set (greedy generation, or arg-max classification for CLIP-style
encoders), sharded across ranks, scored on rank 0.

Each rank predicts its contiguous shard and the predictions are gathered with ``all_gather_object``, so
the score is identical on every rank.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from eval.scorers import TaskScore, score_task
from keeplora.data import EncodedDataset, Sample
from keeplora.models import Encoder

__all__ = ["predict", "evaluate_task", "with_sample_scorers"]


def _shard(items: list, rank: int, world: int) -> list:
    per = -(-len(items) // world)
    return items[rank * per:(rank + 1) * per]


@torch.no_grad()
def predict(model, encoder: Encoder, samples: list[Sample], batch_size: int, max_new_tokens: int,
            device: torch.device, shard: bool = True, desc: str | None = None) -> list[dict]:
    """``[{"id", "question", "prediction", "answers"}]`` for all samples, in input order, on every rank.

    ``shard=False``: this rank predicts exactly ``samples`` (a caller that shards itself, e.g. lmms-eval).
    ``desc``: a progress bar of that name on rank 0.
    """
    distributed = shard and dist.is_initialized() and dist.get_world_size() > 1
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    dataset = EncodedDataset(_shard(samples, rank, world), encoder, with_answers=False)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=encoder.collate_predict)
    was_training = model.training
    model.eval()
    mine = []
    for batch in tqdm(loader, desc=desc, leave=False, disable=desc is None or rank != 0):
        texts = encoder.predict(model, batch, device, max_new_tokens)
        mine += [{"id": i, "question": q, "prediction": t, "answers": a}
                 for i, q, t, a in zip(batch["ids"], batch["questions"], texts, batch["answers"])]
    model.train(was_training)
    if not distributed:
        return mine
    gathered = [None] * world
    dist.all_gather_object(gathered, mine)
    return [p for part in gathered for p in part]


def with_sample_scorers(preds: list[dict], samples: list[Sample]) -> list[dict]:
    """Copy each sample's own scorer (if its test record names one) onto its prediction."""
    own = {s.id: s.scorer for s in samples if s.scorer}
    for p in preds:
        if p["id"] in own:
            p["scorer"] = own[p["id"]]
    return preds


def evaluate_task(model, encoder: Encoder, samples: list[Sample], scorer: str, batch_size: int,
                  max_new_tokens: int, device: torch.device, desc: str | None = None) -> tuple[TaskScore, list[dict]]:
    """The task's score (percent, with parts and notes) and the scored predictions."""
    preds = with_sample_scorers(predict(model, encoder, samples, batch_size, max_new_tokens, device, desc=desc),
                                samples)
    return score_task(scorer, preds), preds
