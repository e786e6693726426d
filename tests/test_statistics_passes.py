"""Task-statistics passes: the streamed exact gradient equals autograd's, chunked passes equal one pass, and
the basis grown from the exact post-task gradient covers ε_f of its true energy (the sketch did not)."""
import torch

from keeplora.config import load_recipe
from keeplora.core import grow_basis, grow_basis_from_sketch, principal_basis
from keeplora.data import collate_train, read_train_file
from keeplora.models import Encoder, get_adapter
from keeplora.statistics import GradientMean, chunk_layers, mean_gradients, sketch_gradients, subset_indices

from .conftest import ROOT


def _model_and_batches(tiny_data):
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml")
    adapter = get_adapter("llava")
    loaded = adapter.load(recipe.model, seed=0)
    enc = Encoder(adapter, loaded, recipe.model, 256)
    samples = read_train_file(tiny_data / "color" / "train.json")[:8]
    batches = [collate_train([enc.encode(s) for s in samples[i:i + 4]], loaded.tokenizer.pad_token_id)
               for i in (0, 4)]
    layers = {n: loaded.model.get_submodule(n) for n in adapter.lora_targets(loaded.model)}
    return loaded.model, layers, batches


def _loss(m, b):
    return m(**b).loss


def test_streamed_gradient_is_autograds_and_chunks_change_nothing(tiny_data):
    model, layers, batches = _model_and_batches(tiny_data)
    streamed = mean_gradients(model, layers, batches, _loss)
    assert all(not p.requires_grad and p.grad is None for p in model.parameters())    # no weight gradient formed
    weights = [layers[n].weight for n in layers]
    for w in weights:
        w.requires_grad_(True)
    sums = [torch.zeros_like(w) for w in weights]
    for b in batches:
        for s, g in zip(sums, torch.autograd.grad(_loss(model, b), weights)):
            s += g
    for w in weights:
        w.requires_grad_(False)
    for (n, g), s in zip(streamed.items(), sums):
        assert torch.allclose(g, s / len(batches), rtol=1e-4, atol=1e-7), n
    names = list(layers)
    per_layer = {n: GradientMean().layer_bytes(layers[n]) for n in names}
    chunks = chunk_layers(per_layer, budget=3 * max(per_layer.values()))
    assert len(chunks) > 1 and [n for c in chunks for n in c] == names
    assert all(sum(per_layer[n] for n in c) <= 3 * max(per_layer.values()) for c in chunks)
    chunked = {n: g for c in chunks
               for n, g in mean_gradients(model, {n: layers[n] for n in c}, batches, _loss).items()}
    assert all(torch.equal(chunked[n], streamed[n]) for n in names)


def test_chunk_layers_edges():
    assert chunk_layers({"a": 5, "b": 5}, None) == [["a", "b"]]
    assert chunk_layers({"a": 5, "b": 20, "c": 5}, 10) == [["a"], ["b"], ["c"]]       # too big: a pass of its own
    assert chunk_layers({}, 10) == [] and chunk_layers({}, None) == []


def test_subset_indices_truncate_as_the_official_code():
    idx = subset_indices(24_000, 0.2)
    assert idx == torch.linspace(0, 23_999, 4_800).long().tolist()
    rounded = torch.linspace(0, 23_999, 4_800).round().long().tolist()
    assert sum(a != b for a, b in zip(idx, rounded)) > 1_000
    assert subset_indices(3, 0.1) == [0]


def test_a_capped_subset_stays_evenly_spaced_over_the_whole_file():
    assert subset_indices(1_200, 0.2, 96) == torch.linspace(0, 1_199, 96).long().tolist()
    assert subset_indices(1_200, 0.2, 5_000) == subset_indices(1_200, 0.2)          # a cap above the share


def _coverage(basis, g_t):
    """Share of ‖Gᵀ‖² inside span(basis): the energy the grown basis really protects."""
    return float((basis.T @ g_t).square().sum() / g_t.square().sum())


def test_exact_growth_covers_the_energy_the_sketch_misses(tiny_data):
    model, layers, batches = _model_and_batches(tiny_data)
    bases = {n: principal_basis(layer.weight, 0.6) for n, layer in layers.items()}
    grads = mean_gradients(model, layers, batches, _loss)
    sketch = sketch_gradients(model, layers, batches, _loss, bases, 8, 0)
    exact_cov, sketch_cov = [], []
    for n in layers:
        exact_cov.append(_coverage(grow_basis(bases[n], grads[n].T, 0.99), grads[n].T))
        sketch_cov.append(_coverage(grow_basis_from_sketch(bases[n], sketch[n], 0.99), grads[n].T))
    assert min(exact_cov) >= 0.99 - 1e-4
    assert min(sketch_cov) < 0.98                           # why growth reads the exact gradient by default


def test_statistics_passes_read_videos_with_their_own_frame_count(tiny_data):
    """CL-VISTA's gradient passes read 4 frames while training reads 8 (``subspace.grad_num_frames``)."""
    recipe = load_recipe(ROOT / "recipes/smoke_video_seq.yaml", ["model.num_frames=8", "subspace.grad_num_frames=4"])
    adapter = get_adapter("video_llava")
    loaded = adapter.load(recipe.model, seed=0)
    four = adapter.with_num_frames(loaded, 4)
    assert loaded.media.num_frames == 8 and four.media.num_frames == 4
    assert four.media_tokens["video"] < loaded.media_tokens["video"]
    sample = read_train_file(tiny_data / "motion" / "train.json")[0]
    batch = collate_train([Encoder(adapter, four, recipe.model, 2048).encode(sample)], loaded.tokenizer.pad_token_id)
    assert batch["pixel_values_videos"].shape[1] == 4
    assert torch.isfinite(loaded.model(**batch).loss)
