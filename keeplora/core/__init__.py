"""KeepLoRA++ method core: plain torch, tensors in and tensors out (no DeepSpeed/transformers/PEFT).

See ``docs/method.md`` for the algorithm box these functions implement.
"""
from .init import residual_init
from .scaling import SCHEDULES, layer_scales, register_schedule
from .subspace import (
           covariance_root,
           fragment_coefficients,
           grow_basis,
           leak,
           orthonormal_columns,
           principal_basis,
           project_off,
)

__all__ = ["principal_basis", "residual_init", "grow_basis", "layer_scales", "register_schedule", "SCHEDULES",
           "project_off", "orthonormal_columns", "leak", "covariance_root", "fragment_coefficients"]
