"""LoRA-A initialisation in the residual subspace (method steps 1-2).

With A frozen (or its rows kept off the protected basis), every LoRA update ``ΔW = s·B·A`` has
``ΔW @ basis = 0`` (Prop. 3.1). Choosing A as the top right-singular directions of the *projected*
task gradient keeps the most new-task gradient energy under that constraint (Prop. 3.2).
"""
from __future__ import annotations

import torch

from .sketch import SketchResult
from .subspace import orthonormal_columns, project_off

__all__ = ["residual_init"]


def residual_init(grad: torch.Tensor, basis: torch.Tensor | None, rank: int, *, randomized: bool = False,
                  oversample: int = 0, niter: int = 2, seed: int = 0,
                  out_dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """LoRA ``A`` (rank, d_in) from the task gradient, orthogonal to ``basis`` on the input side.

    grad: (d_out, d_in), the mean task gradient of the pretrained/merged weight (``nn.Linear`` layout).
    basis: (d_in, k) protected directions, or None (nothing protected).
    ``Ĝ = G − (G B) Bᵀ``; ``A`` = the first ``rank`` rows of ``Vh`` in ``Ĝ = U S Vh`` (exact SVD), or of
    ``torch.svd_lowrank(Ĝ, q=rank+oversample, niter)`` (the official LLaVA code uses q = rank).
    Directions with zero singular value are arbitrary in an SVD, so the rows are re-projected and
    re-orthonormalised; any that collapse are completed with seeded random residual directions.
    """
    d_in = grad.shape[1]
    k = 0 if basis is None else basis.shape[1]
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    if rank > d_in - k:
        raise ValueError(f"LoRA rank {rank} exceeds the residual dimension d_in - k = {d_in} - {k} = {d_in - k}; "
                         f"lower lora.r or the weight energy (epsilon_w)")
    g_hat = project_off(grad.detach().to(torch.float32), basis)          # (d_out, d_in)
    if randomized:
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        _, _, v = torch.svd_lowrank(g_hat, q=min(rank + oversample, min(g_hat.shape)), niter=niter)
        torch.random.set_rng_state(gen_state)
        rows = v[:, :rank].T                                              # (rank, d_in)
    else:
        _, _, vh = torch.linalg.svd(g_hat, full_matrices=False)
        rows = vh[:rank]
    return _residual_rows(rows, basis, rank, seed, out_dtype)


def residual_init_from_sketch(sketch: SketchResult, basis: torch.Tensor | None, rank: int, *, seed: int = 0,
                              out_dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """LoRA ``A`` (rank, d_in) from a streamed gradient sketch: its top ``rank`` residual directions."""
    d_in = sketch.directions.shape[0]
    k = 0 if basis is None else basis.shape[1]
    if rank > d_in - k:
        raise ValueError(f"LoRA rank {rank} exceeds the residual dimension d_in - k = {d_in} - {k} = {d_in - k}; "
                         f"lower lora.r or the weight energy (epsilon_w)")
    return _residual_rows(sketch.directions[:, :rank].T, basis, rank, seed, out_dtype)


def _residual_rows(rows: torch.Tensor, basis: torch.Tensor | None, rank: int, seed: int,
                   out_dtype: torch.dtype) -> torch.Tensor:
    """Rows re-projected off ``basis``, orthonormalised, completed to ``rank``: the final A."""
    a = orthonormal_columns(rows.T, against=basis)                        # (d_in, <=rank)
    if a.shape[1] < rank:
        a = _complete(a, basis, rank, seed)
    return a.T.contiguous().to(out_dtype)


def _complete(a: torch.Tensor, basis: torch.Tensor | None, rank: int, seed: int) -> torch.Tensor:
    """Fill ``a`` (d_in, n<rank) up to ``rank`` orthonormal residual columns with seeded random ones."""
    gen = torch.Generator().manual_seed(seed)
    protected = a if basis is None else torch.cat([basis.to(a.device, torch.float32), a], dim=1)
    extra = orthonormal_columns(torch.randn(a.shape[0], rank - a.shape[1], generator=gen).to(a.device),
                                against=protected)
    return torch.cat([a, extra], dim=1)
