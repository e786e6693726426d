"""Baseline methods on the same lifecycle: InfLoRA (designed A from inputs, DualGPM-style growth), O-LoRA
(orthogonality penalty between tasks' A), and the KeepLoRA ablation switches."""
import json

import pytest
import torch

from keeplora.config import load_recipe
from keeplora.data import collate_train, read_train_file
from keeplora.lora import inject_lora, lora_modules, merge_lora
from keeplora.methods import get_method
from keeplora.models import Encoder, get_adapter
from keeplora.testing import local_context

from .conftest import ROOT, run_launcher, tiny_recipe


@pytest.fixture
def setup(tiny_data):
    def make(method, *over):
        recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"method.name={method}", *over])
        adapter = get_adapter("llava")
        loaded = adapter.load(recipe.model, seed=0)
        enc = Encoder(adapter, loaded, recipe.model, 256)
        batches = {t: [collate_train([enc.encode(s) for s in read_train_file(tiny_data / t / "train.json")[:8]],
                                     loaded.tokenizer.pad_token_id)] for t in ("color", "shape")}
        targets = adapter.lora_targets(loaded.model)
        return recipe, loaded.model, targets, batches, get_method(method)(recipe)
    return make


def _ctx(model, targets, batches):
    return local_context(model, {n: model.get_submodule(n) for n in targets}, targets, {"task": batches})


def test_inflora_designs_a_outside_the_earlier_tasks_inputs(setup):
    recipe, model, targets, batches, method = setup("inflora")
    targets = method.targets(targets)                                                 # keys and values only
    assert targets and all(n.endswith(("k_proj", "v_proj")) for n in targets)
    a0 = method.begin_task(_ctx(model, targets, batches["color"]))
    assert all(b.shape[1] == 0 for b in method.bases.values())                     # no pretrained protection
    method.end_task(_ctx(model, targets, batches["color"]))
    grown = {n: b.shape[1] for n, b in method.bases.items()}
    assert min(grown.values()) > 0
    a1 = method.begin_task(_ctx(model, targets, batches["shape"]))
    for n in targets:
        assert a0[n].shape == a1[n].shape == (recipe.lora.r, model.get_submodule(n).in_features)
        assert (a1[n] @ method.bases[n]).abs().max() < 1e-4
        assert torch.allclose(a1[n] @ a1[n].T, torch.eye(recipe.lora.r) / 3, atol=1e-5)      # A/√3, as official


def test_olora_penalty_pushes_the_new_a_off_the_old_ones(setup):
    recipe, model, targets, batches, method = setup("olora")
    assert method.regularizer() is None
    peft = inject_lora(model, list(targets), recipe.lora, method.scales(targets), None, True)
    method.on_engine(None, peft)
    model = merge_lora(peft)
    method.end_task(None)
    peft = inject_lora(model, list(targets), recipe.lora, method.scales(targets), None, True)
    method.on_engine(None, peft)
    a_params = [p for n, p in peft.named_parameters() if "lora_A" in n]
    opt = torch.optim.Adam(a_params, lr=0.01)
    first = float(method.regularizer().detach())
    assert first == pytest.approx(0.5 * sum(float((p.detach() @ method.previous_a[n]).abs().sum())       # the L1 sum
                                            for n, p in ((n, lora_modules(peft)[n].lora_A["default"].weight)
                                                         for n in targets)), rel=1e-5)
    for _ in range(100):
        opt.zero_grad()
        method.regularizer().backward()
        opt.step()
    assert first > 0 and float(method.regularizer().detach()) < 0.2 * first
    assert set(method.state()) == set(targets)
    assert all(a.shape[1] == recipe.lora.r for a in method.state().values())       # one task's A rows


def test_ablation_switches(setup):
    _, model, targets, batches, method = setup("keeplora_pp", "subspace.principal=false", "subspace.grow=false")
    method.begin_task(_ctx(model, targets, batches["color"]))
    method.end_task(_ctx(model, targets, batches["color"]))
    assert all(b.shape[1] == 0 for b in method.bases.values())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["olora", "inflora", "joint"])
def test_baselines_run_through_the_launcher(method, tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data, method, method__name=method, optim__max_steps=4,
                         optim__micro_batch_size=8)
    proc = run_launcher(["bash", "launch/train.sh", str(recipe)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    matrix = json.loads((tmp_path / method / "metrics.json").read_text())["matrix"]
    assert len(matrix) == 2
    if method == "joint":                                    # one model trained once on both tasks
        assert matrix[0] == matrix[1] and not (tmp_path / method / "task_02_shape").exists()
    else:
        assert (tmp_path / method / "bases" / "task_02_shape.safetensors").is_file()


def test_joint_trains_on_the_union_of_the_tasks():
    from types import SimpleNamespace

    from keeplora.trainer import ContinualTrainer
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", ["method.name=joint"])
    fake = SimpleNamespace(method=get_method("joint")(recipe), train_sets=[["a", "b"], ["c"], ["d"]])
    assert ContinualTrainer._dataset_samples(fake, 0) == ["a", "b", "c", "d"]
    fake.method = get_method("seq_lora")(recipe)
    assert ContinualTrainer._dataset_samples(fake, 1) == ["c"]


def test_joint_training_gets_the_whole_sequences_step_cap():
    from keeplora.step_loop import stage_steps
    assert stage_steps(per_epoch=100, epochs=1, grad_accum=2, max_steps=None) == 50
    assert stage_steps(per_epoch=100, epochs=1, grad_accum=1, max_steps=60) == 60            # one task
    assert stage_steps(per_epoch=500, epochs=1, grad_accum=1, max_steps=60, tasks=5) == 300  # joint, 5 tasks
    assert stage_steps(per_epoch=120, epochs=1, grad_accum=1, max_steps=60, tasks=5) == 120  # its epoch ends first
