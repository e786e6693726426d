"""The only package that imports DeepSpeed: process groups, the config builder, the engine."""
from .ds_config import build_ds_config, check_precision
from .engine import make_engine
from .runtime import DistInfo, init_distributed, shutdown

__all__ = ["DistInfo", "init_distributed", "shutdown", "build_ds_config", "check_precision", "make_engine"]
