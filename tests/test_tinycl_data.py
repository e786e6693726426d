"""TinyCL-VL data: real package sources, deterministic build, disjoint pools, one-line errors, hygiene."""
import json
import os
import random

import pytest
from PIL import Image

from data_prep import tinycl, tinycl_sources, tinycl_world
from data_prep.common import ConvertError
from data_prep.tiny_synth import COLORS, SHAPES
from data_prep.tinycl_general import DIGITS
from keeplora.data import read_test_file, read_train_file
from keeplora.metrics import general_change

SMALL = dict(n_train=12, n_test=6, n_general=12, n_general_test=6)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("tinycl")
    return out, tinycl.build(out, seed=3, **SMALL)


def test_build_writes_every_task_in_the_trainer_formats(built):
    out, manifest = built
    assert set(manifest["tasks"]) == {f"general/{g}" for g in tinycl.GENERAL} | {f"tasks/{t}" for t in tinycl.TASKS}
    for name, stats in manifest["tasks"].items():
        train, test = read_train_file(out / name / "train.json"), read_test_file(out / name / "test.jsonl")
        assert (len(train), len(test)) == (stats["train"], stats["test"])
        kinds = {k for s in train + test for k, _ in s.media}
        expected = {"general/letters": set(), "general/video_color": {"video"}, "tasks/motion": {"video"},
                    "tasks/count": {"video"}}.get(name, {"image"})
        assert kinds == expected, name
    mc = read_test_file(out / "tasks/color_mc/test.jsonl")[0]
    assert mc.answers[0] in "ABCDEF" and "F. " in mc.turns[0][0]
    box = read_test_file(out / "tasks/grounding/test.jsonl")[0].answers[0]
    assert box.startswith("[") and len(json.loads(box)) == 4
    plus = read_test_file(out / "tasks/digit_plus/test.jsonl")[0]
    assert plus.turns[0][0].endswith("plus three?") and DIGITS.index(plus.answers[0]) >= 3
    caption = read_test_file(out / "tasks/caption/test.jsonl")[0].answers[0]
    color, shape = caption.split()[1:]
    assert caption.startswith("a ") and color in COLORS and shape in SHAPES


def test_grounding_boxes_hold_the_named_shape():
    rng = random.Random(0)
    for img, question, answer in tinycl._grounding(rng, 20):
        color = question.split(" of the ")[1].split(" shape")[0]
        x1, y1, x2, y2 = (round(v * tinycl.SIZE) for v in json.loads(answer))
        inside = img.crop((x1, y1, x2 + 1, y2 + 1)).getcolors(4096)
        assert any(rgb == COLORS[color] for _, rgb in inside)
        assert 9 <= x2 - x1 <= 13 and 0 <= min(x1, y1) and max(x2, y2) <= tinycl.SIZE


def test_build_is_deterministic_and_cached(built, tmp_path):
    out, manifest = built
    again = tinycl.build(tmp_path / "again", seed=3, **SMALL)
    assert {k: v["sha256"] for k, v in again["tasks"].items()} == {k: v["sha256"] for k, v in manifest["tasks"].items()}
    stamp = os.stat(out / "manifest.json").st_mtime_ns
    assert tinycl.build(out, seed=3, **SMALL) == manifest and os.stat(out / "manifest.json").st_mtime_ns == stamp
    other = tinycl.build(tmp_path / "other", seed=4, **SMALL)
    assert other["tasks"]["tasks/fashion"]["sha256"] != manifest["tasks"]["tasks/fashion"]["sha256"]


def test_general_suite_and_tasks_draw_from_disjoint_pools():
    s = tinycl._sources(0)
    f_order = s["fashion"][4]
    assert not set(f_order[:6000]) & set(f_order[6000:])                 # general vs task training images
    d_order = s["digits"][2]
    assert len(set(d_order[:3000]) | set(d_order[3000:4000]) | set(d_order[4000:])) == 5000
    train_words, test_words = s["letters"]
    assert not set(train_words) & set(test_words)                        # held-out words for the text skill
    coarse = {sub for subs in tinycl_world.CLIPART_COARSE.values() for sub in subs}
    assert not coarse & set(tinycl_world.CLIPART_FINE.values())             # tiny MTIL's clip-art vs the suite


def test_a_missing_package_is_one_line_naming_the_install(tmp_path, monkeypatch):
    monkeypatch.setattr(tinycl_sources, "SHARE", tmp_path)
    with pytest.raises(ConvertError, match=r"apt-get install -y dataset-fashion-mnist") as exc:
        tinycl_sources.fashion_mnist("train")
    assert "\n" not in str(exc.value)
    assert tinycl.main(["--out", str(tmp_path / "x")]) == 2


def test_clipart_hygiene_skips_symlinks_and_huge_files(tmp_path, monkeypatch):
    folder = tmp_path / "openclipart/png/a/b"
    folder.mkdir(parents=True)
    rgba = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (10, 5, 30, 15))
    rgba.save(folder / "ok.png")
    os.symlink(folder / "ok.png", folder / "dup.png")
    big = bytearray((folder / "ok.png").read_bytes())
    big[16:24] = (30000).to_bytes(4, "big") + (30000).to_bytes(4, "big")   # header claims 900 MP
    (folder / "huge.png").write_bytes(bytes(big))
    monkeypatch.setattr(tinycl_sources, "SHARE", tmp_path)
    files = tinycl_sources.clipart_files("a/b")
    assert [f.name for f in files] == ["huge.png", "ok.png"]
    assert tinycl_sources.clipart(files[0], 32) is None
    img = tinycl_sources.clipart(files[1], 32)
    assert img.size == (32, 32) and img.getpixel((0, 0)) == (255, 255, 255)   # composited on white
    assert img.getpixel((16, 16))[0] > 150                                     # content cropped and centred


def test_general_change_is_last_minus_zero_shot_mean():
    stages = {"zero-shot": {"a": 80.0, "b": 60.0}, "after t1": {"a": 70.0, "b": 60.0},
              "after t2": {"a": 50.0, "b": 50.0}}
    assert general_change(stages) == pytest.approx(-20.0)
    assert general_change({"zero-shot": {"a": 1.0}}) is None


def test_base_pretraining_keeps_encoded_samples_without_changing_the_base(built, monkeypatch):
    """12 samples per skill in batches of 4: 30 steps read each skill's samples about twice."""
    from bench import base_encoding
    from data_prep.tinycl_base import build_base
    out, _ = built
    build_base(out, steps=2, batch=4)                         # its tokenizer is what the bench loads
    monkeypatch.setattr(base_encoding, "train_on_general", _counting(base_encoding.train_on_general))
    assert base_encoding.main(["--data", str(out), "--steps", "30", "--batch", "4"]) == 0    # bit-identical


def _counting(train):
    """Wrap the pretraining so the test sees how often each sample is encoded in each mode."""
    from keeplora.models import Encoder

    def run(model, encoder: Encoder, *args, keep_encoded: bool, **kwargs):
        calls = []
        original = encoder.encode
        encoder.encode = lambda sample, *a, **k: (calls.append(sample.id), original(sample, *a, **k))[1]
        loss = train(model, encoder, *args, keep_encoded=keep_encoded, **kwargs)
        assert (len(calls) == len(set(calls))) == keep_encoded
        return loss
    return run
