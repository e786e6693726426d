"""Step checkpoints inside a task, so a pre-empted 7B task resumes where it stopped, not from its start.

A checkpoint is a folder ``checkpoints/task_XX_<name>/step_NNNNNN/``: the training state
(``training.safetensors``: full fp32 trainable parameters and Adam moments, world-size independent), the
LoRA A/B weights (``lora.safetensors``), the method's bases (``method.safetensors``), every rank's RNG
(``rng_rank<r>.safetensors`` + ``.json``) and ``state.json`` (task, step, data position, LR schedule,
world size, recipe fingerprint). It is written under a temporary name and renamed when complete;
``checkpoints/latest`` (a JSON pointer) is rewritten last, so a crash or a full disk at any moment leaves
the previous checkpoint valid. Tensors are safetensors, everything else JSON: nothing is unpickled.
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .atomic import atomic_write_text
from .sealed import damage, seal

__all__ = ["StepState", "StepCheckpoint", "staging_dir", "write_rng", "save_step", "latest_state", "load_latest",
           "prune", "drop_task", "restore_rng", "CHECKPOINTS"]

CHECKPOINTS = "checkpoints"
LATEST = "latest"


@dataclass
class StepState:
    """Where training stood: task, optimizer steps done, data position, schedule, and what produced it."""
    task: int
    task_name: str
    step: int
    epoch: int
    micro_in_epoch: int            # micro-batches this rank had consumed in ``epoch``
    micro_batch_size: int
    world: int
    fingerprint: str
    schedule: dict


@dataclass
class StepCheckpoint:
    state: StepState
    training: dict[str, torch.Tensor]
    lora: dict[str, torch.Tensor]
    method: dict[str, torch.Tensor]
    folder: Path


def capture_rng() -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state()
    version, internal, gauss = random.getstate()
    return tensors, {"python": [version, list(internal), gauss]}


def restore_rng(folder: Path, rank: int) -> None:
    """This rank's RNG as saved (rank 0's when the run now has more ranks than it had)."""
    f = folder / f"rng_rank{rank}.safetensors"
    if not f.is_file():
        f = folder / "rng_rank0.safetensors"
    tensors = load_file(f)
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda"])
    version, internal, gauss = json.loads(f.with_suffix(".json").read_text())["python"]
    random.setstate((version, tuple(internal), gauss))


def _task_dir(out: Path, task_label: str) -> Path:
    return out / CHECKPOINTS / task_label


def write_rng(folder: Path, rank: int) -> None:
    """Every rank writes its own RNG into the (temporary) checkpoint folder before rank 0 seals it."""
    tensors, meta = capture_rng()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / f"rng_rank{rank}.safetensors"))
    (folder / f"rng_rank{rank}.json").write_text(json.dumps(meta))


def staging_dir(out: Path, task_label: str, step: int) -> Path:
    return _task_dir(out, task_label) / f".step_{step:06d}.tmp"


def save_step(out: Path, task_label: str, state: StepState, training: dict, lora: dict, method: dict,
              keep_last: int) -> Path:
    """Rank 0, after every rank has written its RNG into ``staging_dir``: seal, rename, point, prune."""
    tmp = staging_dir(out, task_label, state.step)
    save_file(training, str(tmp / "training.safetensors"))
    save_file({k: v.contiguous() for k, v in lora.items()}, str(tmp / "lora.safetensors"))
    save_file({k: v.contiguous() for k, v in method.items()}, str(tmp / "method.safetensors"))
    (tmp / "state.json").write_text(json.dumps(asdict(state), indent=1))
    seal(tmp)
    final = tmp.with_name(f"step_{state.step:06d}")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    atomic_write_text(out / CHECKPOINTS / LATEST, json.dumps({"folder": str(final.relative_to(out))}))
    prune(_task_dir(out, task_label), keep_last)
    return final


def prune(task_dir: Path, keep_last: int) -> None:
    """Keep the newest ``keep_last`` step folders of a task; leftovers of interrupted writes go too."""
    steps = sorted(p for p in task_dir.glob("step_*") if p.is_dir())
    for old in steps[:-keep_last] + sorted(task_dir.glob(".step_*.tmp")):
        shutil.rmtree(old, ignore_errors=True)


STEP_FILES = ("state.json", "training.safetensors", "lora.safetensors", "method.safetensors")


def latest_state(out: Path, task: int, fingerprint: str) -> tuple[Path, StepState] | None:
    """Folder and state of the newest complete checkpoint of ``task`` from this recipe (tensors are checked
    against their seal, not loaded). A damaged newest one is passed over for the previous complete one,
    with a message saying which was used."""
    pointer = out / CHECKPOINTS / LATEST
    if not pointer.is_file():
        return None
    try:
        newest = out / json.loads(pointer.read_text())["folder"]
    except (ValueError, KeyError):
        newest = None
    candidates = sorted(newest.parent.glob("step_*"), reverse=True) if newest is not None else []
    for folder in candidates:
        problem = damage(folder, STEP_FILES)
        if problem is None:
            state = StepState(**json.loads((folder / "state.json").read_text()))
            if state.task != task or state.fingerprint != fingerprint:
                return None
            if folder != newest:
                print(f"step checkpoint {newest.name} is damaged; resuming from {folder} instead")
            return folder, state
        print(f"step checkpoint passed over: {problem}")
    return None


def load_latest(out: Path, task: int, fingerprint: str) -> StepCheckpoint | None:
    """The newest complete checkpoint of ``task`` from this recipe, with its tensors, or None."""
    found = latest_state(out, task, fingerprint)
    if found is None:
        return None
    folder, state = found
    return StepCheckpoint(state, load_file(folder / "training.safetensors"), load_file(folder / "lora.safetensors"),
                          load_file(folder / "method.safetensors"), folder)


def drop_task(out: Path, task_label: str) -> None:
    """A finished task's step checkpoints are obsolete (its merged model and bases are saved)."""
    shutil.rmtree(_task_dir(out, task_label), ignore_errors=True)
    pointer = out / CHECKPOINTS / LATEST
    if pointer.is_file() and task_label in json.loads(pointer.read_text())["folder"]:
        pointer.unlink()
