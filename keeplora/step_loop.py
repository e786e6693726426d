"""One task's optimizer steps: micro-batches with accumulation, the divergence guard, and the data position
that step checkpoints record (so a resumed task reads exactly the batches an uninterrupted one would)."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from .errors import UserError
from .models.loss import answer_loss

__all__ = ["Position", "StepStats", "TrainingDiverged", "SkipSampler", "run_steps", "any_rank", "stage_steps"]


class TrainingDiverged(UserError):
    """A non-finite loss or gradient: training stops, the last good checkpoint stays the resume point."""


@dataclass
class Position:
    epoch: int = 0
    micro_in_epoch: int = 0        # micro-batches this rank has consumed in ``epoch``
    done: int = 0                  # optimizer steps


@dataclass
class StepStats:
    """What one optimizer step reports: its last micro-batch's loss, the global gradient norm (None where
    the engine does not compute one), the learning rate of the first parameter group, and the tokens
    (attention mask) of its micro-batches on this rank with the seconds they took."""
    loss: float
    grad_norm: float | None
    lr: float
    tokens: int
    seconds: float


class SkipSampler(Sampler):
    """The wrapped sampler's order without its first ``skip`` indices (resuming inside an epoch)."""

    def __init__(self, sampler: Sampler, skip: int):
        self.sampler, self.skip = sampler, skip

    def __iter__(self) -> Iterator[int]:
        for i, idx in enumerate(self.sampler):
            if i >= self.skip:
                yield idx

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


def stage_steps(per_epoch: int, epochs: float, grad_accum: int, max_steps: int | None, tasks: int = 1) -> int:
    """Optimizer steps of one training stage: its epochs, capped at ``max_steps`` per task. Joint training's
    one stage on the union of ``tasks`` tasks gets the whole sequence's cap, so the multitask upper bound is
    trained as long as the sequence it bounds, not as long as one of its tasks."""
    steps = math.ceil(epochs * per_epoch / grad_accum)
    return min(steps, max_steps * tasks) if max_steps else steps


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on any (so that all ranks stop together, none left waiting)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return flag
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    t = torch.tensor([float(flag)], device=device)                 # NCCL reduces only GPU tensors
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _tokens(batch: dict) -> int:
    """Text tokens of a micro-batch (its attention mask; 0 for a classifier's image-only batch)."""
    mask = batch.get("attention_mask")
    return int(mask.sum()) if mask is not None else 0


def _diverged(what: str, task: str, done: int, resume_point: str) -> TrainingDiverged:
    return TrainingDiverged(f"task {task} step {done + 1}: {what} is not finite; stopped. Resume point kept: "
                            f"{resume_point}. Lower optim.lr (or check the data), then rerun the same command")


def run_steps(engine, loader_at: Callable[[int, int], object], total: int, gas: int, task: str, pos: Position,
              to_inputs: Callable[[dict], dict], after_step: Callable[[Position, StepStats], None],
              resume_point: Callable[[], str], regularizer: Callable[[], torch.Tensor | None]) -> None:
    """Train until ``pos.done == total``. ``loader_at(epoch, skip)`` yields an epoch's micro-batches after the
    first ``skip``; ``regularizer()`` is added to each loss (the method's); ``after_step`` runs at every
    optimizer step (logging, checkpoints)."""
    engine.train()
    micro, tokens, start = pos.done * gas, 0, time.perf_counter()
    while pos.done < total:
        for batch in loader_at(pos.epoch, pos.micro_in_epoch):
            if batch is None:
                raise UserError(f"task {task}: every sample of a micro-batch was skipped as bad; fix the data")
            tokens += _tokens(batch)
            loss = answer_loss(engine, to_inputs(batch))
            extra = regularizer()
            if extra is not None:
                loss = loss + extra
            if any_rank(not torch.isfinite(loss).item()):
                raise _diverged("the loss", task, pos.done, resume_point())
            engine.backward(loss)
            engine.step()
            micro += 1
            pos.micro_in_epoch += 1
            if micro % gas:
                continue
            norm = engine.get_global_grad_norm()
            if norm is not None and not math.isfinite(float(norm)):
                raise _diverged("the gradient norm", task, pos.done, resume_point())
            pos.done += 1
            after_step(pos, StepStats(loss.item(), None if norm is None else float(norm), float(engine.get_lr()[0]),
                                      tokens, time.perf_counter() - start))
            tokens, start = 0, time.perf_counter()          # a step checkpoint written in after_step is not a step
            if pos.done >= total:
                return
        pos.epoch, pos.micro_in_epoch = pos.epoch + 1, 0
