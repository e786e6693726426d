"""principal_basis / grow_basis / helpers on hand-checkable matrices (independent numpy references)."""
import numpy as np
import pytest
import torch

from keeplora.core import grow_basis, leak, orthonormal_columns, principal_basis, project_off


def _span_equal(a: torch.Tensor, b: torch.Tensor, tol=1e-5) -> bool:
    pa, pb = a @ a.T, b @ b.T
    return float((pa - pb).abs().max()) < tol


def _eye_cols(d, idx):
    return torch.eye(d)[:, idx]


def test_principal_basis_counts_components_strictly_below_energy():
    w = torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.5]))          # σ² shares 0.632, 0.912, 0.982, 1.0
    assert principal_basis(w, 0.6).shape == (4, 1)               # max(1, 0)
    assert principal_basis(w, 0.95).shape == (4, 2)              # 0.632, 0.912 < 0.95
    assert principal_basis(w, 0.99).shape == (4, 3)
    assert _span_equal(principal_basis(w, 0.95), _eye_cols(4, [0, 1]))


def test_principal_basis_is_input_side_and_orthonormal():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 10, generator=g)                          # (d_out, d_in)
    b = principal_basis(w, 0.7)
    assert b.shape[0] == 10
    assert torch.allclose(b.T @ b, torch.eye(b.shape[1]), atol=1e-5)
    evals, evecs = np.linalg.eigh(w.double().numpy().T @ w.double().numpy())   # WᵀW: input side
    top = torch.from_numpy(evecs[:, ::-1][:, : b.shape[1]].copy()).float()
    assert _span_equal(b, top, 1e-4)


def test_principal_basis_dtype_and_energy_errors():
    w = torch.randn(8, 8, generator=torch.Generator().manual_seed(1)).bfloat16()
    b = principal_basis(w, 0.5)
    assert b.dtype == torch.float32
    assert torch.equal(b, principal_basis(w.float(), 0.5))
    assert principal_basis(w, 0.5, out_dtype=torch.bfloat16).dtype == torch.bfloat16
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="epsilon_w"):
            principal_basis(w, bad)
    with pytest.raises(ValueError, match="all zeros"):
        principal_basis(torch.zeros(3, 3), 0.5)


def test_energy_near_one_keeps_at_most_the_rank():
    w = torch.zeros(5, 5)
    w[0, 0], w[1, 1] = 2.0, 1.0                                  # rank 2
    assert principal_basis(w, 1.0).shape[1] <= 2
    assert principal_basis(w, 1e-9).shape[1] == 1


def test_grow_basis_energy_rule_by_hand():
    b = _eye_cols(4, [0])
    r = torch.zeros(4, 3)
    r[0, 0], r[1, 1], r[2, 2] = 3.0, 2.0, 1.0                    # E = 14, covered share 9/14 = 0.643
    assert grow_basis(b, r, 0.6).shape[1] == 1                   # already covered: nothing added
    assert _span_equal(grow_basis(b, r, 0.9), _eye_cols(4, [0, 1]))       # 0.643 + 4/14 = 0.929 >= 0.9
    assert _span_equal(grow_basis(b, r, 0.95), _eye_cols(4, [0, 1, 2]))   # 0.929 < 0.95: one more


def test_grow_basis_keeps_existing_columns_and_stays_orthonormal():
    g = torch.Generator().manual_seed(2)
    b = orthonormal_columns(torch.randn(12, 4, generator=g))
    grown = grow_basis(b, torch.randn(12, 30, generator=g), 0.99)
    assert torch.equal(grown[:, :4], b)
    assert torch.allclose(grown.T @ grown, torch.eye(grown.shape[1]), atol=1e-5)


def test_grow_basis_never_exceeds_d_in_and_handles_degenerate_inputs():
    g = torch.Generator().manual_seed(3)
    b = orthonormal_columns(torch.randn(6, 5, generator=g))
    full = grow_basis(b, torch.randn(6, 50, generator=g), 1.0)
    assert full.shape == (6, 6)
    assert grow_basis(full, torch.randn(6, 3, generator=g), 0.99).shape == (6, 6)
    assert torch.equal(grow_basis(b, torch.zeros(6, 4), 0.99), b)
    inside = b @ torch.randn(5, 7, generator=g)                  # R already in span(B)
    assert grow_basis(b, inside, 0.99).shape[1] == 5
    assert grow_basis(None, torch.randn(6, 2, generator=g), 0.99).shape[1] == 2


def test_project_off_and_leak():
    b = _eye_cols(3, [0])
    x = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.equal(project_off(x, b), torch.tensor([[0.0, 2.0, 3.0]]))
    dw = torch.tensor([[3.0, 4.0, 0.0]])                          # (d_out=1, d_in=3)
    assert leak(dw, b) == pytest.approx(3.0 / 5.0)
    assert leak(dw, None) == 0.0


def test_growth_from_a_covariance_equals_growth_from_its_inputs():
    from keeplora.core import covariance_root, grow_basis_from_covariance
    g = torch.Generator().manual_seed(3)
    x = torch.randn(40, 24, generator=g) @ torch.diag(torch.linspace(3, 0.05, 24))      # 40 tokens, d_in 24
    basis = orthonormal_columns(torch.randn(24, 3, generator=g))
    for energy in (0.5, 0.9, 0.99, 1.0):
        direct = grow_basis(basis, x.T, energy)
        from_cov = grow_basis_from_covariance(basis, x.T @ x, energy)
        via_root = grow_basis(basis, covariance_root(x.T @ x), energy)
        assert direct.shape == from_cov.shape == via_root.shape, energy
        assert _span_equal(direct, from_cov, 1e-4) and torch.equal(from_cov[:, :3], basis)
