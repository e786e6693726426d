"""Task statistics of the adapted linears at the current (merged) weights, LoRA absent.

* ``mean_gradients``: the data-averaged gradient of each weight (method step 1 and the LLaVA/video
  "grad" basis growth), exact: accumulated in place from each layer's inputs and output gradients, so
  it costs one fp32 (d_out × d_in) sum per layer and callers bound memory with ``chunk_layers`` (one
  pass per chunk). Batches of the evenly spaced subset are sharded over ranks and the sums all-reduced,
  so every rank ends with the same mean.
* ``sketch_gradients``: the default. The same gradient, never formed: forward hooks keep each layer's
  input, a hook on its output gradient streams both into a small randomized sketch (``core.sketch``);
  base weights never require grad, so no (d_out × d_in) gradient is materialised.
* ``input_covariances``: ``Σ x xᵀ`` of each layer's inputs over non-padding tokens (the "features"
  growth, streamed into a (d_in, d_in) accumulator instead of storing the token matrix).
* ``summed_inputs``: the official MTIL code's "features" statistic, the element-wise sum of each batch's
  (tokens × d_in) input matrix (``features_summed`` growth, kept for parity with the published numbers).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.distributed as dist
from torch import nn

from .core import GradientSketch, SketchResult

__all__ = ["subset_indices", "mean_gradients", "sketch_gradients", "input_covariances", "summed_inputs",
           "statistic_bytes", "chunk_layers"]


def subset_indices(n: int, ratio: float) -> list[int]:
    """``torch.linspace(0, n-1, int(ratio·n)).long()`` as the official ``extract_gradients.py`` (at least 1).

    ``.long()`` truncates: for n = 24,000 and ratio 0.2 half of the indices differ from rounding.
    """
    k = max(1, int(ratio * n))
    return torch.linspace(0, n - 1, k).long().tolist()


def _all_reduce_sum(tensors: list[torch.Tensor]) -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        offset = 0
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()


def _statistics_mode(model: nn.Module) -> bool:
    """Put the model in the mode of a task-statistics pass; returns the mode to restore.

    Eval (no dropout), except with gradient checkpointing on: transformers recomputes activations only in
    training mode, and a 7B backward pass without it holds every activation (the VLMs here use no dropout
    in their decoders, so the numbers do not change; tested equal on the tiny model).
    """
    was_training = model.training
    model.train(bool(getattr(model, "is_gradient_checkpointing", False)))
    return was_training


def _output_gradient_passes(model: nn.Module, layers: dict[str, nn.Linear], batches: Iterable[dict],
                            forward: Callable[[nn.Module, dict], torch.Tensor], on_tokens) -> torch.Tensor:
    """Backward every batch, calling ``on_tokens(name, x, δ)`` with each layer's (tokens × d_in) inputs and
    (tokens × d_out) output gradients; returns the batch count (a 1-element tensor, not yet all-reduced).

    Only activation gradients flow (the input embeddings are made to require grad; no base weight does), so
    no (d_out × d_in) weight gradient is ever formed by autograd.
    """
    def hook(name):
        def fn(_module, args, output):
            if output.requires_grad:
                x = args[0].detach()
                output.register_hook(lambda g: on_tokens(name, x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])))
        return fn

    handles = [layer.register_forward_hook(hook(name)) for name, layer in layers.items()]
    count = torch.zeros(1, device=next(iter(layers.values())).weight.device)
    was_training = _statistics_mode(model)
    model.enable_input_require_grads()
    try:
        for batch in batches:
            forward(model, batch).backward()
            count += 1
    finally:
        for h in handles:
            h.remove()
        model.disable_input_require_grads()
        model.train(was_training)
    return count


def mean_gradients(model: nn.Module, layers: dict[str, nn.Linear], batches: Iterable[dict],
                   forward: Callable[[nn.Module, dict], torch.Tensor]) -> dict[str, torch.Tensor]:
    """Mean over batches (and ranks) of ``∂loss/∂W`` for each layer; (d_out, d_in) fp32 each.

    Exact: ``∂loss/∂W = Σ_tokens δ xᵀ`` is accumulated in place from each layer's inputs and output
    gradients (one fp32 (d_out × d_in) sum per layer, nothing else), so a caller bounds memory by passing
    a subset of ``layers`` per pass (``chunk_layers``).
    """
    sums = {n: torch.zeros(l.weight.shape, dtype=torch.float32, device=l.weight.device) for n, l in layers.items()}

    def accumulate(name, x, delta):
        sums[name].addmm_(delta.T.float(), x.float())

    count = _output_gradient_passes(model, layers, batches, forward, accumulate)
    _all_reduce_sum(list(sums.values()) + [count])
    if count.item() == 0:
        raise ValueError("no batch to estimate the task gradient from (empty task subset)")
    return {n: s / count for n, s in sums.items()}


def sketch_gradients(model: nn.Module, layers: dict[str, nn.Linear], batches: Iterable[dict],
                     forward: Callable[[nn.Module, dict], torch.Tensor], bases: dict[str, torch.Tensor | None],
                     k: int, seed: int) -> dict[str, SketchResult]:
    """Residual directions of each layer's mean gradient over batches (and ranks), from streamed sketches.

    The sketches are seeded per layer identically on every rank and summed with one all-reduce.
    """
    sketches = {n: GradientSketch(layer.in_features, layer.out_features, bases.get(n), k, seed + i,
                                  layer.weight.device) for i, (n, layer) in enumerate(sorted(layers.items()))}
    count = _output_gradient_passes(model, layers, batches, forward,
                                    lambda name, x, delta: sketches[name].update(x, delta))
    _all_reduce_sum([t for s in sketches.values() for t in s.tensors()] + [count])
    if count.item() == 0:
        raise ValueError("no batch to estimate the task gradient from (empty task subset)")
    return {n: s.result(int(count.item())) for n, s in sketches.items()}


def statistic_bytes(layer: nn.Linear, statistic: str) -> int:
    """fp32 bytes one layer's accumulator takes: a gradient (d_out × d_in) or a covariance (d_in × d_in)."""
    if statistic == "gradient":
        return 4 * layer.in_features * layer.out_features
    if statistic == "covariance":
        return 4 * layer.in_features * layer.in_features
    raise ValueError(f"unknown statistic {statistic!r}")


def chunk_layers(sizes: dict[str, int], budget: int | None) -> list[list[str]]:
    """Split layers (in order) into passes whose accumulators fit ``budget`` bytes; None = one pass.

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


def _input_passes(model: nn.Module, layers: dict[str, nn.Linear], batches: Iterable[dict],
                  forward: Callable[[nn.Module, dict], torch.Tensor], hook, each_batch=None) -> None:
    """Forward every batch in eval mode with ``hook(name)`` as each layer's pre-hook (sees its inputs)."""
    handles = [layer.register_forward_pre_hook(hook(name)) for name, layer in layers.items()]
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            if each_batch is not None:
                each_batch(batch)
            forward(model, batch)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


@torch.no_grad()
def input_covariances(model: nn.Module, layers: dict[str, nn.Linear], batches: Iterable[dict],
                      forward: Callable[[nn.Module, dict], torch.Tensor]) -> dict[str, torch.Tensor]:
    """Uncentred input covariance ``Σ_tokens x xᵀ`` (d_in, d_in) of each layer, summed over ranks."""
    covs = {n: torch.zeros(l.in_features, l.in_features, device=l.weight.device) for n, l in layers.items()}
    mask: list[torch.Tensor | None] = [None]            # the current batch's attention mask (B, T)

    def hook(name):
        def fn(_module, args):
            x = args[0].detach()
            m = mask[0]
            if m is not None and x.dim() == 3 and tuple(x.shape[:2]) == tuple(m.shape):
                x = x[m.to(x.device).bool()]           # padding tokens are not task inputs
            x = x.reshape(-1, x.shape[-1]).float()
            covs[name].addmm_(x.T, x)
        return fn

    def each_batch(batch):
        mask[0] = batch.get("attention_mask")

    _input_passes(model, layers, batches, forward, hook, each_batch)
    _all_reduce_sum(list(covs.values()))
    return covs


@torch.no_grad()
def summed_inputs(model: nn.Module, layers: dict[str, nn.Linear], batches: Iterable[dict],
                  forward: Callable[[nn.Module, dict], torch.Tensor]) -> dict[str, torch.Tensor]:
    """``R = (Σ_b X_bᵀ) / n`` per layer: X_b = batch b's inputs flattened to (tokens, d_in), padding included.

    This is the official MTIL code's feature matrix (``accumulate_features``): a running *element-wise sum*
    of fixed-width batch matrices, not their concatenation and not a covariance. Its width must not change,
    so a batch with another token count (the last, partial one) is left out, as the official
    ``drop_last=True`` does. Summed over ranks (equal batch shapes on every rank).
    """
    sums: dict[str, torch.Tensor] = {}
    counts = {n: torch.zeros(1, device=l.weight.device) for n, l in layers.items()}

    def hook(name):
        def fn(_module, args):
            x = args[0].detach()
            x = x.reshape(-1, x.shape[-1]).float().T                  # (d_in, tokens)
            if name not in sums:
                sums[name] = x.clone()
            elif sums[name].shape != x.shape:
                return
            else:
                sums[name] += x
            counts[name] += 1
        return fn

    _input_passes(model, layers, batches, forward, hook)
    missing = sorted(set(layers) - set(sums))
    if missing:
        raise ValueError(f"no batch reached {missing[0]} (empty task subset)")
    _all_reduce_sum([sums[n] for n in sorted(sums)] + [counts[n] for n in sorted(counts)])
    return {n: sums[n] / counts[n] for n in layers}
