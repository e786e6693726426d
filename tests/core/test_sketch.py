"""The streamed gradient sketch recovers the exact path's residual directions and energies."""
import torch

from keeplora.core import (
    GradientSketch,
    grow_basis,
    grow_basis_from_sketch,
    principal_basis,
    residual_init,
    residual_init_from_sketch,
)


def _tokens(n=400, d_in=48, d_out=40, rank=6, seed=0):
    """Inputs and output gradients whose gradient Δᵀ X has a decaying spectrum plus noise."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.tensor([8.0, 6, 4.5, 3, 2, 1.5])[:rank]
    x = torch.randn(n, rank, generator=g) * scales @ torch.linalg.qr(torch.randn(d_in, rank, generator=g))[0].T
    x += 0.05 * torch.randn(n, d_in, generator=g)
    delta = torch.randn(n, rank, generator=g) @ torch.randn(rank, d_out, generator=g) / 10
    return x, delta


def _sketch(x, delta, basis, k, seed=1, chunks=4):
    s = GradientSketch(x.shape[1], delta.shape[1], basis, k=k, seed=seed)
    for xs, ds in zip(x.chunk(chunks), delta.chunk(chunks)):
        s.update(xs, ds)
    return s.result(batches=chunks)


def _cosines(a, b):
    """Cosines of the principal angles between the row spaces of a and b (1 = same subspace)."""
    return torch.linalg.svdvals(a @ b.T)


def test_sketched_a_spans_the_exact_a():
    x, delta = _tokens()
    weight = torch.randn(40, 48)
    basis = principal_basis(weight, 0.3)
    exact = residual_init(delta.T @ x / 4, basis, 4)                     # the mean over 4 batches
    sketched = residual_init_from_sketch(_sketch(x, delta, basis, k=14), basis, 4)
    assert torch.allclose(sketched @ basis, torch.zeros(4, basis.shape[1]), atol=1e-5)
    assert _cosines(exact, sketched).min() > 0.999


def test_energy_estimates_and_basis_growth_follow_the_exact_rule():
    x, delta = _tokens()
    basis = principal_basis(torch.randn(40, 48), 0.3)
    g = delta.T @ x / 4
    res = _sketch(x, delta, basis, k=32)
    exact_total = float(g.square().sum())
    exact_residual = float((g - g @ basis @ basis.T).square().sum())
    assert abs(res.total_energy / exact_total - 1) < 0.35                 # ≈ sqrt(2/k) relative spread
    assert abs(res.residual_energy / exact_residual - 1) < 0.35
    grown_exact = grow_basis(basis, g.T, 0.9)
    grown_sketch = grow_basis_from_sketch(basis, res, 0.9)
    added_e, added_s = grown_exact[:, basis.shape[1]:], grown_sketch[:, basis.shape[1]:]
    assert abs(added_e.shape[1] - added_s.shape[1]) <= 1
    n = min(added_e.shape[1], added_s.shape[1])
    assert _cosines(added_e[:, :n].T, added_s[:, :n].T).min() > 0.99
    assert torch.allclose(grown_sketch.T @ grown_sketch, torch.eye(grown_sketch.shape[1]), atol=1e-5)


def test_ranks_sum_their_sketches():
    """Summing two ranks' accumulators equals sketching all tokens in one place (what the all-reduce does)."""
    x, delta = _tokens(seed=3)
    whole = GradientSketch(48, 40, None, k=8, seed=5)
    whole.update(x, delta)
    a, b = GradientSketch(48, 40, None, k=8, seed=5), GradientSketch(48, 40, None, k=8, seed=5)
    a.update(x[:150], delta[:150])
    b.update(x[150:], delta[150:])
    for t, u in zip(a.tensors(), b.tensors()):
        t += u
    assert all(torch.allclose(t, u, atol=1e-3) for t, u in zip(a.tensors(), whole.tensors()))


def test_zero_gradient_and_reproducibility():
    """A layer the loss never reaches sketches to zero energy; results do not depend on memory layout."""
    zero = GradientSketch(16, 12, None, k=4, seed=0)
    zero.update(torch.randn(10, 16), torch.zeros(10, 12))
    res = zero.result(1)
    assert res.total_energy == 0 and torch.isfinite(res.directions).all() and (res.sigma == 0).all()
    x, delta = _tokens()
    first = _sketch(x, delta, None, k=8).directions
    _ = [torch.randn(1000 + i) for i in range(20)]                        # other allocations in between
    assert torch.equal(first, _sketch(x, delta, None, k=8).directions)


def test_gradient_checkpointing_keeps_the_sketch_identical(tiny_data):
    """With checkpointing the pass runs in training mode (so it recomputes); the hooks still fire once."""
    from keeplora.config import load_recipe
    from keeplora.data import collate_train, read_train_file
    from keeplora.models import Encoder, get_adapter
    from keeplora.statistics import sketch_gradients

    from ..conftest import ROOT

    modes = []

    def loss(m, b):
        modes.append(m.training)                             # training mode = checkpointing really recomputes
        return m(**b).loss

    def sketch(gc: bool):
        recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"model.gradient_checkpointing={str(gc).lower()}"])
        adapter = get_adapter("llava")
        loaded = adapter.load(recipe.model, seed=0)
        enc = Encoder(adapter, loaded, recipe.model, 256)
        samples = read_train_file(tiny_data / "color" / "train.json")[:4]
        batch = collate_train([enc.encode(s) for s in samples], loaded.tokenizer.pad_token_id)
        layers = {n: loaded.model.get_submodule(n) for n in adapter.lora_targets(loaded.model)}
        loaded.model.eval()                                  # as a checkpoint loaded with from_pretrained is
        return sketch_gradients(loaded.model, layers, [batch], loss, {n: None for n in layers}, 8, 0)

    plain, checkpointed = sketch(False), sketch(True)
    assert modes == [False, True]
    assert all(torch.equal(plain[n].sigma, checkpointed[n].sigma) for n in plain)
