"""residual_init against an independent float64 numpy SVD."""
import numpy as np
import pytest
import torch

from keeplora.core import orthonormal_columns, residual_init


def _setup(seed=0, d_out=8, d_in=16, k=5):
    g = torch.Generator().manual_seed(seed)
    grad = torch.randn(d_out, d_in, generator=g)
    basis = orthonormal_columns(torch.randn(d_in, k, generator=g))
    return grad, basis


def test_rows_are_orthonormal_residual_and_span_top_projected_directions():
    grad, basis = _setup()
    a = residual_init(grad, basis, 3)
    assert a.shape == (3, 16)
    assert torch.allclose(a @ a.T, torch.eye(3), atol=1e-5)
    assert float((a @ basis).abs().max()) < 1e-5
    g = grad.double().numpy()
    bb = basis.double().numpy()
    g_hat = g - (g @ bb) @ bb.T
    vh = np.linalg.svd(g_hat)[2][:3]                             # reference: top-3 right singular vectors
    assert np.abs(vh.T @ vh - a.double().numpy().T @ a.double().numpy()).max() < 1e-4


def test_no_basis_means_top_singular_directions_of_the_gradient():
    grad, _ = _setup(1)
    a = residual_init(grad, None, 2)
    vh = np.linalg.svd(grad.double().numpy())[2][:2]
    assert np.abs(vh.T @ vh - a.double().numpy().T @ a.double().numpy()).max() < 1e-4


def test_rank_deficient_gradient_is_completed_inside_the_residual():
    _, basis = _setup(2)
    u = torch.randn(8, 1)
    grad = u @ torch.randn(1, 16)                                # rank 1
    a = residual_init(grad, basis, 4)
    assert torch.allclose(a @ a.T, torch.eye(4), atol=1e-5)
    assert float((a @ basis).abs().max()) < 1e-5
    assert residual_init(torch.zeros(8, 16), basis, 2).shape == (2, 16)


def test_rank_above_residual_dimension_is_a_clear_error():
    grad, basis = _setup(3, d_in=8, k=6)
    with pytest.raises(ValueError, match="residual dimension"):
        residual_init(grad, basis, 3)


def test_randomized_matches_exact_with_a_spectral_gap_and_is_deterministic():
    g = torch.Generator().manual_seed(4)
    left = torch.linalg.qr(torch.randn(20, 20, generator=g))[0]
    right = torch.linalg.qr(torch.randn(30, 30, generator=g))[0]
    s = torch.tensor([10.0, 8.0, 6.0] + [0.01] * 17)
    grad = left @ torch.diag(s) @ right[:20]
    exact = residual_init(grad, None, 3)
    approx = residual_init(grad, None, 3, randomized=True, oversample=4)
    assert float((exact.T @ exact - approx.T @ approx).abs().max()) < 1e-3
    assert torch.equal(approx, residual_init(grad, None, 3, randomized=True, oversample=4))


def test_dtypes():
    grad, basis = _setup(5)
    a = residual_init(grad.bfloat16(), basis, 2, out_dtype=torch.bfloat16)
    assert a.dtype == torch.bfloat16
    assert residual_init(grad.bfloat16(), basis, 2).dtype == torch.float32
