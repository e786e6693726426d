"""Shared fixtures: tiny procedural data (written once per session) and a recipe writer."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    from data_prep.tiny_synth import build
    return build(tmp_path_factory.mktemp("tiny"), n_train=64, n_test=8)


@pytest.fixture(scope="session")
def full_tiny_data(tmp_path_factory) -> Path:
    """The default sizes of ``python -m data_prep.tiny_synth`` (what the README's main command uses)."""
    from data_prep.tiny_synth import build
    return build(tmp_path_factory.mktemp("tiny_full"), tasks=("color", "shape", "position"))


def tiny_recipe(tmp: Path, data: Path, name: str, tasks=("color", "shape"), base="smoke_image_seq.yaml",
                **over) -> Path:
    """A copy of a shipped tiny recipe pointing at test data, with short settings and overrides."""
    rec = yaml.safe_load((ROOT / "recipes" / base).read_text())
    rec["tasks"] = [{"name": t, "train": str(data / t / "train.json"), "test": str(data / t / "test.jsonl")}
                    for t in tasks]
    rec["output_dir"] = str(tmp / name)
    rec["deepspeed"]["config"] = str(ROOT / "recipes" / "ds" / "zero2.json")
    rec["optim"].update(max_steps=6, epochs=1)
    rec["eval"].update(zero_shot=False)
    set_keys(rec, over)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(rec))
    return path


def set_keys(rec: dict, over: dict) -> None:
    """``section__key=value`` keyword overrides into a recipe dict."""
    for dotted, value in over.items():
        node = rec
        *path, last = dotted.split("__")
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value


def run_launcher(args: list[str], timeout: int = 600, env_extra: dict | None = None,
                 new_session: bool = False) -> subprocess.CompletedProcess:
    """``new_session``: the launcher and its ranks get their own process group (what a fault kills)."""
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          start_new_session=new_session)


def beside(tmp_path: Path) -> str:
    """An --out next to a test's --src (a converter refuses one inside it)."""
    return str(tmp_path.with_name(tmp_path.name + "o"))


def tinycl_recipe(tmp: Path, shipped: str, data: Path, base: Path, n_tasks: int | None = None, **over) -> Path:
    """A shipped TinyCL-VL recipe (its first ``n_tasks`` tasks) with every ``data/tinycl`` path (tasks,
    general sets, reference set) moved into a test's ``data`` folder, the model set to ``base`` and
    ``section__key=value`` overrides applied."""
    rec = yaml.safe_load((ROOT / "recipes" / shipped).read_text())
    rec["tasks"] = rec["tasks"][:n_tasks]

    def moved(path: str) -> str:
        return str(data / Path(path).relative_to("data/tinycl"))
    for entry in rec["tasks"] + rec.get("general", []):
        for key in ("train", "test"):
            if key in entry:
                entry[key] = moved(entry[key])
    reference = (rec.get("subspace") or {}).get("reference")
    if reference:
        reference["train"] = [moved(f) for f in reference["train"]]
    rec["model"]["name_or_path"] = str(base)
    rec["deepspeed"]["config"] = str(ROOT / rec["deepspeed"]["config"])
    set_keys(rec, over)
    path = tmp / f"short_{shipped}"
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    return path
