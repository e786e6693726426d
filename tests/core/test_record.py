"""The merge record: after any number of bf16/fp16 merges the sequence is kept exactly and applied once-rounded.

Targets (per task, small layer): (a) the record's accumulated change equals Σ ΔW_t to ≤ 1e-4 of ‖Σ ΔW_t‖,
(b) what each task adds after task t leaks ≤ 1e-5 into task t's protected basis, (c) the working weights are
within one rounding of the record — where PEFT's in-dtype merge drifts by one more rounding every task.
"""
import pytest
import torch
from torch import nn

from keeplora.core import MergeRecord, half_ulp, leak, orthonormal_columns, project_off


def _sequence(d=96, tasks=8, r=4, ratio=1e-3, dtype=torch.bfloat16, seed=0):
    """A layer, a basis that grows by r directions a task, and updates ΔW_t = U_t D_t with D_t ⊥ basis_t."""
    g = torch.Generator().manual_seed(seed)
    layer = nn.Linear(d, d, bias=False).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(d, d, generator=g))
    basis = orthonormal_columns(torch.randn(d, 8, generator=g))
    steps = []
    for _ in range(tasks):
        down = project_off(torch.randn(r, d, generator=g), basis)
        up = torch.randn(d, r, generator=g)
        up *= ratio * float(layer.weight.detach().float().norm()) / float((up @ down).norm())
        steps.append((basis, up, down))
        basis = torch.cat([basis, orthonormal_columns(torch.randn(d, r, generator=g), against=basis)], dim=1)
    return layer, steps


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_record_keeps_the_sequence_exact_and_rounds_once(dtype):
    layer, steps = _sequence(dtype=dtype)
    w0 = layer.weight.detach().double().clone()
    record = MergeRecord.start({"l": layer})
    exact = torch.zeros_like(w0)
    for t, (basis, up, down) in enumerate(steps):
        record.add({"l": (up, down)})
        diag = record.apply({"l": layer}, {"l": basis})["l"]
        exact += up.double() @ down.double()
        total = record.delta("l").double()
        assert float((total - exact).norm() / exact.norm()) <= 1e-4                                # (a)
        assert diag["record_leak"] <= 1e-5
        for s in range(t + 1):                                                                     # (b)
            later = record.delta("l", first=s).double()
            assert float((later @ steps[s][0].double()).norm() / later.norm()) <= 1e-5
        err = (layer.weight.double() - (w0 + exact)).abs()                                         # (c)
        fp32_sum = 1e-6 * float(exact.abs().max())              # the fp32 arithmetic of Σ U_t D_t itself
        assert bool((err <= half_ulp(w0 + exact, dtype).double() * 1.001 + fp32_sum).all())
        assert diag["rounding"] <= 1.001


def test_in_dtype_merging_loses_small_updates_that_the_record_keeps():
    """Each in-dtype merge drops the update's elements below half a bf16 step; the record rounds the sum once."""
    layer, steps = _sequence(ratio=1e-3, dtype=torch.bfloat16)
    naive = layer.weight.detach().clone()
    w0 = naive.double()
    exact = torch.zeros_like(w0)
    for _, up, down in steps:
        naive = (naive.float() + up @ down).to(torch.bfloat16)          # what a merge into bf16 weights does
        exact += up.double() @ down.double()
    record = MergeRecord.start({"l": layer})
    for basis, up, down in steps:
        record.add({"l": (up, down)})
        record.apply({"l": layer}, {"l": basis})

    def survives(w):                                                    # share of Σ ΔW the weights took
        return float(((w.double() - w0) * exact).sum() / exact.square().sum())

    def error(w):
        return float((w.double() - w0 - exact).norm() / exact.norm())
    assert survives(layer.weight) > survives(naive) + 0.2 and survives(layer.weight) > 0.85
    assert error(layer.weight) < 0.8 * error(naive)
    assert leak((layer.weight.double() - w0).float(), steps[0][0]) < leak((naive.double() - w0).float(), steps[0][0])


def test_record_round_trips_through_its_tensors(tmp_path):
    from keeplora.bases import load_record, save_record
    from keeplora.errors import UserError
    layer, steps = _sequence(tasks=3)
    record = MergeRecord.start({"l": layer})
    for i, (_, up, down) in enumerate(steps):
        record.add({"l": (up, down)})
        save_record(tmp_path, record, [f"task_{j:02d}" for j in range(i + 1)])
    again = load_record(tmp_path, ["task_00", "task_01", "task_02"], ["l"])
    assert torch.equal(again.base["l"], record.base["l"]) and torch.equal(again.delta("l"), record.delta("l"))
    with pytest.raises(UserError, match="covers other layers"):
        load_record(tmp_path, ["task_00"], ["other"])
    with pytest.raises(UserError, match="task_03.safetensors not found"):
        load_record(tmp_path, ["task_00", "task_03"], ["l"])
    with pytest.raises(ValueError, match="other modules"):
        record.add({"x": steps[0][1:]})
