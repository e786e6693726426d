"""KeepLoRA++ method core: plain torch, tensors in and tensors out (no DeepSpeed/transformers/PEFT).

See ``docs/method.md`` for the algorithm box these functions implement.
"""
from .init import residual_init, residual_init_from_sketch
from .record import MergeRecord, half_ulp
from .scaling import SCHEDULES, layer_scales, register_schedule
from .sketch import GradientSketch, SketchResult
from .subspace import (
           covariance_root,
           fragment_coefficients,
           grow_basis,
           grow_basis_from_covariance,
           grow_basis_from_sketch,
           leak,
           orthonormal_columns,
           principal_basis,
           project_off,
)

__all__ = ["principal_basis", "residual_init", "residual_init_from_sketch", "grow_basis", "grow_basis_from_covariance",
           "grow_basis_from_sketch", "GradientSketch", "SketchResult", "layer_scales", "register_schedule", "SCHEDULES",
           "project_off", "orthonormal_columns", "leak", "covariance_root", "fragment_coefficients", "MergeRecord",
           "half_ulp"]
