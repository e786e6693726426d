"""The only package that imports DeepSpeed: process groups, the config builder, the engine."""
from .ds_config import build_ds_config
from .engine import make_engine
from .runtime import DistInfo, init_distributed, is_main, shutdown

__all__ = ["DistInfo", "init_distributed", "shutdown", "is_main", "build_ds_config", "make_engine"]
