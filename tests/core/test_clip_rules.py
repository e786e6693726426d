"""The CLIP-specific subspace rules on hand-checkable inputs: output-side principal basis, per-tower
layer ramps, and the official summed token-feature matrix."""
import numpy as np
import pytest
import torch
from torch import nn

from keeplora.core import layer_scales, principal_basis
from keeplora.methods.base import depth_scales
from keeplora.statistics import summed_inputs


def _span_equal(a, b, tol=1e-4):
    return float((a @ a.T - b @ b.T).abs().max()) < tol


def test_output_side_basis_is_u_of_the_weight_and_differs_from_the_input_side():
    w = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    out_side, in_side = principal_basis(w, 0.5, side="output"), principal_basis(w, 0.5)
    evals, evecs = np.linalg.eigh(w.double().numpy() @ w.double().numpy().T)       # W Wᵀ: output side
    top = torch.from_numpy(evecs[:, ::-1][:, : out_side.shape[1]].copy()).float()
    assert out_side.shape == in_side.shape
    assert _span_equal(out_side, top)
    assert torch.allclose(out_side.T @ out_side, torch.eye(out_side.shape[1]), atol=1e-5)
    assert not _span_equal(out_side, in_side, 1e-2)           # a non-symmetric W: the two sides disagree


def test_output_side_needs_a_square_weight():
    with pytest.raises(ValueError, match="square"):
        principal_basis(torch.randn(6, 8), 0.5, side="output")
    with pytest.raises(ValueError, match="side"):
        principal_basis(torch.randn(6, 8), 0.5, side="both")


def test_depth_scales_ramp_each_listed_tower_on_its_own():
    index = {f"{t}.{l}.q": l for t in ("vision", "text") for l in range(4)}
    towers = {n: n.split(".")[0] for n in index}
    s = depth_scales(index, 0.2, "linear", towers, ramped=("vision",))
    assert [s[f"vision.{l}.q"] for l in range(4)] == pytest.approx(layer_scales(4, 0.2))
    assert [s[f"text.{l}.q"] for l in range(4)] == [1.0] * 4
    both = depth_scales(index, 0.2, "linear", towers, ramped=("vision", "text"))
    assert [both[f"text.{l}.q"] for l in range(4)] == pytest.approx(layer_scales(4, 0.2))
    assert depth_scales({"a": 0, "b": 3}, 0.2, "linear") == {"a": 0.2, "b": 1.0}     # no towers: one decoder


def test_summed_inputs_is_the_element_wise_sum_of_full_batch_matrices():
    torch.manual_seed(0)
    layer = nn.Linear(5, 3)
    model = nn.Sequential(layer)
    batches = [{"x": torch.randn(2, 4, 5)} for _ in range(3)] + [{"x": torch.randn(1, 4, 5)}]   # last: partial

    def forward(m, b):
        return m(b["x"]).sum()

    got = summed_inputs(model, {"l": layer}, batches, forward)["l"]
    expected = sum(b["x"].reshape(-1, 5).T for b in batches[:3]) / 3                   # (d_in, 8 tokens)
    assert got.shape == (5, 8)
    assert torch.allclose(got, expected, atol=1e-6)
