"""Sharded statistics equal the single-process ones (2 ranks, plain torch + gloo)."""
import torch

from keeplora.config import ModelCfg
from keeplora.models import get_adapter
from keeplora.statistics import input_covariances, mean_gradients

from .harness import run_ranks


def _setup():
    adapter = get_adapter("llava")
    loaded = adapter.load(ModelCfg(family="llava"), seed=0)
    model = loaded.model
    layers = {n: model.get_submodule(n) for n in list(adapter.lora_targets(model))[:6]}
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(4):
        ids = torch.randint(10, 200, (3, 12), generator=g)
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()})
    return model, layers, batches


def _loss(model, batch):
    return model(**batch).loss


def _worker(rank, world):
    model, layers, batches = _setup()
    mine = batches[rank::world]
    grads = mean_gradients(model, layers, mine, _loss)
    covs = input_covariances(model, layers, mine, _loss)
    return {"grads": grads, "covs": covs}


def test_mean_gradients_and_covariances_match_a_single_process():
    results = run_ranks(_worker)
    model, layers, batches = _setup()
    import torch.distributed as dist
    assert not dist.is_initialized()
    ref_g = mean_gradients(model, layers, batches, _loss)
    ref_c = input_covariances(model, layers, batches, _loss)
    for r in results:                                         # identical on both ranks, equal to the reference
        for n in layers:
            assert torch.allclose(torch.from_numpy(r["grads"][n]), ref_g[n], atol=1e-6, rtol=1e-5), n
            assert torch.allclose(torch.from_numpy(r["covs"][n]), ref_c[n], atol=1e-4, rtol=1e-5), n
    for n in layers:
        assert (results[0]["grads"][n] == results[1]["grads"][n]).all()


def test_padding_tokens_do_not_count_as_task_features():
    model, layers, batches = _setup()
    ids = batches[0]["input_ids"]
    plain = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    padded_ids = torch.cat([ids, torch.zeros(ids.shape[0], 5, dtype=ids.dtype)], dim=1)     # right padding
    mask = torch.cat([torch.ones_like(ids), torch.zeros(ids.shape[0], 5, dtype=ids.dtype)], dim=1)
    padded = {"input_ids": padded_ids, "attention_mask": mask, "labels": padded_ids}
    a = input_covariances(model, layers, [plain], _loss)
    b = input_covariances(model, layers, [padded], _loss)
    for n in layers:
        assert torch.allclose(a[n], b[n], atol=1e-4, rtol=1e-4), n
