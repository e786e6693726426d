"""Basis files record their model and layers, and refuse to load elsewhere."""
import pytest
import torch

from keeplora.bases import load_bases, save_bases
from keeplora.errors import UserError


def test_round_trip_and_refusals(tmp_path):
    path = tmp_path / "b.safetensors"
    bases = {"layers.0.q_proj": torch.eye(4)[:, :2], "layers.1.q_proj": torch.eye(4)[:, :1]}
    save_bases(path, bases, "org/model", "llava", "task1")
    back = load_bases(path, "org/model", "llava", list(bases))
    assert all(torch.equal(back[k], v) for k, v in bases.items())
    with pytest.raises(UserError, match="belongs to llava:org/model, not video_llava:org/model"):
        load_bases(path, "org/model", "video_llava", list(bases))
    with pytest.raises(UserError, match="covers other layers"):
        load_bases(path, "org/model", "llava", ["layers.0.q_proj"])
    with pytest.raises(UserError, match="not found"):
        load_bases(tmp_path / "none.safetensors", "org/model", "llava", [])
