"""Protected input subspaces: the pretrained principal basis and its GPM-style growth.

Conventions used throughout ``keeplora.core``:

* A PyTorch ``nn.Linear.weight`` is ``(d_out, d_in)``; ``y = x @ W.T``.
* A *basis* is input-side: ``(d_in, k)`` with orthonormal columns. An update ``dW`` leaves every
  input ``x`` in ``span(basis)`` unchanged iff ``dW @ basis == 0``.
* SVD convention: ``W = U @ diag(S) @ Vh``; the input-side singular vectors are the rows of ``Vh``.
* Math runs in float32 whatever the input dtype; results are returned as ``out_dtype`` (float32 by
  default: bases kept in fp16, as the official code does, drift from orthonormality).
"""
from __future__ import annotations

import torch

__all__ = ["principal_basis", "grow_basis", "grow_basis_from_covariance", "project_off", "orthonormal_columns", "leak",
           "covariance_root", "fragment_coefficients"]


def _check_energy(energy: float, name: str) -> None:
    if not 0.0 < energy <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {energy}")


def principal_basis(weight: torch.Tensor, energy: float, out_dtype: torch.dtype = torch.float32,
                    side: str = "input") -> torch.Tensor:
    """Top input-side singular vectors of a pretrained weight (method step 0).

    ``p = max(1, #{k : cumsum(S²/ΣS²)_k < energy})`` — the official rule counts components *strictly*
    below the threshold, so it can keep one fewer than needed to reach ``energy``.

    ``side="output"`` reproduces the official MTIL (CLIP) code: it keeps ``U`` of the (out × in) weight,
    the *output*-side singular vectors, and uses them as an input-side basis. That is only defined for
    square weights (CLIP's q/k/v/o are E × E); the paper and the LLaVA code use the input side.

    weight: (d_out, d_in). Returns (d_in, p), orthonormal columns.
    """
    if side not in ("input", "output"):
        raise ValueError(f"principal_basis: side must be 'input' or 'output', got {side!r}")
    if side == "output" and weight.shape[0] != weight.shape[1]:
        raise ValueError(f"principal_basis: the output-side basis needs a square weight, got {tuple(weight.shape)}")
    _check_energy(energy, "weight energy (epsilon_w)")
    w = weight.detach().to(torch.float32)
    u, s, vh = torch.linalg.svd(w, full_matrices=False)       # W = U S Vh; Vh: (min, d_in)
    s2 = s.square()
    total = s2.sum()
    if total == 0:
        raise ValueError("principal_basis: the weight is all zeros; it has no principal directions")
    ratio_cum = torch.cumsum(s2 / total, dim=0)
    nonzero = int((s2 > s2[0] * 1e-12).sum())
    p = max(1, min(int((ratio_cum < energy).sum()), nonzero))
    kept = u[:, :p] if side == "output" else vh[:p].T          # (d_in, p)
    return kept.contiguous().to(out_dtype)


def project_off(x: torch.Tensor, basis: torch.Tensor | None) -> torch.Tensor:
    """Remove the ``span(basis)`` component from the *input side* (last dim) of ``x``.

    x: (..., d_in); basis: (d_in, k). Returns ``x - (x @ B) @ B.T`` in x's dtype (fp32 math), on x's
    device: like every function here, the basis follows the tensor it acts on.
    """
    if basis is None or basis.shape[1] == 0:
        return x
    xf = x.to(torch.float32)
    b = basis.to(xf.device, torch.float32)
    return (xf - (xf @ b) @ b.T).to(x.dtype)


def orthonormal_columns(m: torch.Tensor, against: torch.Tensor | None = None, tol: float = 1e-6) -> torch.Tensor:
    """Orthonormalise the columns of ``m`` (d, n), first removing ``span(against)``.

    Columns that vanish after the removal (numerically dependent) are dropped, so the result is
    (d, n') with n' <= n. Two Gram-Schmidt passes keep the result orthogonal to ``against`` at fp32
    precision even when ``m`` is nearly inside it.
    """
    q = m.to(torch.float32)
    q = q / q.norm(dim=0, keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)   # unit columns: tol is relative
    for _ in range(2):
        if against is not None and against.shape[1]:
            a = against.to(q.device, torch.float32)
            q = q - a @ (a.T @ q)
        q, r = torch.linalg.qr(q, mode="reduced")
        q = q[:, r.diagonal().abs() > tol]
    return q


def grow_basis(basis: torch.Tensor | None, R: torch.Tensor, energy: float,
               out_dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Add the dominant new directions of ``R`` to ``basis`` (GPM energy rule, method step 6).

    R: (d_in, n) — post-training gradient ``Gᵀ`` ("grad" mode) or layer inputs ("features" mode).
    With ``E = ‖R‖²`` and ``R̂ = R − B Bᵀ R``, the already-covered share is ``acc = (E − ‖R̂‖²)/E``;
    the first ``m`` left singular vectors of ``R̂`` are added, ``m`` the smallest count with
    ``acc + Σ_{k<=m} S_k²/E >= energy`` (``m = 0`` when ``acc`` already reaches it). The result never
    exceeds d_in columns and is orthonormal; existing columns are kept unchanged.
    """
    _check_energy(energy, "feature energy (epsilon_f)")
    r = R.detach().to(torch.float32)
    d_in = r.shape[0]
    b = torch.zeros(d_in, 0, device=r.device) if basis is None else basis.to(r.device, torch.float32)
    total = r.square().sum()
    if total == 0 or b.shape[1] >= d_in:
        return b.to(out_dtype)
    r_hat = project_off(r.T, b).T                               # (d_in, n)
    acc = float((total - r_hat.square().sum()) / total)
    if acc >= energy:
        return b.to(out_dtype)
    u, s, _ = torch.linalg.svd(r_hat, full_matrices=False)
    return _add_directions(b, u, s, float(total), acc, energy).to(out_dtype)


def grow_basis_from_covariance(basis: torch.Tensor | None, cov: torch.Tensor, energy: float,
                               out_dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``grow_basis`` on the stacked inputs ``R`` given only ``C = R Rᵀ = Σ x xᵀ`` (d_in × d_in).

    The same rule from one eigendecomposition: ``‖R‖² = tr C``, ``‖R̂‖² = tr(P C P)`` with ``P = I − B Bᵀ``, and
    the eigenpairs of ``P C P`` are R̂'s left singular vectors with σ² (no square root of C is formed).
    """
    _check_energy(energy, "feature energy (epsilon_f)")
    c = cov.detach().to(torch.float32)
    d_in = c.shape[0]
    b = torch.zeros(d_in, 0, device=c.device) if basis is None else basis.to(c.device, torch.float32)
    total = float(c.diagonal().sum())
    if total <= 0 or b.shape[1] >= d_in:
        return b.to(out_dtype)
    c_hat = project_off(project_off(c, b).T, b)                  # P C P (C symmetric)
    acc = (total - float(c_hat.diagonal().sum())) / total
    if acc >= energy:
        return b.to(out_dtype)
    evals, evecs = torch.linalg.eigh((c_hat + c_hat.T) / 2)
    order = torch.argsort(evals, descending=True)
    sigma = evals[order].clamp_min(0).sqrt()
    return _add_directions(b, evecs[:, order], sigma, total, acc, energy).to(out_dtype)


def grow_basis_from_sketch(basis: torch.Tensor | None, sketch, energy: float,
                           out_dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``grow_basis`` on a streamed gradient sketch (``core.sketch``): the same rule, with ‖R‖² and ‖R̂‖²
    estimated from the sketch and at most its ``k`` directions added per task."""
    _check_energy(energy, "feature energy (epsilon_f)")
    d_in = sketch.directions.shape[0]
    device = sketch.directions.device
    b = torch.zeros(d_in, 0, device=device) if basis is None else basis.to(device, torch.float32)
    if sketch.total_energy == 0 or b.shape[1] >= d_in:
        return b.to(out_dtype)
    acc = (sketch.total_energy - sketch.residual_energy) / sketch.total_energy
    if acc >= energy:
        return b.to(out_dtype)
    return _add_directions(b, sketch.directions, sketch.sigma, sketch.total_energy, acc, energy).to(out_dtype)


NULL_ENERGY = 1e-6
"""A direction whose σ² is below this share of the largest is numerically zero (fp32 statistics): never added,
so ``energy`` 1.0 means the statistic's numerical span, not every direction."""


def _add_directions(b: torch.Tensor, u: torch.Tensor, s: torch.Tensor, total: float, acc: float,
                    energy: float) -> torch.Tensor:
    """The first ``m`` columns of ``u`` with ``acc + Σ_{k<=m} s_k²/total`` first reaching ``energy``."""
    before = acc + torch.cumsum(s.square() / total, 0) - s.square() / total   # share before adding k
    nonzero = int((s.square() > NULL_ENERGY * s.square().max()).sum()) if s.numel() else 0
    m = min(int((before < energy).sum()), b.shape[0] - b.shape[1], nonzero)
    new = orthonormal_columns(u[:, :m].to(torch.float32), against=b)
    return torch.cat([b, new], dim=1)


def leak(delta_w: torch.Tensor, basis: torch.Tensor | None) -> float:
    """Relative size of an update inside the protected subspace: ``‖ΔW B‖ / ‖ΔW‖`` (0 = fully kept)."""
    dw = delta_w.detach().to(torch.float32)
    norm = float(dw.norm())
    if basis is None or basis.shape[1] == 0 or norm == 0.0:
        return 0.0
    return float((dw @ basis.to(dw.device, torch.float32)).norm()) / norm


def covariance_root(cov: torch.Tensor) -> torch.Tensor:
    """A square root ``R`` (d, d) of an uncentred input covariance ``C = Σ x xᵀ``: ``R Rᵀ = C``.

    ``R`` has the same left singular vectors and energies as the stacked inputs ``[x_1 … x_n]``, so
    "features" growth can stream activations into a (d, d) accumulator instead of storing every token.
    """
    evals, evecs = torch.linalg.eigh(cov.to(torch.float32))
    return evecs * evals.clamp_min(0).sqrt()


def fragment_coefficients(fragment: torch.Tensor, start: int, shape: tuple[int, int],
                          basis: torch.Tensor) -> torch.Tensor:
    """Partial ``A @ basis`` (rows, k) from a contiguous slice of a row-major ``A`` (rows, d_in).

    ZeRO shards the flattened parameter, so one rank may hold only part of a row; summing these
    partial coefficients over ranks (one all-reduce) gives the full ``A @ basis`` without gathering A.
    """
    rows, d_in = shape
    basis = basis.to(device=fragment.device, dtype=torch.float32)
    flat = fragment.reshape(-1).to(torch.float32)
    if start == 0 and flat.numel() == rows * d_in:                 # the whole parameter: no padding needed
        return flat.view(rows, d_in) @ basis
    first, last = start // d_in, -(-(start + flat.numel()) // d_in)  # rows touched by the slice
    padded = torch.zeros((last - first) * d_in, dtype=torch.float32, device=fragment.device)
    offset = start - first * d_in
    padded[offset:offset + flat.numel()] = flat
    out = torch.zeros(rows, basis.shape[1], dtype=torch.float32, device=fragment.device)
    out[first:last] = padded.view(last - first, d_in) @ basis
    return out
