"""The CLIP (MTIL) track on its tiny twin: real package images, a tiny random CLIP, the real launcher.

(1) The class-prompt data path: labels, mixed-task batches, the merged label set, one-line errors.
(2) The method's promises on saved checkpoints, as for the LLaVA path (``test_mechanism.py``):
    (a) every merged update of task 2 leaves the basis saved after task 1 untouched (≤ 1e-4),
    (b) γ = 0.2 vs γ = 1: the vision encoder's per-layer ‖ΔW_l‖ ratio rises with depth close to s_l,
        the text encoder (not ramped by default) stays at 1,
    (c) SeqLoRA shows neither; and the saved principal part is the official output-side basis at the
        per-tower ε_w (0.85 vision, 0.2 text).
"""
import json
import re

import pytest
import torch
import yaml
from safetensors.torch import load_file

from eval.harness import predict
from keeplora.checks import check_files
from keeplora.config import RecipeError, load_recipe
from keeplora.core import layer_scales, principal_basis
from keeplora.data import DataError, read_test_file, read_train_file
from keeplora.models import get_adapter

from .conftest import ROOT, run_launcher, set_keys

KEY = re.compile(r"(text|vision)_model\.encoder\.layers\.(\d+)\.self_attn\.(\w+_proj)\.weight$")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from data_prep.tiny_mtil import build
    return build(tmp_path_factory.mktemp("tiny_mtil"), n_train=48, n_test=24)


def _recipe(tmp, data, name, **over):
    rec = yaml.safe_load((ROOT / "recipes/tiny_mtil.yaml").read_text())
    for task in rec["tasks"]:
        for key in ("train", "test", "classes"):
            task[key] = str(data / task["name"] / task[key].rsplit("/", 1)[1])
    rec.update(output_dir=str(tmp / name))
    rec["deepspeed"]["config"] = str(ROOT / "recipes/ds/zero2.json")
    rec["optim"].update(epochs=1, max_steps=6)
    set_keys(rec, over)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(rec))
    return path


def _encoder(recipe_path, *overrides):
    recipe = load_recipe(recipe_path, list(overrides))
    adapter = get_adapter("clip")
    loaded = adapter.load(recipe.model)
    sets = [(t.name, read_train_file(t.train, None, t.name), read_test_file(t.test, None, t.name))
            for t in recipe.tasks]
    return recipe, loaded, adapter.make_encoder(loaded, recipe), sets


def test_class_prompts_labels_and_mixed_task_batches(tmp_path, data):
    recipe, loaded, enc, sets = _encoder(_recipe(tmp_path, data, "enc"))
    classes = {t.name: json.loads((data / t.name / "classes.json").read_text())["classnames"] for t in recipe.tasks}
    fashion, digits = sets[0][1][:3], sets[1][1][:2]
    batch = enc.collate_train([enc.encode(s) for s in fashion + digits])
    assert batch["pixel_values"].shape == (5, 3, 32, 32)
    assert batch["class_input_ids"].shape[0] == len(classes["fashion"]) + len(classes["digits"])
    expected = [classes["fashion"].index(s.turns[-1][1]) for s in fashion]
    expected += [len(classes["fashion"]) + classes["digits"].index(s.turns[-1][1]) for s in digits]
    assert batch["labels"].tolist() == expected
    assert batch["class_mask"][:3, :10].all() and not batch["class_mask"][:3, 10:].any()      # own task only
    assert batch["class_mask"][3:, 10:].all() and not batch["class_mask"][3:, :10].any()
    ids = batch["class_input_ids"]
    eos = loaded.tokenizer.eos_token_id
    assert all(eos in row.tolist() for row in ids)                    # CLIP pools at each prompt's EOS
    out = loaded.model(**batch)
    assert out.logits.shape == (5, 20) and torch.isfinite(out.loss)
    assert (out.logits[:3, 10:] < -1e30).all()                        # masked: another task's classes

    single = enc.collate_train([enc.encode(s) for s in fashion])      # one task: no mask needed
    assert "class_mask" not in single and single["class_input_ids"].shape[0] == 10
    preds = predict(loaded.model, enc, sets[2][2][:7], 4, 0, torch.device("cpu"))
    assert len(preds) == 7 and all(p["prediction"] in classes["clipart"] for p in preds)


def test_merged_label_set_scores_every_task_class(tmp_path, data):
    _, loaded, enc, sets = _encoder(_recipe(tmp_path, data, "all"), "eval.label_set=all")
    item = enc.encode(sets[1][2][0], with_answers=False)
    batch = enc.collate_predict([item])
    assert batch["inputs"]["class_input_ids"].shape[0] == 10 + 10 + 8 and len(batch["columns"]) == 28
    assert batch["columns"][10 + enc.sets["digits"].classnames.index(sets[1][2][0].answers[0])] \
        == sets[1][2][0].answers[0]
    train = enc.collate_train([enc.encode(sets[2][1][0])])              # a clipart sample: after 10 + 10 columns
    assert train["labels"].tolist() == [20 + enc.sets["clipart"].classnames.index(sets[2][1][0].turns[-1][1])]


def test_bad_classification_input_is_one_line(tmp_path, data):
    recipe_path = _recipe(tmp_path, data, "bad")
    _, _, enc, sets = _encoder(recipe_path)
    sample = sets[0][1][0]
    sample.turns = [(sample.turns[0][0], "spaceship")]
    with pytest.raises(DataError, match=r"answer 'spaceship' is not a class of task 'fashion'"):
        enc.encode(sample)
    with pytest.raises(RecipeError, match=r"tasks\[1\]\.classes \(digits\): model family clip classifies"):
        check_files(load_recipe(recipe_path, ["tasks.1.classes=null"]))
    broken = tmp_path / "classes.json"
    broken.write_text(json.dumps({"classnames": ["a", "a"]}))
    with pytest.raises(RecipeError, match="class names must be unique"):          # collected by the dry-run checks
        check_files(load_recipe(recipe_path, [f"tasks.0.classes={broken}"]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("clip_runs")
    variants = {"pp": ("keeplora_pp", 0.2), "pp_flat": ("keeplora_pp", 1.0), "seq": ("seq_lora", 0.2)}
    out = {}
    for name, (method, gamma) in variants.items():
        recipe = _recipe(tmp, data, name, method__name=method, layer_scale__gamma=gamma)
        proc = run_launcher(["bash", "launch/train.sh", str(recipe)])
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[name] = tmp / name
    return out


def _weights(run, label):
    return {m.groups(): t.float() for k, t in load_file(str(run / label / "model.safetensors")).items()
            if (m := KEY.search(k))}


def _deltas(run, before, after):
    w0, w1 = _weights(run, before), _weights(run, after)
    return {k: w1[k] - w0[k] for k in w1}


def test_metrics_hold_the_full_matrix_and_the_zero_shot_row(runs):
    data = json.loads((runs["pp"] / "metrics.json").read_text())
    assert data["tasks"] == ["fashion", "digits", "clipart"] and len(data["matrix"]) == 3
    assert len(data["zero_shot"]) == 3 and {"transfer", "average", "last"} <= set(data["metrics"])


def test_a_merged_updates_leave_the_protected_basis_of_both_towers_untouched(runs):
    basis = {m.groups(): t for k, t in load_file(str(runs["pp"] / "bases/task_01_fashion.safetensors")).items()
             if (m := KEY.search(k + ".weight"))}
    deltas = _deltas(runs["pp"], "task_01_fashion", "task_02_digits")
    assert len(deltas) == 32 and {k[0] for k in deltas} == {"text", "vision"}
    for key, dw in deltas.items():
        assert dw.norm() > 0, key
        assert float((dw @ basis[key]).norm() / dw.norm()) <= 1e-4, key
    seq = _deltas(runs["seq"], "task_01_fashion", "task_02_digits")
    leaks = [float((seq[k] @ basis[k]).norm() / seq[k].norm()) for k in seq]
    assert sum(leaks) / len(leaks) > 0.1                                # plain LoRA writes into that subspace


def _layer_norms(run, tower) -> dict[int, float]:
    norms: dict[int, list] = {}
    for (t, layer, _), dw in _deltas(run, "task_00_base", "task_01_fashion").items():
        if t == tower:
            norms.setdefault(int(layer), []).append(float(dw.norm()))
    return {l: sum(v) / len(v) for l, v in sorted(norms.items())}


def test_b_vision_ramp_follows_s_l_and_the_text_encoder_is_not_scaled(runs):
    scaled, flat = _layer_norms(runs["pp"], "vision"), _layer_norms(runs["pp_flat"], "vision")
    ratio = [scaled[l] / flat[l] for l in sorted(scaled)]
    assert all(a < b for a, b in zip(ratio, ratio[1:])), ratio
    for r, s in zip(ratio, layer_scales(len(ratio), 0.2)):
        assert abs(r / s - 1) < 0.35, ratio
    text_pp, text_flat = _layer_norms(runs["pp"], "text"), _layer_norms(runs["pp_flat"], "text")
    text = [text_pp[l] / text_flat[l] for l in text_pp]
    assert all(abs(r - 1) < 0.05 for r in text), text


def test_c_principal_part_is_the_official_output_side_basis_per_tower(runs):
    base = _weights(runs["pp"], "task_00_base")
    bases = {m.groups(): t for k, t in load_file(str(runs["pp"] / "bases/task_01_fashion.safetensors")).items()
             if (m := KEY.search(k + ".weight"))}
    sizes = {}
    for key in [("vision", "0", "q_proj"), ("vision", "3", "out_proj"), ("text", "1", "v_proj")]:
        expected = principal_basis(base[key], 0.85 if key[0] == "vision" else 0.2, side="output")
        sizes[key[0]] = expected.shape[1]
        assert torch.allclose(bases[key][:, : expected.shape[1]], expected, atol=1e-5), key
    assert sizes["vision"] > sizes["text"]                              # ε_w 0.85 keeps more than 0.2
    resolved = yaml.safe_load((runs["pp"] / "recipe.resolved.yaml").read_text())
    assert resolved["subspace"]["growth"] == "features_summed"          # which feature rule the run used


def test_merged_checkpoint_is_a_plain_clip_checkpoint(runs):
    from transformers import CLIPModel
    plain = CLIPModel.from_pretrained(runs["pp"] / "task_03_clipart")
    ours = get_adapter("clip").model_cls.from_pretrained(runs["pp"] / "task_03_clipart")
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a = plain.get_image_features(pixel_values=pixels)
        b = ours.visual_projection(ours.vision_model(pixel_values=pixels).pooler_output)
    a = getattr(a, "pooler_output", a)
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(plain.logit_scale, ours.logit_scale)


def test_eval_run_rescores_a_clip_checkpoint_like_the_trainer(runs):
    from eval.run import evaluate_checkpoint
    from keeplora.dist import DistInfo
    recipe = load_recipe(runs["pp"].parent / "pp.yaml")
    scores = evaluate_checkpoint(recipe, str(runs["pp"] / "task_03_clipart"), None, runs["pp"] / "rescored",
                                 DistInfo(0, 1, 0, torch.device("cpu")))
    last_row = json.loads((runs["pp"] / "metrics.json").read_text())["matrix"][-1]
    assert [scores[t]["score"] for t in ("fashion", "digits", "clipart")] == pytest.approx(last_row)
