"""The method's promises, checked on saved checkpoints of real tiny runs (independent of the run's code).

(a) KeepLoRA++: every merged update of task 2 has ‖ΔW·B_prev‖/‖ΔW‖ ≤ 1e-4 for the basis after task 1.
(b) KeepLoRA++ γ=0.2 vs γ=1: per-layer ‖ΔW_l‖ ratio rises with depth, close to s_l.
(c) SeqLoRA shows neither: large leak, and no depth ramp.
"""
import json
import re

import pytest
from safetensors.torch import load_file

from keeplora.core import layer_scales

from .conftest import run_launcher, tiny_recipe

KEY = re.compile(r"language_model\.(?:model\.)?layers\.(\d+)\.(?:self_attn|mlp)\.(\w+_proj)(?:\.weight)?$")


def _by_layer(tensors: dict) -> dict:
    return {m.groups(): t.float() for k, t in tensors.items() if (m := KEY.search(k))}


def _weights(run, label):
    return _by_layer(load_file(str(run / label / "model.safetensors")))


def _deltas(run, before, after):
    w0, w1 = _weights(run, before), _weights(run, after)
    return {k: w1[k] - w0[k] for k in w1}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_data):
    tmp = tmp_path_factory.mktemp("mech")
    variants = {"pp": ("keeplora_pp", 0.2), "pp_flat": ("keeplora_pp", 1.0),
                "seq": ("seq_lora", 0.2), "seq_flat": ("seq_lora", 1.0)}
    out = {}
    for name, (method, gamma) in variants.items():
        recipe = tiny_recipe(tmp, tiny_data, name, method__name=method, layer_scale__gamma=gamma, save_base=True)
        proc = run_launcher(["bash", "launch/train.sh", str(recipe)])
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[name] = tmp / name
    return out


def test_metrics_json_holds_the_full_matrix(runs):
    data = json.loads((runs["pp"] / "metrics.json").read_text())
    assert data["tasks"] == ["color", "shape"]
    assert len(data["matrix"]) == 2 and all(len(r) == 2 for r in data["matrix"])
    assert set(data["metrics"]) >= {"transfer", "average", "last", "mft", "mfn", "maa", "bwt"}


def test_a_keeplora_pp_updates_avoid_the_protected_basis(runs):
    basis = _by_layer(load_file(str(runs["pp"] / "bases" / "task_01_color.safetensors")))
    deltas = _deltas(runs["pp"], "task_01_color", "task_02_shape")
    assert len(deltas) == 28
    for key, dw in deltas.items():
        assert dw.norm() > 0, key
        assert float((dw @ basis[key]).norm() / dw.norm()) <= 1e-4, key


def _layer_norms(run, before, after) -> dict[int, float]:
    norms: dict[int, list] = {}
    for (layer, _), dw in _deltas(run, before, after).items():
        norms.setdefault(int(layer), []).append(float(dw.norm()))
    return {l: sum(v) / len(v) for l, v in sorted(norms.items())}


def test_b_layer_scale_ratio_rises_with_depth_close_to_s_l(runs):
    scaled = _layer_norms(runs["pp"], "task_00_base", "task_01_color")
    flat = _layer_norms(runs["pp_flat"], "task_00_base", "task_01_color")
    ratio = [scaled[l] / flat[l] for l in sorted(scaled)]
    expected = layer_scales(len(ratio), 0.2)
    assert all(a < b for a, b in zip(ratio, ratio[1:])), ratio
    for r, s in zip(ratio, expected):
        assert abs(r / s - 1) < 0.35, (ratio, expected)


def test_c_seq_lora_has_neither_property(runs):
    basis = _by_layer(load_file(str(runs["pp"] / "bases" / "task_01_color.safetensors")))
    deltas = _deltas(runs["seq"], "task_01_color", "task_02_shape")
    leaks = [float((dw @ basis[k]).norm() / dw.norm()) for k, dw in deltas.items()]
    assert min(leaks) > 0.1
    scaled = _layer_norms(runs["seq"], "task_00_base", "task_01_color")
    flat = _layer_norms(runs["seq_flat"], "task_00_base", "task_01_color")
    assert [scaled[l] / flat[l] for l in scaled] == pytest.approx([1.0] * len(scaled), abs=1e-6)
