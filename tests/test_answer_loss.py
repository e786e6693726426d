"""The training loss with logits at labelled positions only equals every family's own ``.loss``, value and
gradients, on a mixed batch (image, video, text-only; right padding) of its tiny random config."""
import pytest
import torch

from keeplora.config import load_recipe
from keeplora.data import collate_train
from keeplora.models import MODELS, Encoder, get_adapter
from keeplora.models.loss import answer_loss, keeps_logits_mask

from .conftest import ROOT
from .test_model_conformance import _samples


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("family", [f for f in MODELS if MODELS.get(f).output == "generate"])
def test_answer_loss_is_the_models_own_loss(family, tmp_path):
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"model.family={family}", "model.num_frames=4"])
    adapter = get_adapter(family)
    loaded = adapter.load(recipe.model, seed=0)
    model = loaded.model.float().requires_grad_(True)
    encoder = Encoder(adapter, loaded, recipe.model, 512)
    batch = collate_train([encoder.encode(s) for s in _samples(tmp_path, adapter.modalities)],
                          loaded.tokenizer.pad_token_id)
    assert keeps_logits_mask(model), f"{family}: no boolean logits_to_keep, the saving does not apply"
    model.zero_grad()
    own = model(**batch).loss
    own.backward()
    expected = _grads(model)
    model.zero_grad()
    ours = answer_loss(model, dict(batch))
    ours.backward()
    got = _grads(model)
    torch.testing.assert_close(ours, own, rtol=1e-5, atol=1e-6)
    assert got.keys() == expected.keys()
    for name, g in expected.items():
        torch.testing.assert_close(got[name], g, rtol=1e-4, atol=1e-6, msg=lambda m, n=name: f"{n}: {m}")
    assert "labels" in batch                       # the caller's batch is left as it was


def test_models_without_the_argument_use_their_own_loss():
    class Plain(torch.nn.Module):
        def forward(self, x, labels):
            return type("Out", (), {"loss": (x * labels).sum()})()
    x, labels = torch.ones(2, 3), torch.ones(2, 3, dtype=torch.long)
    assert not keeps_logits_mask(Plain())
    assert answer_loss(Plain(), {"x": x, "labels": labels}).item() == 6.0
