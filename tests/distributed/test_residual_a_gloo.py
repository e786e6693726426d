"""ResidualAProjector on hand-made ZeRO-2-style fragments: rows cut across 2 ranks (plain torch + gloo)."""
import pytest
import torch

from keeplora.core import fragment_coefficients, orthonormal_columns
from keeplora.dist.residual_a import Fragment, ResidualAProjector

from .harness import run_ranks

ROWS, D_IN, K = 3, 10, 4


def _problem():
    g = torch.Generator().manual_seed(0)
    a = [torch.randn(ROWS, D_IN, generator=g) for _ in range(3)]       # 90 elements: rank 0 owns [0, 45)
    bases = [orthonormal_columns(torch.randn(D_IN, K, generator=g)) for _ in range(3)]
    return a, bases


def _worker(rank, world, collective=True):
    a, bases = _problem()
    flat_master = torch.cat([x.reshape(-1) for x in a])
    part = flat_master.numel() // world
    lo, hi = rank * part, (rank + 1) * part
    master = flat_master[lo:hi].clone()                                # this rank's fp32 partition
    frags, offset = [], 0
    for x, b in zip(a, bases):
        s, e = max(offset, lo), min(offset + x.numel(), hi)
        if s < e:
            frags.append(Fragment(x, b, s - offset, master[s - lo:e - lo], True))
        else:
            frags.append(Fragment(x, b))
        offset += x.numel()
    ResidualAProjector(frags, collective).project()
    return {"lp": [x for x in a], "master": master, "lo": lo}


@pytest.mark.parametrize("collective", [True, False], ids=["partial-coefficients+all-reduce", "local"])
def test_projection_of_fragments_matches_the_full_projection_on_both_ranks(collective):
    results = run_ranks(_worker, collective)
    a, bases = _problem()
    expected = [x - (x @ b) @ b.T for x, b in zip(a, bases)]
    flat_expected = torch.cat([e.reshape(-1) for e in expected])
    for r in results:
        for got, exp, b in zip(r["lp"], expected, bases):
            got = torch.from_numpy(got)
            assert torch.allclose(got, exp, atol=1e-6)
            assert float((got @ b).abs().max()) < 1e-6
        master = torch.from_numpy(r["master"])
        assert torch.allclose(master, flat_expected[r["lo"]:r["lo"] + master.numel()], atol=1e-6)
    for x0, x1 in zip(results[0]["lp"], results[1]["lp"]):
        assert (x0 == x1).all()                                         # bit-identical across ranks


def test_fragment_coefficients_sum_to_the_full_product():
    a, bases = _problem()
    x, b = a[1], bases[1]
    flat = x.reshape(-1)
    parts = fragment_coefficients(flat[:7], 0, x.shape, b) + fragment_coefficients(flat[7:], 7, x.shape, b)
    assert torch.allclose(parts, x @ b, atol=1e-6)
