"""End-to-end launcher runs (slow, still in CI): every documented way to start training."""
import json
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import run_launcher, tiny_recipe

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _metrics(recipe: Path) -> dict:
    import yaml
    out = Path(yaml.safe_load(recipe.read_text())["output_dir"])
    return json.loads((out / "metrics.json").read_text()), out


def _check(proc, recipe, n_tasks=2):
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    data, out = _metrics(recipe)
    assert len(data["matrix"]) == n_tasks and all(len(r) == n_tasks for r in data["matrix"])
    return data, out


def test_deepspeed_two_ranks_video_twin_with_trainable_a(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data, "ds2", tasks=("motion", "color"), base="smoke_video_seq.yaml",
                         lora__train_a=True)
    proc = run_launcher([str(BIN / "deepspeed"), "--num_gpus", "2", "launch/train.sh", str(recipe)])
    _, out = _check(proc, recipe)
    diag = json.loads((out / "diagnostics.json").read_text())
    leaks = [m["leak"] for task in diag.values() for m in task.values()]
    assert len(leaks) == 56 and max(leaks) <= 1e-5


def test_deepspeed_hostfile_single_node(tmp_path, tiny_data):
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("localhost slots=2\n")
    recipe = tiny_recipe(tmp_path, tiny_data, "hostrun", tasks=("motion", "color"), base="smoke_video_seq.yaml")
    proc = run_launcher([str(BIN / "deepspeed"), "--hostfile", str(hostfile), "--no_ssh_check",
                         "--master_addr", "127.0.0.1", "launch/train.sh", str(recipe)])
    _check(proc, recipe)


def test_env_var_multi_node_path_runs_torchrun(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data, "envvars")
    proc = run_launcher(["bash", "launch/train.sh", str(recipe)],
                        env_extra={"NNODES": "1", "NODE_RANK": "0", "NPROC_PER_NODE": "2",
                                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29611"})
    _check(proc, recipe)


def test_main_command_learns_the_tiny_sequence(tmp_path, full_tiny_data):
    """The README's main job (deepspeed launcher, one rank, full tiny recipe) learns each task."""
    recipe = tiny_recipe(tmp_path, full_tiny_data, "main", tasks=("color", "shape", "position"),
                         optim__max_steps=None, optim__epochs=4, eval__zero_shot=True)
    proc = run_launcher([str(BIN / "deepspeed"), "launch/train.sh", str(recipe)])
    data, out = _check(proc, recipe, 3)
    assert "Continual-learning metrics" in proc.stdout
    assert data["matrix"][0][0] > data["zero_shot"][0] + 10        # task 1 was learned
    assert (out / "task_03_position" / "model.safetensors").is_file()
    shutil.rmtree(out)
