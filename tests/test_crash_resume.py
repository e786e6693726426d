"""A 2-rank, 3-task run SIGKILLed at several points (during begin_task, mid-task after a step checkpoint,
during evaluation) and resumed each time ends bit-identical to the uninterrupted run (CPU, fp32, fixed
seeds): same merged weights, bases, diagnostics and metrics. Also: resuming on another number of ranks,
and the divergence guard."""
import json
import signal
import sys
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from .conftest import run_launcher, tiny_recipe

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
TASKS = ("color", "shape", "position")
SHORT = dict(optim__max_steps=6, optim__micro_batch_size=4, checkpoint__every_steps=2)


def _out(recipe: Path) -> Path:
    return Path(yaml.safe_load(recipe.read_text())["output_dir"])


def _two_ranks(recipe: Path, fault: str | None = None):
    return run_launcher([str(BIN / "deepspeed"), "--num_gpus", "2", "launch/train.sh", str(recipe)],
                        env_extra={"KEEPLORA_FAULT": fault} if fault else None, new_session=True)


def _weights(out: Path) -> dict:
    return load_file(next((out / "task_03_position").glob("*.safetensors")))


def _why(stderr: str) -> str:
    """Each rank's own error lines and the launcher's verdict (a peer's gloo error hides who failed first)."""
    lines = [ln for ln in stderr.splitlines() if "Error" in ln or "exit" in ln or "Killing" in ln]
    return "\n".join(dict.fromkeys(lines)) + "\n" + stderr[-1500:]


def test_killed_at_every_stage_resumes_bit_identical(tmp_path, tiny_data):
    full = tiny_recipe(tmp_path, tiny_data, "full", tasks=TASKS, **SHORT)
    assert _two_ranks(full).returncode == 0
    killed = tiny_recipe(tmp_path, tiny_data, "killed", tasks=TASKS, **SHORT)
    for fault in ("begin_task:1", "step:1:3", "eval:1", "step:2:5"):
        proc = _two_ranks(killed, fault)
        assert proc.returncode == -signal.SIGKILL, f"{fault}: not killed there\n{_why(proc.stderr)}"
        if fault == "begin_task:1":           # killed before task 2's gradient pass, after task 1 was recorded
            assert json.loads((_out(killed) / "run_manifest.json").read_text())["tasks_done"] == ["color"]
    ckpt = json.loads((_out(killed) / "checkpoints" / "latest").read_text())["folder"]
    assert ckpt.endswith("task_03_position/step_000004")                     # what the last kill left behind
    final = _two_ranks(killed)
    assert final.returncode == 0, final.stderr[-3000:]
    assert "resuming task position at step 4" in final.stdout
    a, b = _out(full), _out(killed)
    wa, wb = _weights(a), _weights(b)
    assert all((wa[k] == wb[k]).all() for k in wa)
    ba, bb = load_file(a / "bases/task_03_position.safetensors"), load_file(b / "bases/task_03_position.safetensors")
    assert all((ba[k] == bb[k]).all() for k in ba)
    ma, mb = (json.loads((x / "metrics.json").read_text()) for x in (a, b))
    assert set(ma.pop("timings")) == set(mb.pop("timings")) == set(TASKS)              # wall times differ
    assert ma == mb
    assert json.loads((a / "diagnostics.json").read_text()) == json.loads((b / "diagnostics.json").read_text())
    assert not (b / "checkpoints" / "task_03_position").exists()              # finished tasks drop theirs


def test_resume_on_a_different_number_of_ranks(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data, "rescale", tasks=TASKS[:2], **SHORT)
    assert _two_ranks(recipe, "step:0:3").returncode == -signal.SIGKILL
    proc = run_launcher(["bash", "launch/train.sh", str(recipe)])              # now one process
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming task color at step 2" in proc.stdout
    assert len(json.loads((_out(recipe) / "metrics.json").read_text())["matrix"]) == 2


def test_divergence_stops_with_one_line_and_keeps_the_last_checkpoint(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data, "nan", tasks=TASKS[:1], optim__lr=1e30, optim__max_grad_norm=0,
                         **SHORT)
    proc = run_launcher(["bash", "launch/train.sh", str(recipe)])
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: task color step ") and "is not finite; stopped" in line
    assert "Resume point kept" in line
