"""Models this plugin adds to lmms-eval (``LMMS_EVAL_PLUGINS=eval.lmms_plugin``)."""
AVAILABLE_MODELS = {"keeplora": "KeepLoRAModel"}
