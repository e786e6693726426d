"""``subspace.reference``: a general reference set's layer inputs join every basis at step 0, so after a task
every adapted layer maps those inputs exactly as before; below energy 1.0 the sizes follow the GPM rule."""
import json

import pytest
import torch

from keeplora.config import load_recipe
from keeplora.core import MergeRecord, covariance_root, grow_basis, principal_basis
from keeplora.data import collate_train, read_train_file
from keeplora.lora import inject_lora, merge_into_record
from keeplora.methods import get_method
from keeplora.models import Encoder, get_adapter
from keeplora.reference import read_reference
from keeplora.statistics import input_covariances
from keeplora.testing import local_context

from .conftest import ROOT


def _reference_file(tmp_path):
    rows = [{"id": f"r{i}", "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}
            for i, (q, a) in enumerate([("Hi?", "red"), ("Sum?", "four")])]
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(rows))
    return path


def _setup(tmp_path, tiny_data, energy):
    ref = _reference_file(tmp_path)
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml",
                         [f"subspace.reference={{train: [{ref}], energy: {energy}}}", "model.tiny.hidden_size=128"])
    adapter = get_adapter("llava")
    loaded = adapter.load(recipe.model, seed=0)
    enc = Encoder(adapter, loaded, recipe.model, 256)
    pad = loaded.tokenizer.pad_token_id
    samples, checksum = read_reference(recipe.subspace.reference)
    reference = [collate_train([enc.encode(s)], pad) for s in samples]        # ~20 tokens each: fewer than d_in
    task = [collate_train([enc.encode(s) for s in read_train_file(tiny_data / "color" / "train.json")[:8]], pad)]
    model = loaded.model
    targets = adapter.lora_targets(model)
    layers = {n: model.get_submodule(n) for n in targets}
    ctx = local_context(model, layers, targets, {"task": task, "reference": reference}, adapter=adapter)
    return recipe, model, targets, layers, ctx, reference, checksum


def _inputs(model, layers, batch):
    seen = {}
    handles = [layer.register_forward_hook(lambda m, a, o, n=n: seen.__setitem__(n, a[0].detach().clone()))
               for n, layer in layers.items()]
    with torch.no_grad():
        model(**batch)
    for h in handles:
        h.remove()
    return seen


def test_reference_inputs_map_exactly_as_before_after_a_task(tmp_path, tiny_data):
    recipe, model, targets, layers, ctx, reference, _ = _setup(tmp_path, tiny_data, 1.0)
    method = get_method("keeplora_pp")(recipe)
    x = _inputs(model, layers, reference[0])
    before = {n: layers[n](x[n]) for n in layers}
    init_a = method.begin_task(ctx)
    peft = inject_lora(model, list(targets), recipe.lora, method.scales(targets), init_a, train_a=False)
    with torch.no_grad():                                  # a trained-looking B: a sizeable update everywhere
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.copy_(0.3 * torch.randn_like(p))
    record = MergeRecord.start(layers)
    model, merged = merge_into_record(peft, record, {n: method.basis(n) for n in targets})
    assert min(float(record.delta(n).norm() / layers[n].weight.norm()) for n in targets) > 1e-2
    for n in targets:
        change = float((model.get_submodule(n)(x[n]) - before[n]).norm() / before[n].norm())
        assert change <= 1e-5, (n, change)


def test_reference_basis_sizes_follow_the_energy_rule(tmp_path, tiny_data):
    recipe, model, targets, layers, ctx, reference, _ = _setup(tmp_path, tiny_data, 0.9)
    method = get_method("keeplora_pp")(recipe)
    method.begin_task(ctx)
    covs = input_covariances(model, layers, reference, lambda m, b: m(**b).loss)
    for n in targets:
        principal = principal_basis(layers[n].weight, recipe.subspace.weight_energy)
        expected = grow_basis(principal, covariance_root(covs[n]), 0.9)
        assert method.basis(n).shape == expected.shape
        assert method.basis(n).shape[1] > principal.shape[1] or n.endswith("down_proj")


def test_a_basis_built_with_another_reference_set_is_refused(tmp_path, tiny_data):
    from keeplora.bases import load_bases, save_bases
    from keeplora.errors import UserError
    *_, checksum = _setup(tmp_path, tiny_data, 0.9)
    path = tmp_path / "b.safetensors"
    save_bases(path, {"l": torch.eye(3)}, "m", "llava", "t", checksum)
    assert load_bases(path, "m", "llava", ["l"], checksum)["l"].shape == (3, 3)
    with pytest.raises(UserError, match="built with reference set"):
        load_bases(path, "m", "llava", ["l"], "")
    ref = tmp_path / "reference.json"
    ref.write_text(ref.read_text().replace("four", "five"))
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"subspace.reference={{train: [{ref}], energy: 0.9}}"])
    assert read_reference(recipe.subspace.reference)[1] != checksum
    with pytest.raises(UserError, match=r"subspace.reference.train\[0\]: file .* not found"):
        read_reference(recipe.subspace.reference.model_copy(update={"train": [str(tmp_path / "nope.json")]}))
