"""Recipe schema: YAML data validated by pydantic, with ``key.sub=value`` command-line overrides.

Every field has a docstring; an unknown key or a bad value becomes one ``RecipeError`` line naming
the recipe file and the dotted key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from keeplora.errors import UserError

__all__ = ["Recipe", "RecipeError", "load_recipe", "apply_overrides", "resolve_path"]


class RecipeError(UserError):
    """A recipe problem, already phrased as one line for the user."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), use_attribute_docstrings=True)


class ModelCfg(_Strict):
    family: str
    """Adapter name in the model registry (``llava``, ``video_llava``, …)."""
    name_or_path: Optional[str] = None
    """Hub id or local directory of the checkpoint; ``null`` builds the family's tiny random config."""
    tiny: dict = Field(default_factory=dict)
    """Overrides of the tiny random config (used only when ``name_or_path`` is null)."""
    tokenizer: Optional[str] = None
    """Tokenizer folder for the tiny random config (only when ``name_or_path`` is null); null = byte-level."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Training/eval precision; fp16 is refused on CPU."""
    attn_implementation: Literal["eager", "sdpa", "flash_attention_2"] = "sdpa"
    """Attention kernel passed to transformers (flash-attn only with the ``gpu`` extra)."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward to save memory (7B recipes turn it on)."""
    num_frames: int = Field(8, ge=1)
    """Frames sampled uniformly per video (Video-LLaVA trains with 8)."""
    image_aspect: Literal["pad", "resize"] = "pad"
    """LLaVA's ``image_aspect_ratio``: pad to a square with the mean colour, or resize."""
    max_pixels: Optional[int] = Field(None, ge=1024)
    """Pixel bound of one image for the native-resolution families (Qwen2/2.5/3-VL: the processor's
    ``max_pixels``, tokens ≈ pixels / (patch·merge)²); null = the checkpoint's own bound."""
    prompt_template: Optional[str] = None
    """One user turn as a format string with ``{question}`` (e.g. ``USER: {question} ASSISTANT:``), used instead
    of the checkpoint's chat template; null = the chat template (or the family's default when there is none)."""
    system_prompt: Optional[str] = None
    """Text before the first turn (LLaVA's vicuna_v1: "A chat between a curious user and …"); null = none."""


class MethodCfg(_Strict):
    name: str = "keeplora_pp"
    """Continual-learning method in the method registry: ``keeplora_pp`` | ``keeplora`` | ``seq_lora`` |
    ``inflora`` | ``inflora_all`` | ``olora`` | ``olora_frobenius`` | ``joint`` (multitask upper bound)."""


class LoraCfg(_Strict):
    r: int = Field(8, ge=1)
    """LoRA rank."""
    alpha: float = Field(16.0, gt=0)
    """LoRA α; the branch is scaled by α·s_l/r (s_l = layer scale)."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout on the LoRA input."""
    train_a: bool = False
    """Also train A (its rows are kept off the protected basis after every step); default: A frozen."""


class ReferenceCfg(_Strict):
    train: list[str] = Field(min_length=1)
    """LLaVA conversation JSON/JSONL files of general data (the training-data reader): e.g. a few thousand samples
    of LLaVA-665k for the 7B recipes, the TinyCL-VL base's general mixture for the tiny ones."""
    media_root: Optional[str] = None
    """Directory the media paths are relative to; null = each file's directory."""
    samples: Optional[int] = Field(None, ge=1)
    """Evenly spaced samples taken over the files together; null = all."""
    energy: float = Field(0.99, gt=0, le=1)
    """GPM energy of the reference inputs added to every protected basis at step 0 (1.0 = all of them)."""


class SubspaceCfg(_Strict):
    weight_energy: float = Field(0.6, gt=0, le=1)
    """ε_w: σ² share of the pretrained weights kept as the principal (protected) basis."""
    feature_energy: float = Field(0.99, gt=0, le=1)
    """ε_f: energy threshold of the GPM basis growth after each task."""
    grad_ratio: float = Field(0.2, gt=0, le=1)
    """Share of each task's training set (evenly spaced) used for the task-gradient estimates."""
    grad_samples: Optional[int] = Field(None, ge=1)
    """At most this many samples in that subset (still evenly spaced over the whole file); null = the
    ``grad_ratio`` share alone, as published. For a task trained on far fewer samples than its file holds
    (a ``max_steps`` budget), or a very large one, it keeps the statistics passes a bounded share of training."""
    growth: Literal["grad", "features", "features_summed"] = "grad"
    """Basis growth from the post-training gradient (LLaVA/video rule) or from layer inputs (CLIP rule):
    ``features`` = the uncentred input covariance Σ x xᵀ; ``features_summed`` = the official MTIL code's
    element-wise sum of per-batch token matrices (parity with the published numbers); a run's
    ``recipe.resolved.yaml`` records which."""
    grad_batch_size: int = Field(4, ge=1)
    """Micro-batch size of the gradient passes."""
    grad_num_frames: Optional[int] = Field(None, ge=1)
    """Frames per video in the task-statistics passes; null = ``model.num_frames`` (the official CL-VISTA
    ``extract_gradients.py`` uses ``min(8, 4)`` = 4 while training on 8)."""
    randomized_svd: bool = False
    """Randomized SVD (``torch.svd_lowrank``, q = r) for the A init instead of the exact SVD; only with
    ``gradient: exact`` (the sketch is itself a randomized range finder, so the combination is refused)."""
    principal: bool = True
    """Protect the pretrained weights' principal subspace (ablation: false starts from an empty basis)."""
    grow: bool = True
    """Grow the basis with each finished task's directions (ablation: false protects the principal part only)."""
    gradient: Literal["sketch", "exact"] = "sketch"
    """Task gradient: ``sketch`` streams a randomized sketch (no weight gradient is ever formed; see
    ``keeplora/core/sketch.py``); ``exact`` materialises every weight gradient, as the official code does."""
    tower_weight_energy: dict[Literal["vision", "text", "decoder"], float] = Field(default_factory=dict)
    """ε_w per tower, overriding ``weight_energy`` (CLIP/MTIL: ``{vision: 0.85, text: 0.2}``)."""
    clip_basis_side: Literal["official", "input"] = "official"
    """CLIP only: ``official`` keeps the output-side U of each (square) attention weight as the input basis,
    as the MTIL code does; ``input`` is the paper's (and the LLaVA code's) input-side convention."""
    sketch_rank: Optional[int] = Field(None, ge=1)
    """Sketch size k of the task-start sketch (directions recovered per layer); null = 2r."""
    growth_estimate: Literal["exact", "sketch"] = "exact"
    """How ``growth: grad`` reads the post-task gradient: ``exact`` accumulates it per layer (in as many passes
    as ``pass_memory_mb`` needs), so the basis covers ε_f of its true energy; ``sketch`` reuses the k-column
    sketch (at most k directions a task, energies estimated: covers far less than ε_f, see BENCHMARKS.md —
    only for when no pass can hold a layer's gradient)."""
    reference: Optional[ReferenceCfg] = None
    """A general reference set whose layer-input features join every protected basis at step 0, after the
    principal part (KeepLoRA / KeepLoRA++): general inputs then map exactly as before. null = none."""
    pass_memory_mb: Optional[float] = Field(None, gt=0)
    """fp32 memory (MB) for one statistics pass's exact accumulators (gradients d_out × d_in, covariances
    d_in × d_in, per layer); the layers are split into as many passes over the subset as that needs.
    null = every layer in one pass (fine for small models; a 7B model's gradients are ~26 GB in fp32)."""


class LayerScaleCfg(_Strict):
    gamma: float = Field(0.2, gt=0, le=1)
    """Scale of the first adapted layer; the last gets 1.0."""
    schedule: str = "linear"
    """``linear`` (official) | ``exp`` | ``uniform`` (no scaling)."""
    towers: list[Literal["vision", "text", "decoder"]] = Field(default_factory=lambda: ["vision", "decoder"])
    """Towers whose adapted layers are ramped (each its own ramp); the others keep scale 1. The CLIP text
    encoder is off by default: whether the official KeepLoRA++ code scales it could not be read."""


class OptimCfg(_Strict):
    lr: float = Field(2e-4, gt=0)
    """Learning rate of the LoRA parameters."""
    projector_lr: Optional[float] = None
    """Learning rate of the unconstrained projector; null keeps the projector frozen."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay."""
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    """Linear warm-up share of each task's steps, then cosine decay (``schedule: cosine``)."""
    schedule: Literal["cosine", "one_cycle"] = "cosine"
    """LR schedule per task: warm-up + cosine (LLaVA's HF Trainer) or torch's OneCycleLR with its defaults
    and ``max_lr`` = each group's lr (the MTIL code)."""
    epochs: float = Field(1.0, gt=0)
    """Epochs per task (a task may override)."""
    micro_batch_size: int = Field(8, ge=1)
    """Samples per rank per micro-step."""
    grad_accum: int = Field(1, ge=1)
    """Gradient-accumulation steps; global batch = micro × ranks × accum."""
    max_grad_norm: float = Field(1.0, ge=0)
    """Gradient clipping (0 disables)."""
    max_steps: Optional[int] = Field(None, ge=1)
    """Cap on optimizer steps per task (joint training's one stage on the union: the cap × the tasks)."""


class CheckpointCfg(_Strict):
    every_steps: Optional[int] = Field(None, ge=1)
    """Save a resumable step checkpoint every N optimizer steps inside a task; null = only at task ends."""
    keep_last: int = Field(2, ge=1)
    """Step checkpoints kept per task (an older one is deleted only once a newer one is complete)."""


class DeepSpeedCfg(_Strict):
    config: Optional[str] = None
    """A DeepSpeed JSON (LLaVA's zero2.json style, ``"auto"`` allowed); null builds one from the recipe."""
    zero_stage: int = Field(2, ge=0, le=3)
    """ZeRO stage used when ``config`` is null."""


class EvalCfg(_Strict):
    batch_size: int = Field(16, ge=1)
    """Prompts per generate() call (left padding, KV cache)."""
    max_new_tokens: int = Field(16, ge=1)
    """Greedy decoding length."""
    max_samples: Optional[int] = Field(None, ge=1)
    """Evaluate only the first N test samples of each task."""
    zero_shot: bool = True
    """Evaluate every task before the first one is trained."""
    score_cache: Optional[str] = None
    """A folder where zero-shot scores are kept and reused by every run with the same base, test sets and
    evaluation settings — a grid's cells (``eval/score_cache.py`` says what identifies an entry); null =
    always evaluate."""
    label_set: Literal["task", "all"] = "task"
    """Classifier families (CLIP): classify among the task's own classes (MTIL, task identity known) or among
    the merged class list of every task and general-suite entry (task-agnostic, X-TAIL style)."""
    backend: Literal["hf", "vllm"] = "hf"
    """Generation engine of ``eval.run`` on saved checkpoints: transformers ``generate`` or vLLM (the ``vllm``
    extra; same prompts, greedy, same scorers). The evaluation inside training always uses ``generate``."""
    tensor_parallel: Optional[int] = Field(None, ge=1)
    """vLLM's tensor-parallel size; null = every visible GPU."""


class EvalTaskCfg(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
    """Task name used in tables and paths: letters, digits and ``._+-``, starting with a letter or digit (it
    names folders such as ``task_01_<name>/``, so no ``/``, spaces or ``..``)."""
    test: str
    """Test JSONL: ``question_id``, ``image``/``video``, ``prompt``, ``answer`` (or ``answers``)."""
    scorer: str = "exact_match"
    """Scorer name in ``eval.scorers``."""
    media_root: Optional[str] = None
    """Directory that media paths are relative to; null = the directory of each JSON file."""
    classes: Optional[str] = None
    """Classifier families (CLIP): JSON file ``{"classnames": [...], "templates": ["a photo of a {}.", ...]}``;
    each sample's answer must be one of the class names (the first template is used, as in the MTIL code)."""


class TaskCfg(EvalTaskCfg):
    train: str
    """LLaVA conversation JSON/JSONL (``id``, ``image``/``video``, ``conversations``)."""
    epochs: Optional[float] = Field(None, gt=0)
    """Overrides ``optim.epochs`` for this task."""
    lr: Optional[float] = Field(None, gt=0)
    """Overrides ``optim.lr`` for this task."""


class DataCfg(_Strict):
    prepare: Optional[str] = None
    """The command that creates the task files; quoted in the error when one is missing."""
    max_length: int = Field(2048, ge=16)
    """Token limit of one training sample (longer ones are an error, never silently cut)."""
    on_bad_sample: Literal["error", "skip"] = "error"
    """Stop on a missing/corrupt media file, or skip it and report the count."""


class Recipe(_Strict):
    output_dir: str = Field(min_length=1, pattern=r"\S")
    """Where metrics.json, logs, bases and per-task checkpoints go."""
    seed: int = 0
    """Seeds model init, data order and sampling."""
    model: ModelCfg
    method: MethodCfg = Field(default_factory=MethodCfg)
    lora: LoraCfg = Field(default_factory=LoraCfg)
    subspace: SubspaceCfg = Field(default_factory=SubspaceCfg)
    layer_scale: LayerScaleCfg = Field(default_factory=LayerScaleCfg)
    optim: OptimCfg = Field(default_factory=OptimCfg)
    deepspeed: DeepSpeedCfg = Field(default_factory=DeepSpeedCfg)
    checkpoint: CheckpointCfg = Field(default_factory=CheckpointCfg)
    eval: EvalCfg = Field(default_factory=EvalCfg)
    data: DataCfg = Field(default_factory=DataCfg)
    tasks: list[TaskCfg]
    """The task sequence, in training order."""
    general: list[EvalTaskCfg] = Field(default_factory=list)
    """A held-out general-ability suite, never trained on, scored at zero-shot and after every task
    (metrics.json ``general`` and ``general_change``): what the model knew before the sequence."""
    report_to: list[Literal["tensorboard", "wandb"]] = Field(default_factory=lambda: ["tensorboard"])
    """Where the training and evaluation scalars go (loss, lr, grad norm, tokens/s, every task's score and the
    general suite, on one global step): ``tensorboard`` (``output_dir/tb``) and/or ``wandb`` (the extra)."""
    save_merged: bool = True
    """Save the merged model after every task (``task_XX_<name>/``), as the official pipeline does."""
    save_base: bool = False
    """Also save the starting model (``task_00_base/``), for diagnostics on small models."""
    resume: Optional[bool] = None
    """Continue from ``output_dir/run_manifest.json`` after the last finished task: null = whenever one
    exists, true = require one, false = never (an existing run is then an error unless ``overwrite``)."""
    overwrite: bool = False
    """Start over in an ``output_dir`` that already holds a run (finished or not)."""
    dry_run: bool = False
    """Validate the recipe and every file it names, print the resolved recipe, and exit."""

    @field_validator("tasks")
    @classmethod
    def _unique_names(cls, tasks: list[TaskCfg]) -> list[TaskCfg]:
        names = [t.name for t in tasks]
        if not tasks:
            raise ValueError("needs at least one task")
        if len(set(names)) != len(names):
            raise ValueError(f"task names must be unique, got {names}")
        return tasks

    @field_validator("general")
    @classmethod
    def _unique_general_names(cls, general: list[EvalTaskCfg]) -> list[EvalTaskCfg]:
        names = [g.name for g in general]
        if len(set(names)) != len(names):                  # each name owns one predictions file per stage
            raise ValueError(f"general-suite names must be unique, got {names}")
        return general

    @model_validator(mode="after")
    def _known_names(self) -> Recipe:
        from keeplora.core import SCHEDULES
        if self.layer_scale.schedule not in SCHEDULES:
            raise ValueError(f"layer_scale.schedule {self.layer_scale.schedule!r} unknown; known: {sorted(SCHEDULES)}")
        if self.subspace.randomized_svd and self.subspace.gradient == "sketch":
            raise ValueError("subspace.randomized_svd applies to subspace.gradient=exact only (the sketch is already "
                             "a randomized range finder); drop randomized_svd or set gradient: exact")
        return self


def _format_error(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "<root>"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    got = first.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
    more = f" [+{len(err.errors()) - 1} more]" if len(err.errors()) > 1 else ""
    return f"{source}: {key}: {msg}{shown}{more}"


def _child(node, key: str, dotted: str, source: str, create: bool):
    """Step into ``node[key]``; lists take integer indices, missing dict keys become sections."""
    if isinstance(node, list):
        if not (key.isdigit() and int(key) < len(node)):
            raise RecipeError(f"{source}: override {dotted!r}: index {key} out of range ({len(node)} items)")
        return node[int(key)]
    if isinstance(node, dict):
        return node.setdefault(key, {}) if create else node.get(key)
    raise RecipeError(f"{source}: override {dotted!r}: {key!r} is inside a value, not a section")


def _set_dotted(data: dict, dotted: str, value, source: str) -> None:
    *path, last = dotted.split(".")
    node = data
    for key in path:
        node = _child(node, key, dotted, source, create=True)
    if isinstance(node, list):
        _child(node, last, dotted, source, create=False)          # range check
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise RecipeError(f"{source}: override {dotted!r}: {path[-1]!r} is a value, not a section")


def apply_overrides(data: dict, overrides: list[str], source: str = "command line") -> dict:
    """Apply ``a.b=value`` overrides; values are parsed as YAML (``lora.r=4``, ``save_merged=false``)."""
    for item in overrides:
        if "=" not in item:
            raise RecipeError(f"{source}: override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        _set_dotted(data, key.strip(), yaml.safe_load(raw) if raw else None, source)
    return data


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Read, override and validate a recipe; every failure is a one-line ``RecipeError``."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe {path} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise RecipeError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    apply_overrides(data, list(overrides))
    try:
        return Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(_format_error(str(path), err)) from None


def resolve_path(path: str, base: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base / p
