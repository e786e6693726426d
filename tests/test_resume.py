"""A sequence killed mid-way resumes after its last finished task and ends exactly where an
uninterrupted run ends (CPU, fp32, fixed seeds: bit-equal metrics)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, run_launcher, tiny_recipe

pytestmark = pytest.mark.slow
TASKS = ("color", "shape", "position")


def _out(recipe: Path) -> Path:
    return Path(yaml.safe_load(recipe.read_text())["output_dir"])


def _kill_after_first_task(recipe: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(["bash", "launch/train.sh", str(recipe)], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = _out(recipe) / "run_manifest.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if manifest.is_file() and json.loads(manifest.read_text())["tasks_done"]:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(json.loads(manifest.read_text())["tasks_done"]) < len(TASKS), "the run finished before the kill"


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, tiny_data):
    full = tiny_recipe(tmp_path, tiny_data, "full", tasks=TASKS, eval__zero_shot=True)
    assert run_launcher(["bash", "launch/train.sh", str(full)]).returncode == 0
    killed = tiny_recipe(tmp_path, tiny_data, "killed", tasks=TASKS, eval__zero_shot=True)
    _kill_after_first_task(killed)
    proc = run_launcher(["bash", "launch/train.sh", str(killed)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "resuming" in proc.stdout
    a = json.loads((_out(full) / "metrics.json").read_text())
    b = json.loads((_out(killed) / "metrics.json").read_text())
    assert a["matrix"] == b["matrix"] and a["zero_shot"] == b["zero_shot"]
    assert _scalars(_out(killed)) == _scalars(_out(full))          # one global step across the resume

    again = run_launcher(["bash", "launch/train.sh", str(killed)])             # finished: refuse, keep files
    assert again.returncode == 2 and "holds a finished run" in again.stderr
    changed = run_launcher(["bash", "launch/train.sh", str(killed), "overwrite=false", "lora.r=2",
                            "tasks.2.name=other"])
    assert changed.returncode == 2 and "finished tasks" in changed.stderr


def _scalars(run: Path) -> dict[str, dict[int, float]]:
    """TensorBoard scalars by tag and global step (a step written twice, before and after a kill, keeps
    its last value); losses rounded to what a resumed step reproduces."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out: dict[str, dict[int, float]] = {}
    for events in sorted((run / "tb").glob("events.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            if tag != "train/tokens_per_s":                        # wall time: differs between runs
                out.setdefault(tag, {}).update({e.step: round(e.value, 5) for e in acc.Scalars(tag)})
    assert {"train/loss", "train/lr", "train/grad_norm", "eval/mean"} <= set(out), sorted(out)
    steps = sorted(out["train/loss"])
    assert steps == list(range(1, len(steps) + 1))                 # continuous over every task
    evals = sorted(out["eval/mean"])                               # zero-shot at 0, then each task's last step
    assert evals[0] == 0 and evals[-1] == steps[-1] and len(evals) == len(TASKS) + 1
    return out


def test_plan_resume_rules(tmp_path):
    from keeplora.config import RecipeError, load_recipe
    from keeplora.resume import fingerprint, plan_resume, write_manifest

    def recipe(*over):
        return load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"output_dir={tmp_path}", *over])

    assert plan_resume(recipe()) is None                                          # nothing there yet
    with pytest.raises(RecipeError, match="resume=true but"):
        plan_resume(recipe("resume=true"))
    write_manifest(tmp_path, fingerprint(recipe()), ["color", "shape", "position"], None, [[1.0, 2.0, 3.0]])
    assert plan_resume(recipe())["tasks_done"] == ["color"]
    with pytest.raises(RecipeError, match="different settings"):
        plan_resume(recipe("lora.r=2"))
    with pytest.raises(RecipeError, match="already holds a run"):
        plan_resume(recipe("resume=false"))
    assert plan_resume(recipe("overwrite=true")) is None
    with pytest.raises(RecipeError, match="cannot resume"):
        plan_resume(recipe("save_merged=false"))
