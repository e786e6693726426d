"""The README's main job, shortened: TinyCL-VL data, a briefly pretrained base, and the grid runner on two
methods (1 seed, 1 order, few steps). The full grid is `python -m bench.tinycl` (BENCHMARKS.md)."""
import json

import pytest

from bench import tinycl as grid
from data_prep.tinycl import build
from data_prep.tinycl_base import build_base

from .conftest import tinycl_recipe

pytestmark = pytest.mark.slow


def test_tinycl_grid_runs_two_methods_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = tmp_path / "tinycl"
    build(data, n_train=96, n_test=24, n_general=96, n_general_test=24)
    info = build_base(data, steps=120)
    assert set(info["general_after"]) == {"shapes", "digits", "clipart", "fashion", "letters", "video_color"}
    recipe = tinycl_recipe(tmp_path, "tiny_image_seq.yaml", data, data / "base", optim__max_steps=10,
                           eval__max_samples=24)
    out = tmp_path / "grid"
    assert grid.main(["--recipe", str(recipe), "--methods", "seq_lora", "keeplora_pp", "--seeds", "1",
                      "--orders", "1", "--out", str(out), "--jobs", "2"]) == 0      # both cells at once
    assert "task 5/5" in (out / "seq_lora/order1_seed0/train.log").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"seq_lora", "keeplora_pp"}
    for method in summary:
        metrics = json.loads((out / method / "order1_seed0/metrics.json").read_text())
        assert len(metrics["matrix"]) == 5 and len(metrics["general"]) == 6        # zero-shot + 5 stages
        assert metrics["metrics"]["general_change"] is not None
    assert summary["keeplora_pp"]["leak"][0] < 1e-4          # merged updates stay off the protected basis
    assert summary["seq_lora"].get("leak", (0.0,))[0] == 0.0 or "leak" not in summary["seq_lora"]
    assert "| keeplora_pp | 1 |" in (out / "table.md").read_text() and (out / "tinycl.png").is_file()
    # a second call reuses the finished cells instead of training again
    stamp = (out / "seq_lora/order1_seed0/metrics.json").stat().st_mtime_ns
    grid.main(["--recipe", str(recipe), "--methods", "seq_lora", "--seeds", "1", "--orders", "1", "--out", str(out)])
    assert (out / "seq_lora/order1_seed0/metrics.json").stat().st_mtime_ns == stamp
