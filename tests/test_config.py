"""Recipe schema: every shipped recipe validates; bad input is one line naming the key or file."""
import json
from pathlib import Path

import pytest

from keeplora.checks import check_files
from keeplora.config import RecipeError, load_recipe

from .conftest import ROOT, run_launcher


@pytest.mark.parametrize("recipe", sorted((ROOT / "recipes").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_validates(recipe: Path):
    r = load_recipe(recipe)
    assert r.tasks and r.model.family


def test_overrides_reach_nested_keys_and_list_items():
    r = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", ["lora.r=2", "tasks.1.epochs=3", "save_merged=false"])
    assert r.lora.r == 2 and r.tasks[1].epochs == 3 and r.save_merged is False


@pytest.mark.parametrize("override, message", [
    ("lora.rank=4", "lora.rank: unknown key"),
    ("lora.r=abc", "lora.r: Input should be a valid integer"),
    ("subspace.growth=magic", "subspace.growth"),
    ("layer_scale.schedule=cosine", "layer_scale.schedule 'cosine' unknown"),
    ("tasks.9.epochs=1", "index 9 out of range"),
    ("lora", "must look like key.sub=value"),
])
def test_bad_overrides_are_one_line_errors(override, message):
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [override])
    assert "\n" not in str(info.value)


def test_malformed_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  family: llava\n tasks: [\n")
    with pytest.raises(RecipeError, match=r"bad.yaml: line \d+ is not valid YAML"):
        load_recipe(bad)


def test_missing_task_file_names_the_prepare_command():
    r = load_recipe(ROOT / "recipes/video_seq.yaml")
    expected = r"tasks\[0\].train \(Counting\).*not found — create it with: python -m data_prep"
    with pytest.raises(RecipeError, match=expected):
        check_files(r, ROOT / "nonexistent")


def test_cli_fails_fast_with_one_line_and_exit_code_2():
    proc = run_launcher(["bash", "launch/train.sh", "recipes/video_seq.yaml"], timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: tasks[0].train (Counting)")


def test_missing_general_suite_or_local_base_names_the_file_and_the_prepare_command(tmp_path):
    r = load_recipe(ROOT / "recipes/tiny_image_seq.yaml")
    train = json.dumps([{"id": "a", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}])
    test = json.dumps({"question_id": "a", "prompt": "q", "answer": "a"})
    for task in r.tasks:
        for key in ("train", "test"):
            (tmp_path / getattr(task, key)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / getattr(task, key)).write_text(train if key == "train" else test)
    (tmp_path / "recipes/ds").mkdir(parents=True)
    (tmp_path / "recipes/ds/zero2.json").write_text("{}")
    with pytest.raises(RecipeError, match=r"general\[0\]\.test \(shapes\).*python -m data_prep.tinycl"):
        check_files(r, tmp_path)
    for g in r.general:
        (tmp_path / g.test).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / g.test).write_text(test)
    with pytest.raises(RecipeError, match=r"model.name_or_path: local checkpoint .*data/tinycl/base not found"):
        check_files(r, tmp_path)
    (tmp_path / "data/tinycl/base").mkdir()
    check_files(r, tmp_path)


def test_general_suite_names_must_be_unique():
    with pytest.raises(RecipeError, match="general-suite names must be unique"):
        load_recipe(ROOT / "recipes/tiny_image_seq.yaml", ["general.1.name=shapes"])
