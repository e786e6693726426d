"""One function builds the DeepSpeed config from the recipe, or fills a user's JSON ("auto" values).

Accepts configs as found in the wild (LLaVA's ``scripts/zero2.json``/``zero3.json``): every
``"auto"`` is filled from the recipe (batch sizes, clipping, precision) or the model (bucket sizes,
as HF Trainer does); a value that contradicts the recipe is a one-line error naming the key.
"""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

from ..config import Recipe, RecipeError

__all__ = ["build_ds_config", "check_autocast", "check_precision", "check_zero_block", "misspelt_keys"]

# top-level blocks defined outside ``deepspeed.runtime.constants`` (whose string constants name the rest)
_BLOCKS = {"zero_optimization", "flops_profiler", "activation_checkpointing", "tensorboard", "wandb", "comms_logger",
           "aio", "csv_monitor", "compile", "sparse_gradients", "amp", "elasticity", "autotuning", "nebula",
           "data_efficiency", "compression_training", "curriculum_learning", "pipeline", "sparse_attention",
           "quantize_training", "weight_quantization", "hybrid_engine", "eigenvalue", "progressive_layer_drop"}


def misspelt_keys(cfg: dict, source: str) -> list[str]:
    """One line for each top-level key that DeepSpeed would silently ignore but that is one typo away from a
    key it reads (``train_micro_batch_size_per_gp``); a key unlike any known one is left alone (plugins)."""
    import difflib

    import deepspeed.runtime.constants as constants
    known = _BLOCKS | {v for k, v in vars(constants).items() if k.isupper() and isinstance(v, str)}
    out = []
    for key in cfg:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.85)
            if close:
                out.append(f"{source}: {key}: unknown key (DeepSpeed would ignore it); did you mean {close[0]!r}?")
    return out

log = logging.getLogger(__name__)


def _fill(cfg: dict, key: str, value, source: str) -> None:
    current = cfg.get(key, "auto")
    if current == "auto":
        cfg[key] = value
    elif current != value:
        raise RecipeError(f"{source}: {key} is {current!r} but the recipe implies {value!r}; set it to \"auto\"")


def check_precision(dtype: str, on_cpu: bool) -> None:
    if dtype == "float16" and on_cpu:
        raise RecipeError("model.dtype float16: fp16 is not supported by DeepSpeed on CPU; use bfloat16 or float32")


def _fill_precision(cfg: dict, dtype: str, on_cpu: bool, source: str) -> None:
    check_precision(dtype, on_cpu)
    for key, wanted in (("bf16", dtype == "bfloat16"), ("fp16", dtype == "float16")):
        block = cfg.setdefault(key, {})
        if block.get("enabled", "auto") == "auto":
            block["enabled"] = wanted
        elif bool(block["enabled"]) != wanted:
            raise RecipeError(f"{source}: {key}.enabled={block['enabled']} contradicts model.dtype {dtype}")
    if dtype == "bfloat16":      # bf16 gradient accumulation rounds away the residual-subspace guarantee
        cfg.setdefault("data_types", {})["grad_accum_dtype"] = "fp32"


def _autocast_block(cfg: dict) -> dict | None:
    block = cfg.get("torch_autocast")
    return block if isinstance(block, dict) and block.get("enabled") else None


def check_autocast(cfg: dict, dtype: str, source: str) -> None:
    """DeepSpeed's ``torch_autocast`` block runs the training forward in bf16 over fp32 weights; the
    statistics passes, merges and evaluation call the model outside the engine, so they stay fp32."""
    if _autocast_block(cfg) and dtype != "float32":
        raise RecipeError(f"{source}: torch_autocast casts fp32 weights per op and needs model.dtype float32, "
                          f"not {dtype}; drop the torch_autocast block or set model.dtype=float32")


def _fill_autocast(cfg: dict, dtype: str, on_cpu: bool, source: str) -> None:
    """Gradients are reduced in fp32 unless the user names modules: DeepSpeed's default would reduce every
    ``nn.Linear``'s (every LoRA factor's) gradient in the low dtype."""
    block = _autocast_block(cfg)
    if block is None:
        return
    check_autocast(cfg, dtype, source)
    if on_cpu and str(block.get("dtype", "bfloat16")).replace("torch.", "") in ("float16", "fp16", "half"):
        raise RecipeError(f"{source}: torch_autocast.dtype float16 is not supported by DeepSpeed on CPU; "
                          "use bfloat16")
    block.setdefault("lower_precision_safe_modules", [])


def _fill_zero(zero: dict, hidden: int) -> None:
    sizes = {"reduce_bucket_size": hidden * hidden, "stage3_prefetch_bucket_size": int(0.9 * hidden * hidden),
             "stage3_param_persistence_threshold": 10 * hidden}
    for key, value in sizes.items():
        if zero.get(key) == "auto":
            zero[key] = value


def check_zero_block(cfg: dict, source: str) -> int:
    """Validate ``zero_optimization`` against DeepSpeed's own schema (a misspelt key is named, ``"stage": "3"``
    is read as 3) and return the stage; ZeRO-3 is refused. ``"auto"`` values are checked once filled."""
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig
    from pydantic import ValidationError
    block = cfg.get("zero_optimization") or {}
    if not isinstance(block, dict):
        raise RecipeError(f"{source}: zero_optimization must be a JSON object, got {block!r}")
    try:
        stage = int(DeepSpeedZeroConfig(**{k: v for k, v in block.items() if v != "auto"}).stage)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        what = "unknown key (DeepSpeed would ignore it)" if first["type"] == "extra_forbidden" else first["msg"]
        raise RecipeError(f"{source}: zero_optimization.{key}: {what}") from None
    if stage == 3:
        raise RecipeError(f"{source}: ZeRO stage 3 is not supported yet (LoRA merge needs whole weights); use stage 2")
    return stage


def _reject_leftover_auto(node, path: str, source: str) -> None:
    if node == "auto":
        raise RecipeError(f"{source}: {path} is \"auto\" and nothing in the recipe fills it; give a value")
    if isinstance(node, dict):
        for k, v in node.items():
            _reject_leftover_auto(v, f"{path}.{k}" if path else k, source)


def build_ds_config(recipe: Recipe, world: int, hidden_size: int, on_cpu: bool) -> dict:
    """The config passed to ``deepspeed.initialize``; global batch = micro × world × accum."""
    ds, opt = recipe.deepspeed, recipe.optim
    if ds.config:
        source = ds.config
        cfg = copy.deepcopy(json.loads(Path(ds.config).read_text()))
    else:
        source = "deepspeed (built from the recipe)"
        cfg = {"zero_optimization": {"stage": ds.zero_stage, "overlap_comm": False, "contiguous_gradients": True}}
    for key in ("optimizer", "scheduler"):
        if key in cfg:
            log.warning("%s: ignoring the %r block; the recipe's optim section builds it", source, key)
            cfg.pop(key)
    cfg.setdefault("zero_optimization", {})["stage"] = check_zero_block(cfg, source)
    _fill(cfg, "train_micro_batch_size_per_gpu", opt.micro_batch_size, source)
    _fill(cfg, "gradient_accumulation_steps", opt.grad_accum, source)
    _fill(cfg, "train_batch_size", opt.micro_batch_size * opt.grad_accum * world, source)
    _fill(cfg, "gradient_clipping", opt.max_grad_norm, source)
    _fill_precision(cfg, recipe.model.dtype, on_cpu, source)
    _fill_autocast(cfg, recipe.model.dtype, on_cpu, source)
    _fill_zero(cfg["zero_optimization"], hidden_size)
    cfg.setdefault("zero_allow_untested_optimizer", True)
    cfg.setdefault("steps_per_print", 10 ** 9)
    cfg.setdefault("wall_clock_breakdown", False)
    _reject_leftover_auto(cfg, "", source)
    return cfg
