"""An exact record of a sequence of merges, so low-precision weights never accumulate rounding.

A bf16 weight cannot hold ``W + ΔW``: round-to-nearest drops every element of a small update below half a
bf16 step, and merging task after task into the rounded weight adds one more rounding each time, so the
update leaks into the protected subspace and small updates vanish. The record keeps what the sequence
means exactly: the starting weight ``W0`` of every adapted linear (in its own dtype, host memory) and every
task's update as fp32 factors ``ΔW_t = U_t D_t`` (``U_t = s·B_lora`` (d_out × r), ``D_t = A`` (r × d_in)).
The working weight after task t is ``W0 + Σ_{τ≤t} U_τ D_τ`` summed in fp32 and rounded once to the model's
dtype — within one rounding of the exact sum whatever t, never t roundings.
"""
from __future__ import annotations

import torch
from torch import nn

from .subspace import leak

__all__ = ["MergeRecord", "half_ulp"]

Factors = dict[str, tuple[torch.Tensor, torch.Tensor]]


def half_ulp(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Half the spacing of ``dtype`` at each value: the most round-to-nearest can move it (fp32 result)."""
    info = torch.finfo(dtype)
    v = values.to(torch.float32).abs().clamp_min(info.tiny)
    return torch.exp2(torch.floor(torch.log2(v))) * (info.eps / 2)      # eps = 2^-mantissa bits


class MergeRecord:
    def __init__(self, base: dict[str, torch.Tensor], tasks: list[Factors] | None = None):
        self.base = base
        self.tasks: list[Factors] = tasks or []

    @classmethod
    def start(cls, layers: dict[str, nn.Linear]) -> MergeRecord:
        """Record the starting weights (CPU copies in their own dtype: exact, the dtype they were loaded in)."""
        return cls({n: layer.weight.detach().to("cpu", copy=True) for n, layer in layers.items()})

    def add(self, factors: Factors) -> None:
        """Append one task's update, as fp32 CPU factors ``(U, D)`` with ``ΔW = U @ D``."""
        if set(factors) != set(self.base):
            missing = sorted(set(self.base) ^ set(factors))
            raise ValueError(f"task factors cover other modules than the record (e.g. {missing[:2]})")
        self.tasks.append({n: (u.detach().float().cpu(), d.detach().float().cpu()) for n, (u, d) in factors.items()})

    def delta(self, name: str, first: int = 0, last: int | None = None,
              device: torch.device | str = "cpu") -> torch.Tensor:
        """``Σ_{first ≤ τ < last} ΔW_τ`` of one module in fp32 (one matmul of the stacked factors)."""
        parts = self.tasks[first:last]
        w0 = self.base[name]
        if not parts:
            return torch.zeros(w0.shape, dtype=torch.float32, device=device)
        up = torch.cat([p[name][0] for p in parts], dim=1).to(device)
        down = torch.cat([p[name][1] for p in parts], dim=0).to(device)
        return up @ down

    @torch.no_grad()
    def apply(self, layers: dict[str, nn.Linear], bases: dict[str, torch.Tensor | None]) -> dict[str, dict]:
        """Set every working weight to the record rounded once; returns per-module merge diagnostics.

        ``bases``: the protected basis each module's last update was built against (None: unconstrained).
        ``record_leak`` = leak of the last task's exact update into it; ``working_leak`` = leak of the change
        the working weight actually took; ``rounding`` = max |W − record| in half-steps of the dtype (≤ 1:
        one rounding); ``working_error`` = ‖W − record‖ / ‖record − W0‖.
        """
        out, last = {}, len(self.tasks) - 1
        for name, layer in layers.items():
            w = layer.weight
            total = self.delta(name, device=w.device)
            target = self.base[name].to(w.device, torch.float32) + total
            new = target.to(w.dtype)
            change = new.float() - w.float()
            w.copy_(new)
            basis = bases.get(name)
            err = new.float() - target                                # exact in fp32 for bf16/fp16 weights
            out[name] = {"record_leak": None if basis is None else leak(self.delta(name, last, device=w.device), basis),
                         "working_leak": None if basis is None else leak(change, basis),
                         "rounding": float((err.abs() / half_ulp(target, w.dtype)).max()),
                         "working_error": float(err.norm()) / (float(total.norm()) or 1.0)}
        return out

    # ---------------------------------------------------------------- flat tensors, for safetensors files
    def base_tensors(self) -> dict[str, torch.Tensor]:
        return {n: t.contiguous() for n, t in self.base.items()}

    def task_tensors(self, t: int) -> dict[str, torch.Tensor]:
        return {f"{kind}/{n}": f.contiguous()
                for n, (u, d) in self.tasks[t].items() for kind, f in (("U", u), ("D", d))}

    @staticmethod
    def factors_from(tensors: dict[str, torch.Tensor]) -> Factors:
        names = {k.split("/", 1)[1] for k in tensors}
        return {n: (tensors[f"U/{n}"], tensors[f"D/{n}"]) for n in names}
