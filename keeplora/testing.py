"""Small builders shared by the tests and ``bench/``: real classes, tiny random configs, no downloads."""
from __future__ import annotations

import torch

from .config import Recipe
from .core import principal_basis, residual_init
from .lora import ADAPTER, inject_lora, lora_modules
from .methods.base import TaskContext, depth_scales
from .models import get_adapter
from .models.loss import answer_loss
from .statistics import passes

__all__ = ["keeplora_tiny_peft", "local_context"]


def local_context(model, layers: dict, layer_index: dict, data: dict[str, list[dict]], index: int = 0,
                  adapter=None, budget: int | None = None) -> TaskContext:
    """A one-process ``TaskContext`` over ready batches per data name (``{"task": [...], "reference": [...]}``),
    the model's own loss as the objective: what the trainer builds, without a run."""
    def loss(m, b):
        return answer_loss(m, b)

    def run(make, name):
        return passes(model, layers, lambda: data[name], loss, make, budget)
    return TaskContext(index, f"task{index}", model, layers, layer_index, run, tuple(data), adapter=adapter)


def keeplora_tiny_peft(recipe: Recipe, train_a: bool, seed: int = 0, device: str | torch.device = "cpu"):
    """The recipe's tiny model with LoRA on every decoder linear, A set KeepLoRA-style from a random
    gradient (orthogonal to each layer's principal basis, ε_w = recipe's weight energy).

    Returns ``(peft_model, bases, pairs)``; ``pairs`` = sorted (LoRA-A parameter, basis) for the wrapper.
    """
    adapter = get_adapter(recipe.model.family)
    model = adapter.load(recipe.model, seed=seed).model.to(device)
    targets = adapter.lora_targets(model)
    g = torch.Generator().manual_seed(seed + 1)
    bases = {n: principal_basis(model.get_submodule(n).weight, recipe.subspace.weight_energy) for n in targets}
    init_a = {n: residual_init(torch.randn(model.get_submodule(n).weight.shape, generator=g), bases[n],
                               recipe.lora.r) for n in targets}
    peft = inject_lora(model, list(targets), recipe.lora,
                       depth_scales(targets, recipe.layer_scale.gamma, recipe.layer_scale.schedule), init_a, train_a)
    modules = lora_modules(peft)
    pairs = [(modules[n].lora_A[ADAPTER].weight, bases[n]) for n in sorted(modules)]
    return peft, bases, pairs
