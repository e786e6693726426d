"""Methods ask for statistics; the trainer does not know them. A method defined outside the package, with a
statistic of its own, runs through the launcher unchanged — its file is all that is written."""
import json
import re

import pytest

from .conftest import ROOT, run_launcher, tiny_recipe

PLUGIN = '''
"""A KeepLoRA++ variant that also protects each finished task's mean layer input: a new statistic."""
import json
from pathlib import Path

import torch

from keeplora.core import orthonormal_columns
from keeplora.methods import register_method
from keeplora.methods.keeplora import KeepLoRAPlusPlus
from keeplora.statistics import Accumulator


class InputMean(Accumulator):
    def start(self, layers):
        self.sums = {n: torch.zeros(l.in_features) for n, l in layers.items()}
        self.counts = {n: torch.zeros(1) for n in layers}

    def add(self, name, x, delta, mask):
        if mask is not None and x.dim() == 3:
            x = x[mask.bool()]
        x = x.reshape(-1, x.shape[-1]).float()
        self.sums[name] += x.sum(0)
        self.counts[name] += x.shape[0]

    def tensors(self):
        return list(self.sums.values()) + list(self.counts.values())

    def results(self, batches):
        return {n: (self.sums[n] / self.counts[n], batches) for n in self.sums}


@register_method("mean_protect")
class MeanProtect(KeepLoRAPlusPlus):
    def end_task(self, ctx):
        super().end_task(ctx)
        covered, seen = [], set()
        for name, (mean, batches) in ctx.statistics(InputMean):
            seen.add(batches)
            self.bases[name] = torch.cat([self.bases[name],
                                          orthonormal_columns(mean[:, None], against=self.bases[name])], dim=1)
            inside = self.bases[name] @ (self.bases[name].T @ mean)
            covered.append((name, float((inside - mean).norm() / mean.norm())))
        out = Path(self.recipe.output_dir) / "mean_protect.json"
        out.write_text(json.dumps({"covered": dict(covered), "batches": sorted(seen)}))
'''


@pytest.mark.slow
def test_a_method_with_its_own_statistic_needs_only_its_file(tmp_path, tiny_data):
    (tmp_path / "mean_protect.py").write_text(PLUGIN)
    # subspace.grad_samples caps the task subset every statistic reads: 2 samples, 1 per batch (12 uncapped)
    recipe = tiny_recipe(tmp_path, tiny_data, "seam", tasks=("color",), method__name="mean_protect",
                         optim__max_steps=2, subspace__grad_samples=2, subspace__grad_batch_size=1)
    code = f"import sys, mean_protect; from keeplora.cli import main; sys.exit(main([{str(recipe)!r}]))"
    proc = run_launcher(["python", "-c", code], env_extra={"PYTHONPATH": f"{tmp_path}:{ROOT}"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = json.loads((tmp_path / "seam" / "mean_protect.json").read_text())
    covered = written["covered"]
    assert written["batches"] == [2]                                   # summed over ranks: the capped subset
    diagnostics = json.loads((tmp_path / "seam" / "diagnostics.json").read_text())
    assert set(covered) == set(diagnostics["color"])                   # every adapted layer got the statistic
    assert max(covered.values()) < 1e-5                                # and protects its mean input now


def test_the_trainer_names_no_method_statistic_or_basis_side():
    source = (ROOT / "keeplora" / "trainer.py").read_text()
    for word in ("keeplora_pp", "inflora", "olora", "seq_lora", "sketch", "principal", "covariance", "Gradient"):
        assert not re.search(word, source, re.IGNORECASE), word
