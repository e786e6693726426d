"""Trainable-A KeepLoRA++: keep every LoRA-A row off its protected basis after each optimizer step.

Projecting gradients does not confine Adam's update (m/√v is per-coordinate), so the *parameters*
are projected instead, right after the step: ``A ← A − (A B) Bᵀ``. A starts orthogonal to B, so this
equals projecting the step's change, and ``ΔW = s·B_lora·A`` never touches protected inputs,
whatever the optimizer.

Under ZeRO-1/2 the fp32 master of A is a flat fragment on its owner rank, possibly cutting rows in
two, while every rank holds the whole module parameter. In fp32 that parameter is bit-equal to the
master, so each rank computes ``coef = A @ B`` locally (no communication). With bf16 parameters the
coefficients must come from the fp32 masters: each rank computes the partial ``A_frag @ B`` of the
fragments it owns and one all-reduce of all coefficients (r × k per module) completes them. Then every
rank subtracts ``coef @ Bᵀ`` from its whole module copy of A and from the master fragment it owns.
Nothing is gathered, and all ranks apply identical arithmetic, so the copies stay bit-identical.
Without a partitioned optimizer (one rank, or ZeRO-0 in fp32) the module parameter is its own master
and the same code path applies.
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
    """Projects a fixed list of fragments; buffers are allocated once.

    ``collective=False`` (fp32 parameters): every rank holds the whole parameter, bit-equal to its fp32
    master, so each rank computes the full coefficients itself and no communication is needed.
    ``collective=True`` (bf16/fp16 parameters): coefficients come from the owned fp32 master slices and
    are completed by one all-reduce.
    """

    def __init__(self, fragments: list[Fragment], collective: bool = True):
        self.fragments, self.collective = fragments, collective
        sizes = [f.lp.shape[0] * f.basis.shape[1] for f in fragments]
        device = fragments[0].lp.device if fragments else None
        self.flat = torch.zeros(sum(sizes), dtype=torch.float32, device=device)
        self.views, offset = [], 0
        for f, n in zip(fragments, sizes):
            self.views.append(self.flat[offset:offset + n].view(f.lp.shape[0], f.basis.shape[1]))
            offset += n

    @torch.no_grad()
    def project(self) -> None:
        if not self.fragments:
            return
        for f, coef in zip(self.fragments, self.views):
            if not self.collective:
                torch.matmul(f.lp, f.basis, out=coef)                   # whole fp32 parameter: A @ B
            elif not f.owner:
                coef.zero_()
            else:
                src = f.hp if f.hp is not None else f.lp.reshape(-1)
                coef.copy_(fragment_coefficients(src, f.start, tuple(f.lp.shape), f.basis))
        if self.collective and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(self.flat)
        corrections = [coef @ f.basis.T for f, coef in zip(self.fragments, self.views)]   # (rows, d_in) fp32
        owned = [(f.hp, c.view(-1)[f.start:f.start + f.hp.numel()])
                 for f, c in zip(self.fragments, corrections) if f.hp is not None]
        if owned:
            torch._foreach_sub_([h for h, _ in owned], [c for _, c in owned])
        # one formula on every rank (owner or not) keeps low-precision copies bit-identical
        fp32 = [(f.lp, c) for f, c in zip(self.fragments, corrections) if f.lp.dtype == torch.float32]
        if fp32:
            torch._foreach_sub_([p for p, _ in fp32], [c for _, c in fp32])
        for f, c in zip(self.fragments, corrections):
            if f.lp.dtype != torch.float32:
                f.lp.copy_((f.lp.float() - c).to(f.lp.dtype))


def deepspeed_fragments(engine, params: list[tuple[torch.nn.Parameter, torch.Tensor]]) -> list[Fragment]:
    """Fragments from DeepSpeed's lp→hp linkage (ZeRO-1/2 and the bf16 optimizer), else unpartitioned."""
    partitioned = engine.zero_optimization_stage() > 0 or engine.bfloat16_enabled()
    rank = dist.get_rank() if dist.is_initialized() else 0
    out = []
    for p, basis in params:
        basis = basis.to(p.device, torch.float32)
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
    fragments = deepspeed_fragments(engine, params)                     # ZeRO's fragment views are stable
    projector = ResidualAProjector(fragments, collective=any(f.lp.dtype != torch.float32 for f in fragments))
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
