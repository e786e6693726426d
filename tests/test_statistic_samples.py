"""bench.statistic_samples: the split accumulator's two parts add up to the whole pass's statistics, and the
comparison reads 1 for a capped subset that is the whole subset."""
import pytest
import torch

from bench.statistic_samples import SplitStatistics, compare
from keeplora.config import load_recipe
from keeplora.statistics import accumulate, input_covariances, mean_gradients

from .conftest import ROOT
from .test_statistics_passes import _loss, _model_and_batches


def test_the_parts_sum_to_the_whole_pass_and_the_first_part_is_the_first_batches(tiny_data):
    model, layers, batches = _model_and_batches(tiny_data)
    acc = SplitStatistics(first=1)

    def counted():
        for b in batches:
            yield b
            acc.batch += 1
    split = accumulate(model, layers, counted(), _loss, acc)
    whole_grad = mean_gradients(model, layers, batches, _loss)
    whole_cov, first_cov = input_covariances(model, layers, batches, _loss), input_covariances(
        model, layers, batches[:1], _loss)
    for n in layers:
        assert torch.allclose(sum(split["grad"][n]) / len(batches), whole_grad[n], rtol=1e-4, atol=1e-7), n
        assert torch.allclose(sum(split["cov"][n]), whole_cov[n], rtol=1e-4, atol=1e-5), n
        assert torch.allclose(split["cov"][n][0], first_cov[n], rtol=1e-4, atol=1e-5), n


def test_a_cap_that_holds_every_sample_compares_as_identical():
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml")
    torch.manual_seed(0)
    layer = torch.nn.Linear(32, 16)
    x, delta = torch.randn(200, 32), torch.randn(200, 16)
    grad, cov = [delta.T @ x, torch.zeros(16, 32)], [x.T @ x, torch.zeros(32, 32)]
    row = compare(layer, grad, cov, 1, 1, recipe)
    assert row["overlap"] == pytest.approx(1.0, abs=1e-4)
    assert row["coverage_cap"] == pytest.approx(row["coverage_full"]) and row["added_cap"] == row["added_full"]
