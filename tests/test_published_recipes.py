"""The published recipes carry the official scripts' values, each pinned to where it comes from.

Sources (MaolinLuo/KeepLoRA; v1 = MCITlib/KeepLoRA at a17f9c2, v2 = CL_VISTA at f12b4dd):
UCIT  = v1 scripts/Train_UCIT/{Task*.sh,train_all.sh}: --lora_alpha $((RANK / 4)), rank 32, lr 2e-4 (1e-4 on
        Flickr30k), --mm_projector_lr 2e-5, batch 8 × grad-acc 2, 1 epoch, extract_gradients ... 0.2, ε_w 0.6;
        HF Trainer defaults: max_grad_norm 1.0, warmup 0.03, cosine.
DCL   = v1 scripts/Train_DCL/{Task*.sh,train_all.sh}: --lora_alpha $((RANK * 2)), rank 64, lr 2e-5, epochs
        [1, 3, 1, 2, 1], --mm_projector_lr 2e-5, batch 8 × 2.
VISTA = v2 CL_VISTA scripts/train_CVU.sh + videollava/train/extract_gradients.py: rank 64, α 2R, lr 1e-4,
        --mm_projector_lr 1e-5, batch 4 × 2, 8 frames (``num_frames = min(default_num_frames, 4)`` in the
        gradient passes), ratio 0.1.
MTIL  = v1 MTIL/configs/keeplora_order{1,2}.yaml + trainer/trainer.py: r 16, α 1, lr 1e-3, weight decay 0.01,
        batch 64, threshold 0.99, threshold2 0.85 vision / 0.2 text, no gradient clipping; γ 0.2 from v2
        MTIL/model/peft_vit.py (build_layer_scales call site).
"""
import pytest
import yaml

from keeplora.config import load_recipe

from .conftest import ROOT

COMMON_LLAVA = {"subspace.weight_energy": 0.6, "subspace.feature_energy": 0.99, "layer_scale.gamma": 0.2,
                "optim.weight_decay": 0.0, "optim.warmup_ratio": 0.03, "optim.max_grad_norm": 1.0,
                "subspace.growth": "grad", "subspace.gradient": "sketch", "subspace.growth_estimate": "exact"}
PINNED = {
    "ucit_seq": {**COMMON_LLAVA, "lora.r": 32, "lora.alpha": 8, "optim.lr": 2e-4, "optim.projector_lr": 2e-5,
                 "optim.micro_batch_size": 8, "optim.grad_accum": 2, "optim.epochs": 1, "subspace.grad_ratio": 0.2,
                 "task_lr": [None, None, None, None, None, 1e-4]},
    "dcl_seq": {**COMMON_LLAVA, "lora.r": 64, "lora.alpha": 128, "optim.lr": 2e-5, "optim.projector_lr": 2e-5,
                "optim.micro_batch_size": 8, "optim.grad_accum": 2, "subspace.grad_ratio": 0.2,
                "task_epochs": [1, 3, 1, 2, 1]},
    "video_seq": {**COMMON_LLAVA, "lora.r": 64, "lora.alpha": 128, "optim.lr": 1e-4, "optim.projector_lr": 1e-5,
                  "optim.micro_batch_size": 4, "optim.grad_accum": 2, "optim.epochs": 1, "subspace.grad_ratio": 0.1,
                  "model.num_frames": 8, "subspace.grad_num_frames": 4, "subspace.randomized_svd": False},
    "mtil_order1": {"lora.r": 16, "lora.alpha": 1, "optim.lr": 1e-3, "optim.weight_decay": 0.01,
                    "optim.micro_batch_size": 64, "optim.max_grad_norm": 0.0, "optim.schedule": "one_cycle",
                    "subspace.feature_energy": 0.99, "subspace.tower_weight_energy": {"vision": 0.85, "text": 0.2},
                    "layer_scale.gamma": 0.2, "subspace.grad_ratio": 1.0,
                    "task_epochs": [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 5]},
    "mtil_order2": {"lora.r": 16, "lora.alpha": 1, "optim.lr": 1e-3, "optim.weight_decay": 0.01,
                    "optim.micro_batch_size": 64, "optim.max_grad_norm": 0.0, "subspace.feature_energy": 0.99,
                    "subspace.tower_weight_energy": {"vision": 0.85, "text": 0.2}, "layer_scale.gamma": 0.2,
                    "task_epochs": [5, 2, 5, 5, 5, 5, 10, 10, 10, 10, 10]},
}


def _get(recipe, dotted: str):
    node = recipe
    for key in dotted.split("."):
        node = getattr(node, key)
    return node


@pytest.mark.parametrize("name", list(PINNED))
def test_published_recipe_values_equal_the_official_scripts(name):
    raw = yaml.safe_load((ROOT / "recipes" / f"{name}.yaml").read_text())
    recipe = load_recipe(ROOT / "recipes" / f"{name}.yaml")
    for key, want in PINNED[name].items():
        if key == "task_epochs":
            got = [t.epochs if t.epochs is not None else recipe.optim.epochs for t in recipe.tasks]
        elif key == "task_lr":
            got = [t.lr for t in recipe.tasks]
        else:
            got = _get(recipe, key)
        assert got == want, f"{name}: {key} is {got!r}, the official script has {want!r}"
    assert raw["lora"]["alpha"] == PINNED[name]["lora.alpha"]


def test_randomized_svd_on_the_sketch_path_is_refused(tmp_path):
    from keeplora.config import RecipeError
    with pytest.raises(RecipeError, match="randomized_svd applies to subspace.gradient=exact"):
        load_recipe(ROOT / "recipes/video_seq.yaml", ["subspace.randomized_svd=true"])
    assert load_recipe(ROOT / "recipes/video_seq.yaml", ["subspace.randomized_svd=true",
                                                         "subspace.gradient=exact"]).subspace.randomized_svd
