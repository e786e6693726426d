"""Step-checkpoint files: atomic, newest wins, pruned, refused across recipes, and a failed write (a full
disk) leaves the previous checkpoint and the ``latest`` pointer untouched."""
import errno

import pytest
import torch

from keeplora import checkpoint as ck


def _state(step, fp="abc"):
    return ck.StepState(task=1, task_name="shape", step=step, epoch=0, micro_in_epoch=step, micro_batch_size=4,
                        world=2, fingerprint=fp, schedule={"last_epoch": step, "_step_count": step + 1,
                                                           "_last_lr": [0.1]})


def _save(out, step, keep=2):
    tmp = ck.staging_dir(out, "task_02_shape", step)
    tmp.mkdir(parents=True)
    for rank in (0, 1):
        ck.write_rng(tmp, rank)
    return ck.save_step(out, "task_02_shape", _state(step), {"param/x": torch.full((2,), float(step))},
                        {"A/m": torch.ones(2, 3), "B/m": torch.zeros(3, 2)}, {"m": torch.eye(3)}, keep)


def test_latest_is_the_newest_complete_one_and_old_ones_are_pruned(tmp_path):
    for step in (2, 4, 6):
        _save(tmp_path, step)
    steps = sorted(p.name for p in (tmp_path / "checkpoints" / "task_02_shape").iterdir())
    assert steps == ["step_000004", "step_000006"]
    got = ck.load_latest(tmp_path, 1, "abc")
    assert got.state.step == 6 and got.training["param/x"][0] == 6 and torch.equal(got.method["m"], torch.eye(3))
    assert ck.load_latest(tmp_path, 1, "other-recipe") is None and ck.load_latest(tmp_path, 2, "abc") is None


def test_rng_round_trip(tmp_path):
    folder = _save(tmp_path, 2)
    torch.manual_seed(5)
    ck.write_rng(folder, 0)
    expected = torch.rand(3)
    torch.manual_seed(99)
    ck.restore_rng(folder, 0)
    assert torch.equal(torch.rand(3), expected)
    ck.restore_rng(folder, 7)                                  # more ranks than saved: rank 0's state


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    _save(tmp_path, 2)
    before = (tmp_path / "checkpoints" / "latest").read_text()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(ck, "save_file", disk_full)
    with pytest.raises(OSError):
        ck.save_step(tmp_path, "task_02_shape", _state(4), {}, {}, {}, 2)
    assert (tmp_path / "checkpoints" / "latest").read_text() == before
    assert ck.load_latest(tmp_path, 1, "abc").state.step == 2


def test_finished_task_drops_its_checkpoints(tmp_path):
    _save(tmp_path, 2)
    ck.drop_task(tmp_path, "task_02_shape")
    assert not (tmp_path / "checkpoints" / "task_02_shape").exists()
    assert not (tmp_path / "checkpoints" / "latest").exists()


def test_no_code_unpickles_anything():
    """Tensors are read with safetensors; a ``torch.load`` must say ``weights_only=True``; no plain pickle
    load. The one dataset that ships as pickles (CIFAR-100) is read by an Unpickler whose ``find_class``
    allows only numpy arrays and bytes (``test_mtil_prep.py`` checks that it refuses code)."""
    from .conftest import ROOT
    for folder in ("keeplora", "eval", "data_prep", "bench", "launch"):
        for f in (ROOT / folder).rglob("*.py"):
            text = f.read_text()
            for n, line in enumerate(text.splitlines(), 1):
                assert "pickle.load" not in line, f"{f}:{n}"
                assert "import pickle" not in line or "def find_class" in text, f"{f}:{n}: unrestricted pickle"
                assert "torch.load(" not in line or "weights_only=True" in line, f"{f}:{n}"


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_complete_one(tmp_path, capsys):
    for step in (2, 4):
        _save(tmp_path, step)
    newest = tmp_path / "checkpoints" / "task_02_shape" / "step_000004" / "training.safetensors"
    newest.write_bytes(newest.read_bytes()[:-8])                            # truncated by a crash or a full disk
    got = ck.load_latest(tmp_path, 1, "abc")
    assert got.state.step == 2 and got.training["param/x"][0] == 2
    assert "step_000004 is damaged; resuming from" in capsys.readouterr().out
    (tmp_path / "checkpoints" / "task_02_shape" / "step_000002" / "lora.safetensors").unlink()
    assert ck.load_latest(tmp_path, 1, "abc") is None                       # nothing complete: start the task over
