"""The bad-input matrix, before anything loads: each case is one line naming the file, key or sample and what
to do, and a dry run lists every problem at once."""
import json
import shutil

import pytest

from keeplora.checks import check_files
from keeplora.config import RecipeError, load_recipe
from keeplora.data import DataError, read_test_file, read_train_file

from .conftest import ROOT

QA = [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]


def _write(tmp_path, name, rows, jsonl=False):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) if jsonl else json.dumps(rows))
    return path


@pytest.mark.parametrize("rows, message", [
    ([{"id": "x", "conversations": [*QA, {"from": "human", "value": "and?"}]}], "ends on a human turn"),
    ([{"id": "x", "conversations": [QA[0], {"from": "gpt", "value": "  "}]}], r"conversations\[1\] is an empty answer"),
    ([{"id": "x", "conversations": [QA[0], {"from": "gpt", "value": ""}]}], "empty answer"),
    (["not an object"], "item 0 is not a JSON object"),
])
def test_training_samples_that_would_train_nothing_or_lose_turns(tmp_path, rows, message):
    with pytest.raises(DataError, match=message):
        read_train_file(_write(tmp_path, "train.json", rows))


@pytest.mark.parametrize("rows, message", [
    ([{"question_id": 1, "prompt": "q", "answer": "a"}, {"question_id": 1, "prompt": "q", "answer": "b"}],
     "sample '1': duplicate question_id"),
    ([{"question_id": 1, "prompt": "q", "answers": []}], "no reference answer"),
    ([{"question_id": 1, "prompt": "q", "answer": " "}], "no reference answer"),
    ([{"question_id": 1, "prompt": "<image>\nq", "image": "gone.png", "answer": "a"}],
     "media file .*gone.png not found"),
])
def test_test_files_checked_before_training(tmp_path, rows, message):
    with pytest.raises(DataError, match=message):
        read_test_file(_write(tmp_path, "test.jsonl", rows, jsonl=True))


def test_non_utf8_json_is_one_line(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes(json.dumps([{"id": "é", "conversations": QA}], ensure_ascii=False).encode("latin-1"))
    with pytest.raises(DataError, match=r"train.json: not UTF-8 text \(byte \d+\); save the file as UTF-8"):
        read_train_file(path)


def _recipe(tmp_path, tiny_data, *over):
    data = tmp_path / "data"
    shutil.copytree(tiny_data / "color", data / "color", dirs_exist_ok=True)
    return load_recipe(ROOT / "recipes/smoke_image_seq.yaml",
                       [f"output_dir={tmp_path / 'run'}", "tasks=[{name: color, train: data/color/train.json, "
                        "test: data/color/test.jsonl}]", f"deepspeed.config={ROOT / 'recipes/ds/zero2.json'}", *over])


def test_dry_run_lists_every_problem_and_a_run_stops_on_the_first(tmp_path, tiny_data):
    test = tmp_path / "data/color/test.jsonl"
    recipe = _recipe(tmp_path, tiny_data, "method.name=keeplora_plus", "tasks.0.scorer=exact_mach",
                     "model.name_or_path=data/colr_ckpt", "dry_run=true")
    rows = [json.loads(x) for x in test.read_text().splitlines()]
    rows[2]["scorer"] = "vqa_acuracy"
    test.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(RecipeError) as info:
        check_files(recipe, tmp_path)
    lines = str(info.value).splitlines()
    assert any("sample" in x and "unknown scorer 'vqa_acuracy'" in x for x in lines)
    assert any("tasks[0].scorer (color): unknown scorer 'exact_mach'" in x for x in lines)
    assert any("unknown method.name 'keeplora_plus'" in x for x in lines)
    assert any("model.name_or_path: local checkpoint" in x and "colr_ckpt not found" in x for x in lines)
    assert len(lines) == 4
    with pytest.raises(RecipeError, match=r"\(\+3 more problem\(s\): dry_run=true lists them all\)$"):
        check_files(recipe.model_copy(update={"dry_run": False}), tmp_path)


def test_missing_tiny_tokenizer_folder_is_named(tmp_path, tiny_data):
    recipe = _recipe(tmp_path, tiny_data, "model.tokenizer=data/bpe_tok")
    with pytest.raises(RecipeError, match=r"model.tokenizer: folder .*data/bpe_tok not found"):
        check_files(recipe, tmp_path)
