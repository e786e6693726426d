"""The bad-input matrix, end to end through the launcher: each case stops with exit code 2 and one line
naming the sample, file or key (or, where documented, is skipped and counted), and nothing is lost.

Cases covered elsewhere: malformed YAML, unknown key, wrong type, missing data file (test_config); empty
split, conversation without an answer turn (test_records); placeholder/file count mismatch
(test_families); basis of another model (test_bases); non-finite loss and a different world size on resume
(test_crash_resume); a video shorter than ``num_frames`` repeats frames, by design (test_media).
"""
import json
import shutil
import time

import pytest

from .conftest import run_launcher, tiny_recipe

pytestmark = pytest.mark.slow


@pytest.fixture
def broken_data(tmp_path, tiny_data):
    """Copies of two tiny tasks with one missing image and one truncated mp4."""
    data = tmp_path / "data"
    for task in ("color", "motion"):
        shutil.copytree(tiny_data / task, data / task)
    train = json.loads((data / "color" / "train.json").read_text())
    train[3]["image"] = "media/does_not_exist.png"
    (data / "color" / "train.json").write_text(json.dumps(train))
    clip = data / "motion" / "media" / "motion_00002.mp4"
    clip.write_bytes(clip.read_bytes()[:300])
    return data


def _last_line(proc) -> str:
    return proc.stderr.strip().splitlines()[-1]


def _run(tmp_path, data, name, tasks=("color",), **over):
    recipe = tiny_recipe(tmp_path, data, name, tasks=tasks, optim__max_steps=2, optim__micro_batch_size=8,
                         subspace__grad_ratio=1.0, **over)
    return run_launcher(["bash", "launch/train.sh", str(recipe)]), tmp_path / name


def test_missing_image_stops_with_the_sample_and_path(tmp_path, broken_data):
    proc, _ = _run(tmp_path, broken_data, "missing")
    assert proc.returncode == 2
    line = _last_line(proc)
    assert line.startswith("error: sample ") and "does_not_exist.png not found" in line


def test_skip_mode_counts_the_bad_sample(tmp_path, broken_data):
    proc, out = _run(tmp_path, broken_data, "skip", data__on_bad_sample="skip")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "skipped 1 bad sample(s)" in proc.stdout
    skipped = json.loads((out / "metrics.json").read_text())["skipped"]["color"]
    assert skipped["count"] == 1 and "does_not_exist.png" in skipped["examples"][0]


def test_truncated_mp4_stops_with_the_sample_and_path(tmp_path, broken_data):
    proc, _ = _run(tmp_path, broken_data, "mp4", tasks=("motion",), base="smoke_video_seq.yaml")
    assert proc.returncode == 2
    line = _last_line(proc)
    assert line.startswith("error: sample ") and "motion_00002.mp4 cannot be decoded" in line


def test_fp16_on_cpu_is_refused_before_loading(tmp_path, tiny_data):
    proc, _ = _run(tmp_path, tiny_data, "fp16", model__dtype="float16")
    assert proc.returncode == 2 and _last_line(proc).startswith("error: model.dtype float16: fp16 is not supported")


def test_hub_model_without_network_is_one_line_not_a_hang(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data, "hub", model__name_or_path="llava-hf/llava-1.5-7b-hf")
    start = time.time()
    proc = run_launcher(["bash", "launch/train.sh", str(recipe)], timeout=300, env_extra={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2 and time.time() - start < 120
    line = _last_line(proc)
    assert line.startswith("error: model.name_or_path 'llava-hf/llava-1.5-7b-hf': cannot load")
