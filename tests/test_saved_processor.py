"""A saved model folder is complete for other tools: processor settings, and the training prompt as its chat template.

Every family's tiny twin is saved as the trainer saves a task checkpoint and reloaded: the image-processor
settings equal the source's (Qwen2-VL's pixel bounds, OneVision's SigLIP normalisation), also where the
source keeps them in transformers 5's ``processor_config.json``; image-only families reload with
``AutoProcessor`` and give the same inputs as the encoder.
"""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from keeplora.config import load_recipe
from keeplora.data import Sample
from keeplora.models import MODELS, Companions, Encoder, get_adapter

from .conftest import ROOT

FAMILIES = [f for f in MODELS if MODELS.get(f).output == "generate"]


def _recipe(family, *overrides):
    return load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"model.family={family}", *overrides]).model


def _save(adapter, loaded, cfg, folder):
    loaded.model.save_pretrained(folder)
    Companions(adapter, loaded, cfg).save_pretrained(folder)
    return cfg.model_copy(update={"name_or_path": str(folder)})


def _settings(loaded) -> dict:
    proc = loaded.image_processor
    out = {"mean": list(loaded.media.mean), "std": list(loaded.media.std)}
    if proc is not None:
        out.update(size=dict(proc.size), mean=list(proc.image_mean), std=list(proc.image_std))
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_a_saved_checkpoint_reloads_with_the_settings_it_was_trained_with(family, tmp_path):
    adapter, cfg = get_adapter(family), _recipe(family)
    loaded = adapter.load(cfg)
    again = adapter.load(_save(adapter, loaded, cfg, tmp_path / "ckpt"))
    assert _settings(again) == _settings(loaded)
    assert again.media_tokens == loaded.media_tokens
    assert any((tmp_path / "ckpt" / f).is_file() for f in ("preprocessor_config.json", "processor_config.json")) \
        or loaded.image_processor is None and adapter.tiny_processor(loaded) is None


def _as_transformers5_source(folder, image_processor: dict) -> None:
    """A checkpoint as transformers 5 writes it: image-processor settings only inside processor_config.json."""
    (folder / "preprocessor_config.json").unlink(missing_ok=True)
    (folder / "processor_config.json").write_text(json.dumps({"image_processor": image_processor}))


@pytest.mark.parametrize("family, changed, check", [
    ("qwen2_vl", {"size": {"shortest_edge": 3136, "longest_edge": 12845056}},
     lambda loaded: loaded.image_processor.size["longest_edge"] == 12845056),
    ("llava_onevision", {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
     lambda loaded: list(loaded.image_processor.image_mean) == [0.5] * 3 and loaded.media.mean == [0.5] * 3)])
def test_processor_config_json_is_read_and_survives_every_save(family, changed, check, tmp_path):
    adapter, cfg = get_adapter(family), _recipe(family)
    loaded = adapter.load(cfg)
    source = _save(adapter, loaded, cfg, tmp_path / "source")
    settings = {**json.loads(loaded.image_processor.to_json_string()), **changed}
    _as_transformers5_source(tmp_path / "source", settings)
    first = adapter.load(source)
    assert check(first)                               # read from processor_config.json, not the tiny defaults
    second = adapter.load(_save(adapter, first, source, tmp_path / "task_01"))
    assert check(second) and _settings(second) == _settings(first)


def test_max_pixels_of_the_run_is_what_the_checkpoint_says(tmp_path):
    adapter, cfg = get_adapter("qwen3_vl"), _recipe("qwen3_vl", "model.max_pixels=9216")
    again = adapter.load(_save(adapter, adapter.load(cfg), cfg, tmp_path / "ckpt").model_copy(
        update={"max_pixels": None}))
    assert again.image_processor.size["longest_edge"] == 9216


@pytest.mark.parametrize("family", ["llava", "llava_next"])
def test_image_only_families_reload_with_auto_processor_and_give_the_encoders_inputs(family, tmp_path):
    from transformers import AutoProcessor
    adapter, cfg = get_adapter(family), _recipe(family)
    loaded = adapter.load(cfg)
    _save(adapter, loaded, cfg, tmp_path / "ckpt")
    proc = AutoProcessor.from_pretrained(tmp_path / "ckpt")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)).save(tmp_path / "i.png")
    ours = Encoder(adapter, loaded, cfg, 1024).encode(Sample("s", [("<image>\nWhat colour?", "")],
                                                             [("image", tmp_path / "i.png")]), with_answers=False)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour?"}]}]
    text = loaded.tokenizer.bos_token + proc.apply_chat_template(messages, add_generation_prompt=True)
    ref = proc(text=[text], images=[Image.open(tmp_path / "i.png")], return_tensors="pt")
    assert ours["input_ids"] == ref["input_ids"][0].tolist()
    pixels = ours["media"][0].tensors["pixel_values"]
    assert pixels.shape == ref["pixel_values"].shape and torch.allclose(pixels, ref["pixel_values"], atol=1e-6)


def test_the_training_prompt_is_the_saved_chat_template(tmp_path):
    """A vicuna_v1 recipe: ``apply_chat_template`` on the checkpoint renders the format-string prompt."""
    system = "A chat between a curious user and an artificial intelligence assistant."
    adapter = get_adapter("llava")
    cfg = _recipe("llava", 'model.prompt_template="USER: {question} ASSISTANT:"', f'model.system_prompt="{system}"')
    loaded = adapter.load(cfg)
    _save(adapter, loaded, cfg, tmp_path / "ckpt")
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tmp_path / "ckpt")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What?"}]}]
    assert tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == \
        f"{system} USER: <image>\nWhat? ASSISTANT:"
