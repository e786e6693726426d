"""Per-layer statistics over a dataset at the current (merged) weights, LoRA absent: the one seam methods use.

A method asks for a statistic by handing the task context an ``Accumulator`` (``ctx.statistics(Acc, data)``):
the runner hooks every adapted linear, runs the named data (the task's evenly spaced subset, or the
reference set) through the model — a forward per batch, plus a backward when the accumulator needs each
layer's output gradient — feeds the accumulator each layer's inputs ``x`` (…, d_in) and, for backward
accumulators, output gradients ``δ`` (…, d_out), sums its tensors over ranks, and yields its per-layer
results. Layers are split into passes whose fp32 state fits ``subspace.pass_memory_mb``. No base weight
ever requires grad: only activation gradients flow, so no (d_out × d_in) weight gradient is formed by
autograd.

The accumulators this package's methods use:

* ``GradientMean``: the exact mean gradient ``Σ δ xᵀ / batches`` (task start with ``gradient: exact``; the
  LLaVA/video "grad" basis growth).
* ``GradientSketches``: the same gradient's residual directions from a streamed sketch (``core.sketch``).
* ``InputCovariance``: ``Σ x xᵀ`` over non-padding tokens ("features" growth; the reference set).
* ``SummedInputs``: the official MTIL code's element-wise sum of per-batch token matrices.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from torch import nn

from .core import GradientSketch, SketchResult

__all__ = ["Accumulator", "GradientMean", "GradientSketches", "InputCovariance", "SummedInputs", "accumulate",
           "passes", "chunk_layers", "subset_indices", "mean_gradients", "sketch_gradients", "input_covariances",
           "summed_inputs"]

Forward = Callable[[nn.Module, dict], torch.Tensor]


class Accumulator:
    """A per-layer statistic summed over every batch's tokens and over ranks.

    ``backward``: the statistic needs each layer's output gradient (one backward pass per batch).
    ``layer_bytes``: fp32 bytes of one layer's state, so the runner can plan passes (0 = negligible).
    """
    backward: ClassVar[bool] = False

    def layer_bytes(self, layer: nn.Linear) -> int:
        return 0

    def start(self, layers: dict[str, nn.Linear]) -> None:
        """Allocate state for these layers (one pass)."""

    def add(self, name: str, x: torch.Tensor, delta: torch.Tensor | None, mask: torch.Tensor | None) -> None:
        """One batch at one layer: inputs (…, d_in), output gradients (…, d_out) or None, attention mask (B, T)."""
        raise NotImplementedError

    def tensors(self) -> list[torch.Tensor]:
        """Everything to sum over ranks, in the same order on every rank."""
        return []

    def results(self, batches: int) -> dict[str, Any]:
        raise NotImplementedError


def _tokens(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, x.shape[-1]).float()


class GradientMean(Accumulator):
    """``∂loss/∂W`` averaged over batches (d_out × d_in fp32), accumulated in place as ``Σ δ xᵀ``."""
    backward = True

    def layer_bytes(self, layer):
        return 4 * layer.in_features * layer.out_features

    def start(self, layers):
        self.sums = {n: torch.zeros(l.weight.shape, dtype=torch.float32, device=l.weight.device)
                     for n, l in layers.items()}

    def add(self, name, x, delta, mask):
        self.sums[name].addmm_(_tokens(delta).T, _tokens(x))

    def tensors(self):
        return list(self.sums.values())

    def results(self, batches):
        return {n: s / batches for n, s in self.sums.items()}


class GradientSketches(Accumulator):
    """Residual directions of each layer's mean gradient, from a single-pass sketch (``GradientSketch``),
    seeded per layer identically on every rank."""
    backward = True

    def __init__(self, bases: dict[str, torch.Tensor | None], k: int, seed: int):
        self.bases, self.k, self.seed = bases, k, seed

    def start(self, layers):
        self.sketches = {n: GradientSketch(layer.in_features, layer.out_features, self.bases.get(n), self.k,
                                           self.seed + i, layer.weight.device)
                         for i, (n, layer) in enumerate(sorted(layers.items()))}

    def add(self, name, x, delta, mask):
        self.sketches[name].update(_tokens(x), _tokens(delta))

    def tensors(self):
        return [t for s in self.sketches.values() for t in s.tensors()]

    def results(self, batches) -> dict[str, SketchResult]:
        return {n: s.result(batches) for n, s in self.sketches.items()}


class InputCovariance(Accumulator):
    """Uncentred input covariance ``Σ x xᵀ`` (d_in × d_in) over non-padding tokens.

    Layers fed the same input tensor (q/k/v, gate/up) share one product per batch: the last input is kept
    (so its memory cannot be reused by another tensor while it is the cache key) with its ``xᵀx``.
    """

    def layer_bytes(self, layer):
        return 4 * layer.in_features * layer.in_features

    def start(self, layers):
        self.covs = {n: torch.zeros(l.in_features, l.in_features, device=l.weight.device) for n, l in layers.items()}
        self._last: tuple | None = None

    def add(self, name, x, delta, mask):
        key = (x.data_ptr(), tuple(x.shape), x.dtype)
        if self._last is None or self._last[0] != key:
            tokens = x
            if mask is not None and x.dim() == 3 and tuple(x.shape[:2]) == tuple(mask.shape):
                tokens = x[mask.to(x.device).bool()]          # padding tokens are not task inputs
            tokens = _tokens(tokens)
            self._last = (key, x, tokens.T @ tokens)
        self.covs[name] += self._last[2]

    def tensors(self):
        return list(self.covs.values())

    def results(self, batches):
        return self.covs


class SummedInputs(Accumulator):
    """``R = (Σ_b X_bᵀ) / n``: X_b = batch b's inputs flattened to (tokens, d_in), padding included.

    The official MTIL code's feature matrix (``accumulate_features``): a running *element-wise sum* of
    fixed-width batch matrices, not their concatenation and not a covariance. Its width must not change, so
    a batch with another token count (the last, partial one) is left out, as the official ``drop_last=True``
    does; every rank must see equal batch shapes.
    """

    def start(self, layers):
        self.names = sorted(layers)
        self.sums: dict[str, torch.Tensor] = {}
        self.counts = {n: torch.zeros(1, device=l.weight.device) for n, l in layers.items()}

    def add(self, name, x, delta, mask):
        x = _tokens(x).T                                              # (d_in, tokens)
        if name not in self.sums:
            self.sums[name] = x.clone()
        elif self.sums[name].shape != x.shape:
            return
        else:
            self.sums[name] += x
        self.counts[name] += 1

    def tensors(self):
        missing = [n for n in self.names if n not in self.sums]
        if missing:
            raise ValueError(f"no batch reached {missing[0]} (empty task subset)")
        return [self.sums[n] for n in self.names] + [self.counts[n] for n in self.names]

    def results(self, batches):
        return {n: self.sums[n] / self.counts[n] for n in self.names}


# ---------------------------------------------------------------------------------------------- the runner
def _all_reduce_sum(tensors: list[torch.Tensor]) -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1 and tensors:
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        offset = 0
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()


def _statistics_mode(model: nn.Module, backward: bool) -> bool:
    """Put the model in a statistics pass's mode; returns the mode to restore.

    Eval (no dropout), except for a backward pass with gradient checkpointing on: transformers recomputes
    activations only in training mode, and a 7B backward pass without it holds every activation (the VLMs
    here use no dropout in their decoders, so the numbers do not change; tested equal on the tiny model).
    """
    was_training = model.training
    model.train(backward and bool(getattr(model, "is_gradient_checkpointing", False)))
    return was_training


def _hooks(layers: dict[str, nn.Linear], acc: Accumulator, mask: list) -> list:
    """Forward hooks feeding the accumulator: inputs at once, or inputs with output gradients in backward."""
    def hook(name):
        def fn(_module, args, output):
            x = args[0].detach()
            if not acc.backward:
                acc.add(name, x, None, mask[0])
            elif output.requires_grad:
                output.register_hook(lambda g: acc.add(name, x, g, mask[0]))
        return fn
    return [layer.register_forward_hook(hook(name)) for name, layer in layers.items()]


def accumulate(model: nn.Module, layers: dict[str, nn.Linear], batches: Iterable[dict], forward: Forward,
               acc: Accumulator) -> dict[str, Any]:
    """One pass of ``batches`` (this rank's share) through the model into ``acc``; results summed over ranks."""
    acc.start(layers)
    mask: list[torch.Tensor | None] = [None]                  # the current batch's attention mask (B, T)
    handles = _hooks(layers, acc, mask)
    count = torch.zeros(1, device=next(iter(layers.values())).weight.device)
    was_training = _statistics_mode(model, acc.backward)
    if acc.backward:
        model.enable_input_require_grads()
    try:
        with torch.set_grad_enabled(acc.backward):
            for batch in batches:
                mask[0] = batch.get("attention_mask")
                loss = forward(model, batch)
                if acc.backward:
                    loss.backward()
                del loss            # its graph holds every hook's inputs: free them before the next forward
                count += 1
    finally:
        for h in handles:
            h.remove()
        if acc.backward:
            model.disable_input_require_grads()
        model.train(was_training)
    _all_reduce_sum(acc.tensors() + [count])
    if count.item() == 0:
        raise ValueError("no batch to compute a statistic from (empty task subset)")
    return acc.results(int(count.item()))


def chunk_layers(sizes: dict[str, int], budget: int | None) -> list[list[str]]:
    """Split layers (in order) into passes whose state fits ``budget`` bytes; None = one pass.

    A layer larger than the budget gets a pass of its own (the least a pass can hold).
    """
    if budget is None:
        return [list(sizes)] if sizes else []
    chunks: list[list[str]] = []
    used = budget + 1
    for name, size in sizes.items():
        if used + size > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(name)
        used += size
    return chunks


def passes(model: nn.Module, layers: dict[str, nn.Linear], batches: Callable[[], Iterable[dict]],
           forward: Forward, make: Callable[[], Accumulator], budget: int | None) -> Iterator[tuple[str, Any]]:
    """Yield ``(layer, result)`` pass by pass, each pass holding at most ``budget`` bytes of state."""
    probe = make()
    sizes = {n: probe.layer_bytes(layer) for n, layer in layers.items()}
    for chunk in chunk_layers(sizes, budget):
        yield from accumulate(model, {n: layers[n] for n in chunk}, batches(), forward, make()).items()


def subset_indices(n: int, ratio: float, cap: int | None = None) -> list[int]:
    """``torch.linspace(0, n-1, int(ratio·n)).long()`` as the official ``extract_gradients.py`` (at least 1),
    with at most ``cap`` indices when one is given (``subspace.grad_samples``).

    ``.long()`` truncates: for n = 24,000 and ratio 0.2 half of the indices differ from rounding.
    """
    k = max(1, int(ratio * n) if cap is None else min(int(ratio * n), cap))
    return torch.linspace(0, n - 1, k).long().tolist()


# ------------------------------------------------------------------------------ one-call forms (benches, tests)
def mean_gradients(model, layers, batches, forward) -> dict[str, torch.Tensor]:
    return accumulate(model, layers, batches, forward, GradientMean())


def sketch_gradients(model, layers, batches, forward, bases, k: int, seed: int) -> dict[str, SketchResult]:
    return accumulate(model, layers, batches, forward, GradientSketches(bases, k, seed))


def input_covariances(model, layers, batches, forward) -> dict[str, torch.Tensor]:
    return accumulate(model, layers, batches, forward, InputCovariance())


def summed_inputs(model, layers, batches, forward) -> dict[str, torch.Tensor]:
    return accumulate(model, layers, batches, forward, SummedInputs())
