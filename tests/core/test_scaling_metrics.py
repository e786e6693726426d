"""Layer-scale schedules and CL metrics (the worked oracle of benchmarks.md §4)."""
import subprocess
import sys

import pytest

from keeplora.core import layer_scales
from keeplora.metrics import cl_metrics


def test_linear_ramp_matches_the_official_formula():
    assert layer_scales(5, 0.2) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    twelve = layer_scales(12, 0.2)
    assert twelve[:2] == pytest.approx([0.2, 0.2 + 0.8 / 11])
    assert layer_scales(1, 0.2) == [1.0]


def test_other_schedules_and_errors():
    assert layer_scales(4, 0.2, "uniform") == [1.0] * 4
    exp = layer_scales(4, 0.25, "exp")
    assert exp[0] == pytest.approx(0.25) and exp[-1] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(exp, exp[1:]))
    with pytest.raises(ValueError, match="known: exp, linear, uniform"):
        layer_scales(4, 0.2, "cosine")
    with pytest.raises(ValueError):
        layer_scales(4, 0.0)


def test_cl_metrics_worked_oracle():
    m = cl_metrics([[80, 15, 35], [60, 70, 40], [50, 55, 90]], zero_shot=[20, 10, 30])
    expected = {"transfer": 26.25, "average": 55.0, "last": 65.0, "mfn": 65.0, "mft": 80.0, "maa": 70.0,
                "bwt": -22.5, "forgetting": 22.5, "fwt": 7.5}
    for key, value in expected.items():
        assert m[key] == pytest.approx(value), key


def test_cl_metrics_single_task_and_bad_shape():
    m = cl_metrics([[42.0]])
    assert m["last"] == 42.0 and m["transfer"] is None and m["bwt"] is None
    with pytest.raises(ValueError, match="square"):
        cl_metrics([[1, 2]])


def test_core_imports_no_deepspeed_transformers_or_peft():
    code = ("import sys, keeplora.core, keeplora.metrics; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('deepspeed', 'transformers', 'peft')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
