"""bench.update_response's two numbers: how much an update moves a layer's output, and how input-independently."""
import pytest
import torch

from bench.update_response import response


def test_an_update_on_a_direction_every_input_shares_acts_like_a_bias():
    torch.manual_seed(0)
    x = torch.randn(64, 32)
    x[:, 0] = 10.0                                  # a dimension every token carries (an outlier feature)
    w = torch.randn(16, 32)
    shared = torch.zeros(16, 32)
    shared[:, 0] = 0.01 * torch.randn(16)           # reads only the shared dimension
    ratio, sameness = response(w, shared, x)
    assert sameness > 0.999 and 0 < ratio < 0.1
    spread = 0.01 * torch.randn(16, 32)
    spread[:, 0] = 0                                # ignores it
    assert abs(response(w, spread, x)[1]) < 0.1
    assert response(w, 2 * shared, x)[0] == pytest.approx(2 * ratio)
