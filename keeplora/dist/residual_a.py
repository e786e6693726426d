"""Trainable-A KeepLoRA++: keep every LoRA-A row off its protected basis after each optimizer step.

Projecting gradients does not confine Adam's update (m/√v is per-coordinate), so the *parameters*
are projected instead, right after the step: ``A ← A − (A B) Bᵀ``. A starts orthogonal to B, so this
equals projecting the step's change, and ``ΔW = s·B_lora·A`` never touches protected inputs,
whatever the optimizer.

Under ZeRO-1/2 the fp32 master of A is a flat fragment on its owner rank, possibly cutting rows in
two. Each rank computes the partial coefficients ``A_frag @ B`` of the fragments it owns; one
all-reduce of all coefficients (r × k per module) completes them; then every rank subtracts
``coef @ Bᵀ`` from its full low-precision copy of A and from the master fragment it owns. Nothing
is gathered, and all ranks apply identical arithmetic, so the copies stay bit-identical. Without a
partitioned optimizer (one rank, or ZeRO-0 in fp32) the module parameter is its own master: rank 0
contributes the coefficients and the same code path applies.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..core import fragment_coefficients

__all__ = ["Fragment", "ResidualAProjector", "deepspeed_fragments", "install_residual_a"]


@dataclass
class Fragment:
    """A LoRA-A parameter as this rank sees it."""
    lp: torch.Tensor                  # the full module parameter (every rank has it under ZeRO-1/2)
    basis: torch.Tensor               # (d_in, k) protected basis, fp32, on the parameter's device
    start: int = 0                    # offset of the owned slice in the flattened parameter
    hp: torch.Tensor | None = None    # owned fp32 master slice (a view into the optimizer's partition)
    owner: bool = False               # whether this rank contributes coefficients for this parameter


class ResidualAProjector:
    """Projects a fixed list of fragments; ``fragments`` is re-read at every call (views can change)."""

    def __init__(self, fragments_fn):
        self.fragments_fn = fragments_fn

    @torch.no_grad()
    def project(self) -> None:
        frags = self.fragments_fn()
        if not frags:
            return
        coefs = []
        for f in frags:
            shape = tuple(f.lp.shape)
            if f.owner:
                src = f.hp if f.hp is not None else f.lp.reshape(-1)
                coefs.append(fragment_coefficients(src, f.start, shape, f.basis).reshape(-1))
            else:
                coefs.append(torch.zeros(shape[0] * f.basis.shape[1], device=f.lp.device))
        flat = torch.cat(coefs)
        if dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(flat)
        offset = 0
        for f in frags:
            rows, k = f.lp.shape[0], f.basis.shape[1]
            coef = flat[offset:offset + rows * k].view(rows, k)
            offset += rows * k
            correction = coef @ f.basis.T                          # (rows, d_in), fp32
            if f.hp is not None:
                f.hp.sub_(correction.reshape(-1)[f.start:f.start + f.hp.numel()])
            # one formula on every rank (owner or not) keeps bf16 copies bit-identical
            f.lp.copy_((f.lp.float() - correction).to(f.lp.dtype))


def deepspeed_fragments(engine, params: list[tuple[torch.nn.Parameter, torch.Tensor]]) -> list[Fragment]:
    """Fragments from DeepSpeed's lp→hp linkage (ZeRO-1/2 and the bf16 optimizer), else unpartitioned."""
    partitioned = engine.zero_optimization_stage() > 0 or engine.bfloat16_enabled()
    rank = dist.get_rank() if dist.is_initialized() else 0
    out = []
    for p, basis in params:
        mapping = getattr(p, "_hp_mapping", None)
        if partitioned and mapping is not None:
            out.append(Fragment(p.data, basis, mapping.lp_fragment_address.start, mapping.hp_fragment, True))
        else:
            out.append(Fragment(p.data, basis, owner=not partitioned and rank == 0))
    return out


class _Handle:
    def __init__(self, engine, original_step):
        self.engine, self.original_step = engine, original_step

    def remove(self) -> None:
        self.engine.step = self.original_step


def install_residual_a(engine, params: list[tuple[torch.nn.Parameter, torch.Tensor]]) -> _Handle:
    """Wrap ``engine.step`` so that each optimizer step (accumulation boundary) is followed by a projection.

    ``params``: (LoRA-A parameter, its basis) in the same order on every rank. Returns a handle whose
    ``remove()`` restores the engine. The initial A is projected once too (bf16 casts round it).
    """
    device = next(iter(params))[0].device if params else None
    params = [(p, b.to(device=device, dtype=torch.float32)) for p, b in params]
    projector = ResidualAProjector(lambda: deepspeed_fragments(engine, params))
    original = engine.step

    def step(*args, **kwargs):
        boundary = engine.is_gradient_accumulation_boundary()
        result = original(*args, **kwargs)
        if boundary:
            projector.project()
        return result

    engine.step = step
    projector.project()
    return _Handle(engine, original)
