"""``eval.score_cache``: a zero-shot score is reused only where the model's tensors, the test samples and
every setting that reaches a prediction are the same — across methods, seeds and task orders of a grid."""
import json
from pathlib import Path

import pytest
import torch

from eval.score_cache import entry_key, load_entry, model_digest, save_entry
from eval.scorers import TaskScore
from keeplora.config import load_recipe
from keeplora.data.records import Sample

from .conftest import ROOT, run_launcher, tiny_recipe

SMOKE = ROOT / "recipes/smoke_image_seq.yaml"


def _recipe(*over: str):
    return load_recipe(SMOKE, ["output_dir=/tmp/x", *over])


def _samples(answer: str = "red") -> list[Sample]:
    return [Sample("q0", [("What colour?", "")], answers=[answer]), Sample("q1", [("And now?", "")], answers=["b"])]


def test_the_key_follows_what_decides_a_score_and_nothing_else(tmp_path):
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 3)
    model_id = model_digest(layer, None)
    base = _recipe()

    def key(recipe=base, samples=None, world=1, model=model_id):
        return entry_key(model, recipe, recipe.tasks[0], "", samples or _samples(), world)

    same = [_recipe("method.name=seq_lora", "lora.r=4", "seed=3", "optim.lr=1e-2", "output_dir=/tmp/y",
                    f"eval.score_cache={tmp_path}"), _recipe("tasks.0.epochs=2", "tasks.0.train=other.json")]
    assert all(key(r) == key() for r in same)
    with torch.no_grad():
        layer.weight[0, 0] += 1e-6
    changed = [key(model=model_digest(layer, None)), key(samples=_samples("blue")), key(world=2),
               key(_recipe("eval.max_new_tokens=3")), key(_recipe("data.max_length=64")),
               key(_recipe("model.system_prompt=Be brief.")), key(_recipe("tasks.0.scorer=anls"))]
    assert len({key(), *changed}) == 1 + len(changed)


def test_entries_round_trip(tmp_path):
    score = TaskScore(41.5, "exact_match", {"n": 2.0}, "a note")
    preds = [{"id": "q0", "question": "What colour?", "prediction": "red", "answers": ["red"]}]
    save_entry(tmp_path, "k", score, preds)
    assert load_entry(tmp_path, "k") == (score, preds) and load_entry(tmp_path, "other") is None


@pytest.mark.slow
def test_a_second_cell_reuses_the_zero_shot_row_and_another_seed_does_not(tmp_path, tiny_data):
    (tmp_path / "english.txt").write_text("The cat sat on the mat. " * 40)
    cache = tmp_path / "cache"
    common = dict(eval__zero_shot=True, eval__score_cache=str(cache), optim__max_steps=1,
                  general=[{"name": "english", "test": str(tmp_path / "english.txt"), "scorer": "text_likelihood"}])
    runs = {"first": (("color", "shape"), "keeplora_pp", 0), "reordered": (("shape", "color"), "seq_lora", 0),
            "reseeded": (("color", "shape"), "keeplora_pp", 1)}
    out = {}
    for name, (tasks, method, seed) in runs.items():
        recipe = tiny_recipe(tmp_path, tiny_data, name, tasks=tasks, method__name=method, seed=seed, **common)
        proc = run_launcher(["bash", "launch/train.sh", str(recipe)])
        assert proc.returncode == 0, proc.stderr[-2000:]
        out[name] = (proc.stdout, json.loads((tmp_path / name / "metrics.json").read_text()))
    assert "sets reused" not in out["first"][0]
    assert "zero-shot: 2 of 2 task sets reused" in out["reordered"][0]
    assert "zero-shot: 1 of 1 general sets reused" in out["reordered"][0]
    first, again = out["first"][1], out["reordered"][1]
    assert again["zero_shot"] == first["zero_shot"][::-1]
    assert again["general"]["zero-shot"] == first["general"]["zero-shot"]
    pred = Path("predictions/zero-shot/color.jsonl")
    assert (tmp_path / "reordered" / pred).read_text() == (tmp_path / "first" / pred).read_text()
    assert "sets reused" not in out["reseeded"][0]          # seed 1 builds another tiny model: scored anew
    assert len(list(cache.glob("*.json"))) == 6
