"""lmms-eval plugin: request conversion here; the plugin itself where lmms-eval installs (GPU machines)."""
import importlib.util

import pytest
from PIL import Image

from eval.lmms_plugin.requests import cut_at, request_sample


def test_requests_become_samples_with_placeholders():
    img = Image.new("RGB", (4, 4))
    s = request_sample(3, "Is there a dog?", [img, img])
    assert s.id == "3" and s.turns[0][0] == "<image>\n<image>\nIs there a dog?" and s.media[0] == ("image", img)
    v = request_sample(0, "<video>\nWhat happens?", ["/data/clip.mp4"])
    assert v.turns[0][0] == "<video>\nWhat happens?" and v.media == [("video", "/data/clip.mp4")]
    assert request_sample(1, "Text only.", []).media == []


def test_until_cuts_at_the_first_stop_string():
    assert cut_at("Yes.\nUSER: next", ["\nUSER:", "</s>"]) == "Yes."
    assert cut_at("Yes", []) == "Yes"


def test_pil_images_go_through_the_dataset_path(tmp_path):
    from keeplora.config import load_recipe
    from keeplora.models import Encoder, get_adapter

    from .conftest import ROOT
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml")
    adapter = get_adapter("llava")
    loaded = adapter.load(recipe.model)
    item = Encoder(adapter, loaded, recipe.model).encode(request_sample(0, "Q?", [Image.new("RGB", (9, 5))]),
                                                         with_answers=False)
    assert tuple(item["media"][0].tensors["pixel_values"].shape) == (1, 3, 32, 32)


@pytest.mark.skipif(importlib.util.find_spec("lmms_eval") is None, reason="lmms-eval (needs torchvision) absent")
def test_plugin_registers_with_lmms_eval(monkeypatch):
    monkeypatch.setenv("LMMS_EVAL_PLUGINS", "eval.lmms_plugin")
    from lmms_eval.models import get_model
    assert get_model("keeplora").__name__ == "KeepLoRAModel"


def test_the_entry_point_names_the_plugin_class():
    """The ``lmms_eval.models`` entry point (pyproject.toml) resolves to the manifest function, whose class
    path is the plugin's model class."""
    import ast

    import tomllib

    from eval.lmms_plugin.manifest import CLASS_PATH, manifests

    from .conftest import ROOT
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["lmms_eval.models"] == {"keeplora": "eval.lmms_plugin.manifest:manifests"}
    assert callable(manifests)
    module, cls = CLASS_PATH.rsplit(".", 1)
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    assert any(isinstance(n, ast.ClassDef) and n.name == cls for n in tree.body)


@pytest.mark.skipif(importlib.util.find_spec("lmms_eval") is None, reason="lmms-eval (needs torchvision) absent")
def test_lmms_eval_registry_loads_the_entry_point():
    from lmms_eval.models.registry_v2 import ModelRegistryV2
    registry = ModelRegistryV2()
    assert not registry.load_entrypoint_manifests()
    assert registry.get_model_class("keeplora").__name__ == "KeepLoRAModel"
