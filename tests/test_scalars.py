"""Scalars: TensorBoard always, Weights & Biases on request (offline here), one run per output directory."""
import sys

import pytest

from keeplora.errors import UserError
from keeplora.scalars import ScalarSink


def test_wandb_requested_without_the_extra_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(UserError, match=r"report_to: wandb needs the wandb extra: pip install 'keeplora\[wandb\]'"):
        ScalarSink(tmp_path, ["tensorboard", "wandb"], is_main=True)


def test_other_ranks_write_nothing(tmp_path):
    sink = ScalarSink(tmp_path / "run", ["tensorboard"], is_main=False)
    sink.log({"train/loss": 1.0}, 1)
    sink.close()
    assert not (tmp_path / "run").exists()


def test_wandb_logs_offline_into_one_run_per_output_directory(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    runs = []
    for step in (1, 2):                         # the second sink is a resumed run of the same directory
        sink = ScalarSink(tmp_path / "run", ["tensorboard", "wandb"], is_main=True, config={"lr": 1e-3})
        sink.log({"train/loss": 1.0 / step}, step)
        runs.append(sink._wandb.id)
        sink.close()
    assert runs[0] == runs[1]
    offline = list((tmp_path / "run" / "wandb").glob(f"offline-run-*-{runs[0]}"))
    assert offline and all(any(d.glob("*.wandb")) for d in offline)
    assert list((tmp_path / "run" / "tb").glob("events.*"))
