"""Run state that defends itself: one run per output_dir, data changes never resumed, files that follow the
umask, and recipe mistakes (DeepSpeed JSON, task names, output_dir) refused before anything loads."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from keeplora.checks import check_files
from keeplora.config import RecipeError, load_recipe
from keeplora.errors import UserError

from .conftest import ROOT, run_launcher, tiny_recipe


def test_one_run_per_output_dir_and_stale_locks_are_taken_over(tmp_path):
    from keeplora.run_lock import LOCK, RunLock
    first = RunLock(tmp_path)
    assert first.acquire() is None
    with pytest.raises(UserError, match=rf"in use by pid {os.getpid()} on .* delete .*{LOCK}"):
        RunLock(tmp_path).acquire()
    first.release()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket
    (tmp_path / LOCK).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "since": "x"}))
    again = RunLock(tmp_path)
    assert "took over the stale run lock of dead process" in again.acquire()
    again.release()
    assert not (tmp_path / LOCK).exists()


@pytest.mark.slow
def test_a_second_run_on_a_live_output_dir_is_refused(tmp_path, tiny_data):
    from keeplora.run_lock import LOCK
    recipe = tiny_recipe(tmp_path, tiny_data, "locked", tasks=("color",), optim__max_steps=2)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket
        (tmp_path / "locked").mkdir()
        (tmp_path / "locked" / LOCK).write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(),
                                                            "since": "now"}))
        proc = run_launcher(["bash", "launch/train.sh", str(recipe)])
    finally:
        holder.kill()
    assert proc.returncode == 2
    assert f"is in use by pid {holder.pid}" in proc.stderr.strip().splitlines()[-1]
    assert sorted(p.name for p in (tmp_path / "locked").iterdir()) == [LOCK]          # nothing written


def test_changed_task_files_are_not_resumed(tmp_path, tiny_data):
    from keeplora.resume import fingerprint, plan_resume, task_checksums, write_manifest
    data = tmp_path / "data"
    shutil.copytree(tiny_data / "color", data / "color")
    shutil.copytree(tiny_data / "shape", data / "shape")
    over = [f"output_dir={tmp_path / 'run'}", f"tasks.0.train={data / 'color/train.json'}",
            f"tasks.0.test={data / 'color/test.jsonl'}"]
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", over)
    sums = task_checksums(recipe)
    write_manifest(tmp_path / "run", fingerprint(recipe), [t.name for t in recipe.tasks], None, [[1.0, 2.0, 3.0]], sums)
    assert plan_resume(recipe)["tasks_done"] == ["color"]
    train = json.loads((data / "color/train.json").read_text())
    (data / "color/train.json").write_text(json.dumps(train[:-1]))
    assert task_checksums(recipe)["color"] != sums["color"] and task_checksums(recipe)["shape"] == sums["shape"]
    with pytest.raises(RecipeError, match="files of finished task color changed"):
        plan_resume(recipe)


def test_run_files_follow_the_umask(tmp_path):
    from keeplora.atomic import atomic_write_text
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "metrics.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("zero, message", [
    ({"stage": "3"}, "ZeRO stage 3 is not supported"),
    ({"stage": 2, "_top": {"train_micro_batch_size_per_gp": 4}},
     "train_micro_batch_size_per_gp: unknown key .* did you mean 'train_micro_batch_size_per_gpu'"),
    ({"stage": 2, "overlap_com": True}, "zero_optimization.overlap_com: unknown key"),
    ({"stage": 2, "reduce_bucket_size": "auto", "contiguous_gradients": True}, None),
    ({"stage": 2, "_top": {"torch_autocast": {"enabled": True, "dtype": "bfloat16"}}, "_dtype": "bfloat16"},
     "torch_autocast casts fp32 weights per op and needs model.dtype float32, not bfloat16"),
    ({"stage": 2, "_top": {"torch_autocast": {"enabled": True, "dtype": "bfloat16"}}}, None),
])
def test_deepspeed_json_checked_before_loading(tmp_path, tiny_data, zero, message):
    ds = tmp_path / "ds.json"
    top, dtype = zero.pop("_top", {}), zero.pop("_dtype", "float32")
    ds.write_text(json.dumps({"train_micro_batch_size_per_gpu": "auto", "zero_optimization": zero, "wandb": {}, **top}))
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"deepspeed.config={ds}", f"model.dtype={dtype}",
                                                                 f"tasks.0.train={tiny_data / 'color/train.json'}",
                                                                 f"tasks.0.test={tiny_data / 'color/test.jsonl'}"])
    recipe = recipe.model_copy(update={"tasks": recipe.tasks[:1], "general": []})
    if message is None:
        check_files(recipe, ROOT)
    else:
        with pytest.raises(RecipeError, match=message):
            check_files(recipe, ROOT)


def test_autocast_reduces_gradients_in_fp32_unless_modules_are_named(tmp_path):
    """DeepSpeed's default would mark every nn.Linear (each LoRA factor) for bf16 gradient reduction."""
    from keeplora.dist import build_ds_config
    ds = tmp_path / "ds.json"
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"deepspeed.config={ds}"])
    for block, wanted in (({"enabled": True}, []), ({"enabled": True, "lower_precision_safe_modules": ["x.Y"]},
                                                     ["x.Y"])):
        ds.write_text(json.dumps({"zero_optimization": {"stage": 2}, "torch_autocast": block}))
        assert build_ds_config(recipe, 1, 64, on_cpu=True)["torch_autocast"]["lower_precision_safe_modules"] == wanted
    ds.write_text(json.dumps({"zero_optimization": {"stage": 2}, "torch_autocast": {"enabled": True, "dtype": "fp16"}}))
    with pytest.raises(RecipeError, match="float16 is not supported by DeepSpeed on CPU"):
        build_ds_config(recipe, 1, 64, on_cpu=True)


@pytest.mark.parametrize("override, message", [
    ("tasks.0.name=a/b", "tasks.0.name: String should match pattern"),
    ("tasks.0.name=../x", "tasks.0.name: String should match pattern"),
    ("general.0.name=.hidden", "general.0.name: String should match pattern"),
    ("output_dir=' '", "output_dir: String should match pattern"),
])
def test_names_that_cannot_be_folders_are_refused(override, message):
    over = ["general=[{name: g, test: x.jsonl}]", override] if override.startswith("general") else [override]
    with pytest.raises(RecipeError, match=message):
        load_recipe(ROOT / "recipes/smoke_image_seq.yaml", over)


def test_damaged_run_files_are_one_line(tmp_path):
    from keeplora.bases import load_bases, save_bases
    from keeplora.resume import MANIFEST, read_manifest
    from keeplora.sealed import damage, seal
    (tmp_path / MANIFEST).write_text('{"fingerprint": "ab')
    with pytest.raises(RecipeError, match="run_manifest.json is damaged"):
        read_manifest(tmp_path)
    path = tmp_path / "b.safetensors"
    save_bases(path, {"l": torch.eye(3)}, "m", "llava", "t")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(UserError, match="basis file .* is damaged"):
        load_bases(path, "m", "llava", ["l"])
    ckpt = tmp_path / "task_01_x"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "model.safetensors").write_bytes(b"weights")
    seal(ckpt)
    assert damage(ckpt, ("config.json",)) is None
    (ckpt / "config.json").unlink()
    assert damage(ckpt, ("config.json",)) == f"{ckpt} has no config.json"
    (ckpt / "config.json").write_text("{}")
    (ckpt / "model.safetensors").write_bytes(b"weight")
    assert "model.safetensors is truncated or changed" in damage(ckpt)


@pytest.mark.slow
def test_a_damaged_task_checkpoint_stops_the_resume_and_overwrite_starts_over(tmp_path, tiny_data):
    one = tiny_recipe(tmp_path, tiny_data, "state", tasks=("color",), optim__max_steps=2)
    assert run_launcher(["bash", "launch/train.sh", str(one)]).returncode == 0
    out = tmp_path / "state"
    (out / "task_01_color" / "config.json").unlink()
    two = tiny_recipe(tmp_path, tiny_data, "state", tasks=("color", "shape"), optim__max_steps=2)
    proc = run_launcher(["bash", "launch/train.sh", str(two)])
    assert proc.returncode == 2
    assert "its checkpoint is damaged" in proc.stderr.strip().splitlines()[-1] and "config.json" in proc.stderr
    stale = out / "checkpoints" / "task_01_color" / "step_000001"
    stale.mkdir(parents=True)
    proc = run_launcher(["bash", "launch/train.sh", str(two), "overwrite=true"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not stale.exists() and len(json.loads((out / "metrics.json").read_text())["matrix"]) == 2
