"""vLLM requests carry the prompt the HF path generates from: expanded as the checkpoint's processor
expands it, they are the encoder's token ids; media go as PIL images and frame arrays."""
import numpy as np
import pytest
from PIL import Image

from data_prep.tiny_synth import write_clip
from eval.vllm_backend import VllmPredictor, vllm_request
from keeplora.config import load_recipe
from keeplora.data import Sample
from keeplora.errors import UserError
from keeplora.models import Encoder, get_adapter

from .conftest import ROOT


def _expanded_ids(encoder, request, sample) -> list[int]:
    """What a processor makes of the request: each placeholder becomes the item's tokens (the encoder's own
    expansion, ``_text_ids``); BOS as the encoder adds it."""
    tok, text = encoder.loaded.tokenizer, request["prompt"]
    pending = {k: [encoder.adapter.encode_media(encoder.loaded, k, p) for kk, p in sample.media if kk == k]
               for k in ("image", "video")}
    ids = encoder._text_ids(text, pending, sample)
    return ([tok.bos_token_id] if tok.bos_token_id is not None and not text.startswith(tok.bos_token) else []) + ids


@pytest.mark.parametrize("family, prompt", [
    ("llava", None), ("llava", "USER: {question} ASSISTANT:"), ("qwen2_vl", None), ("qwen3_vl", None),
    ("internvl", None), ("gemma3", None), ("llava_onevision", None)])
def test_a_request_is_the_hf_prompt_before_expansion(family, prompt, tmp_path):
    over = [f"model.family={family}", "model.num_frames=4"] + ([f'model.prompt_template="{prompt}"'] if prompt else [])
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", over)
    adapter = get_adapter(family)
    encoder = Encoder(adapter, adapter.load(recipe.model), recipe.model, 4096)
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "i.png")
    media, question = [("image", tmp_path / "i.png")], "<image>\nWhat colour?"
    if "video" in adapter.modalities:
        write_clip(tmp_path / "c.mp4", [np.full((32, 32, 3), 30 * i, np.uint8) for i in range(5)])
        media, question = media + [("video", tmp_path / "c.mp4")], "<image>\n<video>\nWhat colour, which way?"
    sample = Sample("s", [(question, "red")], media, ["red"])
    request = vllm_request(encoder, sample)
    assert _expanded_ids(encoder, request, sample) == encoder.encode(sample, with_answers=False)["input_ids"]
    data = request["multi_modal_data"]
    assert isinstance(data["image"], Image.Image) and data["image"].size == (40, 30)
    if "video" in adapter.modalities:
        assert data["video"].shape == (4, 32, 32, 3) and data["video"].dtype == np.uint8


def test_vllm_backend_refuses_with_one_line(monkeypatch):
    import sys
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", ["eval.backend=vllm"])
    with pytest.raises(UserError, match="runs as one process"):
        VllmPredictor("ckpt", recipe, world=2)
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(UserError, match=r"needs vLLM: pip install 'keeplora\[vllm\]'"):
        VllmPredictor("ckpt", recipe, world=1)
