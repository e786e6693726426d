"""The lifecycle every method implements (begin_task → train → end_task), and its context."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import Recipe
from ..core import layer_scales
from ..statistics import Accumulator

__all__ = ["Method", "TaskContext"]


@dataclass
class TaskContext:
    """What a hook may use: the merged model (no LoRA), its adapted layers, and statistics over named data.

    ``statistics(make_accumulator, data)`` runs the data through the model at the current weights and yields
    ``(layer, result)`` pairs pass by pass (``keeplora.statistics``; ``subspace.pass_memory_mb`` bounds one
    pass's state: consume each pair before asking for the next). ``data`` is one of ``datasets``: ``"task"``
    (the task's evenly spaced ``subspace.grad_ratio`` subset, at most ``grad_samples`` of it) and, when the
    recipe has one, ``"reference"`` (``subspace.reference``). Collective across ranks. ``towers`` names each
    module's tower (``vision`` / ``text`` encoder, or the LLM ``decoder``); ``adapter`` is the model family's
    adapter.
    """
    index: int
    name: str
    model: nn.Module
    layers: dict[str, nn.Linear]
    layer_index: dict[str, int]
    run: Callable[[Callable[[], Accumulator], str], Iterator[tuple[str, Any]]]
    datasets: tuple[str, ...] = ("task",)
    towers: dict[str, str] | None = None
    adapter: Any = None

    def statistics(self, make: Callable[[], Accumulator], data: str = "task") -> Iterator[tuple[str, Any]]:
        if data not in self.datasets:
            raise ValueError(f"no {data!r} data in this run (known: {', '.join(self.datasets)})")
        return self.run(make, data)

    def tower(self, name: str) -> str:
        return (self.towers or {}).get(name, "decoder")


class Method:
    """Default: plain LoRA with no constraint and no layer scale."""
    name: ClassVar[str] = ""
    uses_subspace: ClassVar[bool] = False
    trains_on_all_tasks: ClassVar[bool] = False      # joint multitask: one stage on the union of the tasks

    def __init__(self, recipe: Recipe):
        self.recipe = recipe

    @property
    def train_a(self) -> bool:
        return True

    def targets(self, layer_index: dict[str, int]) -> dict[str, int]:
        """The adapter's LoRA targets (module -> layer) this method adapts; all of them by default."""
        return layer_index

    def scales(self, layer_index: dict[str, int], towers: dict[str, str] | None = None) -> dict[str, float]:
        """Per-module multiplier of α; ``layer_index`` maps module name -> layer, ``towers`` -> its tower."""
        return {name: 1.0 for name in layer_index}

    def begin_task(self, ctx: TaskContext) -> dict[str, torch.Tensor] | None:
        """Return LoRA-A rows per module (r, d_in), or None to keep PEFT's random init."""
        return None

    def on_engine(self, engine, peft_model):
        """Called once the task's DeepSpeed engine exists; may return a handle with ``remove()``."""
        return None

    def regularizer(self) -> torch.Tensor | None:
        """A term added to every micro-batch's loss during training (O-LoRA's orthogonality), or None."""
        return None

    def end_task(self, ctx: TaskContext) -> None:
        """Called on the merged model after the task's LoRA is folded in."""

    def basis(self, name: str) -> torch.Tensor | None:
        """The protected input basis (d_in, k) of a module, if the method keeps one."""
        return None

    def state(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        if tensors:
            raise ValueError(f"method {self.name!r} keeps no state, but a state file was given")


def depth_scales(layer_index: dict[str, int], gamma: float, schedule: str, towers: dict[str, str] | None = None,
                 ramped: Sequence[str] = ("vision", "decoder")) -> dict[str, float]:
    """Map module -> s_l, with l the rank of its layer among its tower's adapted layers (official ramp).

    Each tower gets its own ramp (CLIP: vision layers 0..11 and text layers 0..11 are two stacks);
    modules of a tower not in ``ramped`` keep 1.0. ``towers`` None: every module is in the decoder.
    """
    tower_of = {name: (towers or {}).get(name, "decoder") for name in layer_index}
    out = {}
    for tower in set(tower_of.values()):
        members = {n: layer for n, layer in layer_index.items() if tower_of[n] == tower}
        if tower not in ramped:
            out.update({n: 1.0 for n in members})
            continue
        ordered = sorted(set(members.values()))
        s = layer_scales(len(ordered), gamma, schedule)
        position = {layer: i for i, layer in enumerate(ordered)}
        out.update({n: s[position[layer]] for n, layer in members.items()})
    return out
