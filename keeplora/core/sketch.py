"""A streamed low-rank sketch of a layer's task gradient, so task start never materialises weight gradients.

A linear layer's gradient over a task subset is ``G = Σ_t δ_t x_tᵀ`` (d_out × d_in; x its input, δ the
gradient at its output). The method needs only G's dominant *input* directions outside the protected
basis B. With ``P = I − B Bᵀ`` and ``A = P Gᵀ`` (d_in × d_out), two small sketches are summed token by
token (and over ranks):

* range sketch ``Y = Gᵀ Ω = Σ x (δᵀ Ω)`` (d_in × k; projected by P afterwards, since P is linear),
* co-range sketch ``W = Ψ P Gᵀ = Σ (Ψ P x) δᵀ`` (l × d_out),

with fixed Gaussian test matrices Ω (d_out × k) and Ψ (l × d_in), identical on every rank. Then
``Q = orth(P Y)`` and ``Â = Q (Ψ P Q)⁺ W`` is the single-pass low-rank approximation of A of Tropp,
Yurtsever, Udell & Cevher, "Practical sketching algorithms for low-rank matrix approximation", SIAM J.
Matrix Anal. Appl. 38(4), 2017 (Alg. 3 and 4; k = r + oversampling, l = 2k + 1 as they recommend); see also
Halko, Martinsson & Tropp, SIAM Review 53(2), 2011, §4 for the range finder. Â's left singular vectors
are the residual directions (LoRA A at task start) and its singular values the residual spectrum (basis
growth). The GPM energy rule also needs ``‖G‖²_F`` and ``‖P Gᵀ‖²_F``: both are estimated from the same
sketch as ``‖Gᵀ Ω‖²/k`` and ``‖P Gᵀ Ω‖²/k`` (Gaussian Ω: unbiased, relative standard deviation about
``sqrt(2/k)``) — the documented price of never forming G.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["GradientSketch", "SketchResult"]


@dataclass
class SketchResult:
    """Residual input directions (d_in × k, orthonormal, by decreasing σ), their σ, and energy estimates."""
    directions: torch.Tensor
    sigma: torch.Tensor
    total_energy: float          # ≈ ‖G‖²_F
    residual_energy: float       # ≈ ‖P Gᵀ‖²_F


class GradientSketch:
    def __init__(self, d_in: int, d_out: int, basis: torch.Tensor | None, k: int, seed: int,
                 device: torch.device | str = "cpu"):
        g = torch.Generator(device="cpu").manual_seed(seed)
        self.k, self.l = min(k, d_in), min(2 * k + 1, d_in)
        self.basis = None if basis is None or basis.shape[1] == 0 else basis.to(device, torch.float32)
        self.omega = torch.randn(d_out, self.k, generator=g).to(device)
        psi = torch.randn(self.l, d_in, generator=g).to(device)
        self.psi_p = self._project_rows(psi)                           # Ψ P (l × d_in)
        self.y = torch.zeros(d_in, self.k, device=device)              # Gᵀ Ω, unprojected
        self.w = torch.zeros(self.l, d_out, device=device)             # Ψ P Gᵀ
        self.count = 0

    def _project_rows(self, m: torch.Tensor) -> torch.Tensor:
        """``m P``: remove the protected input directions from each row."""
        return m if self.basis is None else m - (m @ self.basis) @ self.basis.T

    def update(self, x: torch.Tensor, delta: torch.Tensor) -> None:
        """Add tokens: ``x`` (N × d_in) layer inputs and ``delta`` (N × d_out) gradients at the output."""
        x, delta = x.float(), delta.float()
        self.y.addmm_(x.T, delta @ self.omega)
        self.w.addmm_(self.psi_p @ x.T, delta)

    def tensors(self) -> list[torch.Tensor]:
        """The accumulators, for one all-reduce across ranks."""
        return [self.y, self.w]

    def result(self, batches: int) -> SketchResult:
        """The recovered residual directions of the mean gradient over ``batches`` batches."""
        y, w = self.y / batches, self.w / batches
        py = self._project_rows(y.T).T                                  # P Gᵀ Ω
        q, _ = torch.linalg.qr(py)                                      # (d_in × k)
        # (Ψ P Q)⁺ W through a QR solve: CPU lstsq (gelsy) is not bit-reproducible, resuming runs must be
        q2, r2 = torch.linalg.qr(self.psi_p @ q)
        core = torch.linalg.pinv(r2) @ (q2.T @ w)                       # (k × d_out); pinv: zero gradients too
        u, s, _ = torch.linalg.svd(core, full_matrices=False)
        total, residual = y.square().sum() / self.k, py.square().sum() / self.k
        return SketchResult(q @ u, s, float(total), float(min(residual, total)))
