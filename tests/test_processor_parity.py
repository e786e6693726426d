"""Qwen3-VL, InternVL3 and Gemma 3: the adapter's inputs are the ones the checkpoint's own processor builds.

Each family's transformers processor is assembled on the tiny twin (its PIL image processor, the tiny
tokenizer with the family's named tokens) and run on the same prompt and image; token ids, pixels and
token types must be equal. Video processors need torchvision, so videos are checked on what their
processor computes without it: Qwen3-VL's per-pair timestamp text and InternVL's frame lines.
"""
import numpy as np
import pytest
import torch
from PIL import Image

from data_prep.tiny_synth import write_clip
from keeplora.config import load_recipe
from keeplora.data import Sample
from keeplora.models import Encoder, get_adapter

from .conftest import ROOT

SIZES = [(30, 40), (40, 30), (32, 32), (17, 64), (100, 37), (336, 672)]


def _load(family, *overrides):
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"model.family={family}", *overrides])
    adapter = get_adapter(family)
    loaded = adapter.load(recipe.model)
    return adapter, loaded, Encoder(adapter, loaded, recipe.model, 4096)


def _name_tokens(tok, **named):
    """Give the tiny tokenizer the named tokens (``boi_token`` …) a real checkpoint's tokenizer has."""
    for attr, text in named.items():
        setattr(tok, attr, text)
        setattr(tok, f"{attr}_id", tok.convert_tokens_to_ids(text))
    return tok


def _ours(encoder, tmp_path, hw, kind="image"):
    rng = np.random.default_rng(hw[0] * 1000 + hw[1])
    path = tmp_path / f"{hw[0]}x{hw[1]}.png"
    img = Image.fromarray(rng.integers(0, 255, (*hw, 3), dtype=np.uint8))
    img.save(path)
    item = encoder.encode(Sample("s", [(f"<{kind}>\nWhat color?", "")], [(kind, path)]), with_answers=False)
    tok = encoder.loaded.tokenizer
    ids = item["input_ids"][1:] if item["input_ids"][0] == tok.bos_token_id else item["input_ids"]
    return item, ids, img


def _prompt(loaded, kind="image"):
    messages = [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": "What color?"}]}]
    return loaded.tokenizer.apply_chat_template(messages, chat_template=loaded.chat_template, tokenize=False,
                                                add_generation_prompt=True)


def _same_image_inputs(encoder, processor, tmp_path, hw, types_key=None):
    item, ids, img = _ours(encoder, tmp_path, hw)
    ref = processor(text=[_prompt(encoder.loaded)], images=[img], return_tensors="pt")
    assert ids == ref["input_ids"][0].tolist()
    ours = torch.cat([m.tensors["pixel_values"] for m in item["media"]])
    assert ours.shape == ref["pixel_values"].shape and torch.allclose(ours, ref["pixel_values"], atol=1e-5)
    if types_key:
        offset = len(item["input_ids"]) - len(ids)
        assert item[types_key][offset:] == ref[types_key][0].tolist()
    return item


@pytest.fixture(autouse=True)
def _video_processors_without_torchvision(monkeypatch):
    """A processor checks its video processor's class against a registry that is empty without
    torchvision; the video processors are only asked for their settings here, so the check is skipped."""
    from transformers.processing_utils import ProcessorMixin
    monkeypatch.setattr(ProcessorMixin, "check_argument_for_proper_class", lambda self, name, arg: type(arg))


def _qwen3_processor(loaded, tok):
    from transformers import Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor
    return Qwen3VLProcessor(image_processor=loaded.image_processor, tokenizer=tok,
                            video_processor=Qwen3VLVideoProcessor(patch_size=8))


@pytest.mark.parametrize("hw", SIZES)
def test_qwen3_vl_image_inputs_equal_the_processor(hw, tmp_path):
    _, loaded, encoder = _load("qwen3_vl")
    tok = _name_tokens(loaded.tokenizer, image_token="<|image_pad|>", video_token="<|video_pad|>")
    proc = _qwen3_processor(loaded, tok)
    item = _same_image_inputs(encoder, proc, tmp_path, hw, "mm_token_type_ids")
    ref = proc(text=["<|image_pad|>"], images=[Image.new("RGB", hw[::-1])], return_tensors="pt")
    assert torch.equal(item["media"][0].tensors["image_grid_thw"], ref["image_grid_thw"])


def test_qwen3_vl_video_is_written_with_the_processors_timestamps(tmp_path):
    """5 frames at 4 fps, sampled to 4 (indices 0, 1, 3, 4): two pairs at 0.125 s and 0.875 s."""
    from transformers.video_utils import VideoMetadata
    adapter, loaded, encoder = _load("qwen3_vl", "model.num_frames=4")
    tok = _name_tokens(loaded.tokenizer, image_token="<|image_pad|>", video_token="<|video_pad|>")
    proc = _qwen3_processor(loaded, tok)
    write_clip(tmp_path / "c.mp4", [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)], fps=4)
    item = adapter.encode_media(loaded, "video", tmp_path / "c.mp4")
    clip = loaded.media.clip(tmp_path / "c.mp4")
    assert clip.indices == [0, 1, 3, 4] and clip.fps == 4.0
    meta = VideoMetadata(total_num_frames=5, fps=clip.fps, frames_indices=list(clip.indices))
    grid = item.tensors["video_grid_thw"]
    assert item.text == proc.replace_video_token({"video_grid_thw": grid, "video_metadata": [meta]}, 0)
    assert item.text.startswith("<0.1 seconds><|vision_start|>") and "<0.9 seconds>" in item.text
    encoded = encoder.encode(Sample("v", [("<video>\nWhich way?", "left")], [("video", tmp_path / "c.mp4")]))
    batch = encoder.collate_train([encoded])
    with torch.no_grad():                   # every pair gets its own rotary grid: the model accepts the tokens
        assert torch.isfinite(loaded.model(**batch).loss)


def test_qwen3_vl_video_frames_are_capped_per_pair():
    """A 1080p clip: the reference cap keeps each frame pair at ≤ 768 merged tokens whatever the budget."""
    adapter, loaded, _ = _load("qwen3_vl", "model.num_frames=8")
    loaded.video_size = {"shortest_edge": 4096, "longest_edge": 25165824, "max_video_tokens": 768}
    frames, kwargs = adapter._frame_layout(loaded, [Image.new("RGB", (1920, 1080))] * 8)
    w, h = frames[0].size
    factor = loaded.image_processor.patch_size * loaded.image_processor.merge_size
    assert kwargs == {"do_resize": False} and h % factor == 0 and w % factor == 0
    assert 700 <= (h // factor) * (w // factor) <= 768 and abs(w / h - 16 / 9) < 0.1


@pytest.mark.parametrize("hw", SIZES)
def test_internvl_tiles_equal_the_processor(hw, tmp_path):
    from transformers import InternVLProcessor
    _, loaded, encoder = _load("internvl")
    tok = _name_tokens(loaded.tokenizer, start_image_token="<img>", end_image_token="</img>",
                       context_image_token="<IMG_CONTEXT>", video_token="<video>")
    proc = InternVLProcessor(image_processor=loaded.image_processor, tokenizer=tok,
                             video_processor=None, image_seq_length=loaded.media_tokens["tile"])
    _same_image_inputs(encoder, proc, tmp_path, hw)


def test_internvl_video_frames_are_lines_of_single_tiles(tmp_path):
    from transformers import InternVLProcessor
    adapter, loaded, encoder = _load("internvl", "model.num_frames=3")
    tok = _name_tokens(loaded.tokenizer, start_image_token="<img>", end_image_token="</img>",
                       context_image_token="<IMG_CONTEXT>", video_token="<video>")
    proc = InternVLProcessor(image_processor=loaded.image_processor, tokenizer=tok,
                             video_processor=None, image_seq_length=loaded.media_tokens["tile"])
    write_clip(tmp_path / "c.mp4", [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)])
    item = adapter.encode_media(loaded, "video", tmp_path / "c.mp4")
    assert item.tensors["pixel_values"].shape == (3, 3, 32, 32)
    assert item.text == proc.replace_video_token({"pixel_values_videos": [item.tensors["pixel_values"]]}, 0)


@pytest.mark.parametrize("hw", SIZES[:3])
def test_gemma3_image_inputs_and_token_types_equal_the_processor(hw, tmp_path):
    from transformers import Gemma3Processor
    _, loaded, encoder = _load("gemma3")
    tok = _name_tokens(loaded.tokenizer, boi_token="<start_of_image>", eoi_token="<end_of_image>",
                       image_token="<image_soft_token>")
    proc = Gemma3Processor(image_processor=loaded.image_processor, tokenizer=tok,
                           image_seq_length=loaded.media_tokens["image"])
    item = _same_image_inputs(encoder, proc, tmp_path, hw, "token_type_ids")
    assert sum(item["token_type_ids"]) == loaded.model.config.mm_tokens_per_image


def test_max_pixels_bounds_a_native_resolution_image(tmp_path):
    """``model.max_pixels`` is the processor's own bound: a 336×672 image takes at most 96·96 pixels."""
    _, loaded, encoder = _load("qwen3_vl", "model.max_pixels=9216")
    item, _, _ = _ours(encoder, tmp_path, (336, 672))
    t, h, w = item["media"][0].tensors["image_grid_thw"][0].tolist()
    assert loaded.image_processor.size["longest_edge"] == 9216 and h * w * 8 * 8 <= 9216
