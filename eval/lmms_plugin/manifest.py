"""lmms-eval ≥ 0.7 finds this plugin through the ``lmms_eval.models`` entry point (pyproject.toml), with no
``LMMS_EVAL_PLUGINS`` needed: ``python -m lmms_eval --model keeplora --model_args recipe=…,checkpoint=…``."""
from __future__ import annotations

__all__ = ["manifests", "CLASS_PATH"]

CLASS_PATH = "eval.lmms_plugin.models.keeplora.KeepLoRAModel"


def manifests():
    """The entry point's payload: lmms-eval calls it when it builds its model registry."""
    from lmms_eval.models.registry_v2 import ModelManifest
    return [ModelManifest(model_id="keeplora", simple_class_path=CLASS_PATH)]
