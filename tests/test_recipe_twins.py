"""Every published recipe runs on CPU as a tiny twin: its own settings (precision, gradient checkpointing,
accumulation, scorers, per-task overrides, DeepSpeed JSON) on the family's tiny random config, 2 tasks.

Only what cannot fit a CPU changes: the checkpoint (→ tiny config), the data (→ tiny procedural tasks), the
rank (→ 8, same α/r), and the step/sample counts.
"""
import json

import pytest
import yaml

from .conftest import ROOT, run_launcher
from .general_layouts import converted

# recipe -> (indices of the two recipe tasks whose settings the twin keeps, tiny tasks that stand in)
TWINS = {"ucit_seq": ((0, 5), ("color", "shape")),        # exact match; caption average with lr override
         "dcl_seq": ((3, 4), ("color", "shape")),         # Sci (epochs 2) and Fin rules
         "coin_seq": ((0, 5), ("color", "position")),     # ScienceQA letters; grounding parser
         "video_seq": ((0, 1), ("motion", "color")),      # Video-LLaVA, bf16, video + image
         "ucit_seq_qwen3vl": ((0, 5), ("color", "shape")),
         "video_seq_qwen3vl": ((0, 1), ("motion", "color")),
         # families without a published recipe of their own: UCIT's settings on their tiny twin, chat template
         "ucit_seq@internvl": ((0, 5), ("color", "shape")),
         "ucit_seq@gemma3": ((0, 5), ("color", "shape"))}


def _twin(name: str, tmp_path, data) -> tuple:
    picks, tiny = TWINS[name]
    source, _, family = name.partition("@")
    rec = yaml.safe_load((ROOT / "recipes" / f"{source}.yaml").read_text())
    if family:
        rec["model"].update(family=family, prompt_template=None, system_prompt=None)
    rec["tasks"] = [{**rec["tasks"][i], "name": t, "train": str(data / t / "train.json"),
                     "test": str(data / t / "test.jsonl")} for i, t in zip(picks, tiny)]
    # general sets whose scorer groups samples by id (MME, MMBench) get a tiny copy of their benchmark,
    # converted; the others a tiny task's test file
    rec["general"] = [{**g, "test": str(converted(g.get("scorer"), tmp_path / g["name"])
                                        or data / tiny[0] / "test.jsonl")} for g in rec.get("general", [])]
    scale = rec["lora"]["alpha"] / rec["lora"]["r"]
    rec["lora"].update(r=8, alpha=8 * scale)
    rec["model"]["name_or_path"] = None
    rec["optim"].update(max_steps=2, micro_batch_size=4)
    rec["eval"].update(max_samples=4, batch_size=4, max_new_tokens=4, zero_shot=False)
    rec["data"]["max_length"] = 1024
    rec["output_dir"] = str(tmp_path / name)
    rec["deepspeed"]["config"] = str(ROOT / rec["deepspeed"]["config"])
    if rec["subspace"].get("pass_memory_mb"):            # several exact-statistics passes, as a 7B run makes
        rec["subspace"]["pass_memory_mb"] = 0.05
    path = tmp_path / f"{name}_twin.yaml"
    path.write_text(yaml.safe_dump(rec))
    return path, rec


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TWINS))
def test_published_recipe_runs_as_a_tiny_twin(name, tmp_path, tiny_data):
    path, rec = _twin(name, tmp_path, tiny_data)
    proc = run_launcher(["bash", "launch/train.sh", str(path)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / name / "metrics.json").read_text())
    assert len(metrics["matrix"]) == 2 and all(len(row) == 2 for row in metrics["matrix"])
    if rec["general"]:                                   # the general suite (POPE / MVBench's scorer) at every stage
        assert {f"after {t['name']}" for t in rec["tasks"]} <= set(metrics["general"])
        assert all(set(s) == {g["name"] for g in rec["general"]} for s in metrics["general"].values())
    scorers = [t.get("scorer", "exact_match") for t in rec["tasks"]]
    for t, scorer in zip(rec["tasks"], scorers):
        preds = (tmp_path / name / "predictions").glob(f"*/{t['name']}.jsonl")
        assert any(preds), f"no predictions for {t['name']} ({scorer})"
    if "caption_coco" in scorers:
        detail = json.loads(next((tmp_path / name / "predictions").glob("*/shape.score.json")).read_text())
        assert detail["scorer"] == "caption_coco" and "CIDEr" in detail["parts"]
    if name == "ucit_seq":
        _answers_the_same_through_transformers(tmp_path / name, rec["tasks"][-1], rec["eval"]["max_new_tokens"])
    if rec["model"]["dtype"] != "float32":               # bf16 merges: the record stays exact, applied once-rounded
        diagnostics = json.loads((tmp_path / name / "diagnostics.json").read_text())
        assert set(diagnostics) == {t["name"] for t in rec["tasks"]}
        for task, modules in diagnostics.items():
            assert max(m["record_leak"] for m in modules.values()) <= 1e-5, task
            assert max(m["rounding"] for m in modules.values()) <= 1.001, task


def _answers_the_same_through_transformers(run, task, max_new_tokens):
    """The last merged checkpoint, loaded as any tool would (``AutoProcessor`` + ``AutoModelForImageTextToText``,
    prompts from its chat template), answers the test questions exactly as the run's evaluation did."""
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from keeplora.data import read_test_file
    from keeplora.data.chat import _user_content

    ckpt = sorted(run.glob("task_*"))[-1]
    preds = [json.loads(line) for line in next(run.glob(f"predictions/after_{task['name']}/{task['name']}.jsonl"))
             .read_text().splitlines()]
    samples = {s.id: s for s in read_test_file(task["test"])}
    assert preds and all(p["id"] in samples for p in preds)
    proc = AutoProcessor.from_pretrained(ckpt)
    proc.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(ckpt, dtype=torch.bfloat16).eval()
    # the tiny tokenizer adds no BOS by itself (a real Llama tokenizer does): given with the text
    texts = [proc.tokenizer.bos_token + proc.apply_chat_template(
        [{"role": "user", "content": _user_content(samples[p["id"]].turns[-1][0])}], add_generation_prompt=True)
        for p in preds]
    images = [Image.open(samples[p["id"]].media[0][1]) for p in preds]
    inputs = proc(text=texts, images=images, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=proc.tokenizer.pad_token_id, eos_token_id=proc.tokenizer.eos_token_id)
    answers = [t.strip() for t in proc.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)]
    assert answers == [p["prediction"] for p in preds]
