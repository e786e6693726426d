"""``keeplora`` without a clone: shipped recipes (list, cp), the installed launcher, and a wheel that carries them."""
import subprocess
import sys
import zipfile

import pytest

from keeplora.commands import main, shipped_recipes
from keeplora.config import load_recipe

from .conftest import ROOT


def test_every_recipe_of_the_clone_is_shipped_and_listed(capsys):
    assert set(shipped_recipes()) == {p.stem for p in (ROOT / "recipes").glob("*.yaml")}
    assert main(["recipes", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(shipped_recipes())
    assert any(line.startswith("ucit_seq ") and "UCIT with LLaVA-1.5-7B" in line for line in listed)


def test_cp_writes_an_editable_recipe_with_its_deepspeed_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["recipes", "cp", "ucit_seq"]) == 0
    assert (tmp_path / "recipes/ucit_seq.yaml").read_text() == (ROOT / "recipes/ucit_seq.yaml").read_text()
    assert (tmp_path / "recipes/ds/zero2.json").read_bytes() == (ROOT / "recipes/ds/zero2.json").read_bytes()
    load_recipe(tmp_path / "recipes/ucit_seq.yaml")                 # valid as copied
    assert main(["recipes", "cp", "ucit_seq"]) == 2                  # never overwrites
    assert main(["recipes", "cp", "no_such"]) == 2
    assert "keeplora recipes list" in capsys.readouterr().err


def test_launcher_and_train_entry_points(tmp_path, capsys, tiny_data):
    assert main(["launcher"]) == 0
    launcher = capsys.readouterr().out.strip()
    assert launcher.endswith("train.sh") and open(launcher).read().startswith("#!/usr/bin/env bash")
    recipe = ROOT / "recipes/smoke_image_seq.yaml"
    overrides = [f"tasks.{i}.{k}={tiny_data / t / f}" for i, t in enumerate(("color", "shape", "position"))
                 for k, f in (("train", "train.json"), ("test", "test.jsonl"))]
    assert main(["train", str(recipe), "dry_run=true", *overrides]) == 0
    assert "task files OK (dry run)" in capsys.readouterr().out
    assert main(["prep", "no_such"]) == 2


@pytest.mark.slow
def test_the_wheel_carries_recipes_launchers_and_console_scripts(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                   check=True, capture_output=True, timeout=600)
    wheel = zipfile.ZipFile(next(tmp_path.glob("keeplora-*.whl")))
    names = set(wheel.namelist())
    assert {f"keeplora/recipes/{p.name}" for p in (ROOT / "recipes").glob("*.yaml")} <= names
    assert {"keeplora/recipes/ds/zero2.json", "keeplora/launch/train.sh", "data_prep/install_sources.sh"} <= names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "keeplora = keeplora.commands:main" in wheel.read(entry).decode()
