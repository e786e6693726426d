"""Process-group set-up for every launcher (deepspeed, torchrun, SLURM, or a plain single process).

On a CPU box: ``DS_ACCELERATOR=cpu``, the gloo backend, and DeepSpeed's shared-memory op disabled so
that nothing is JIT-compiled at start-up (it is only used by inference all-reduce).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_distributed", "shutdown"]


@dataclass
class DistInfo:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def on_cpu(self) -> bool:
        return self.device.type == "cpu"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single_process_env() -> None:
    """A plain ``python``/``bash`` run is a world of one; SLURM's srun variables are honoured."""
    if "RANK" in os.environ:
        return
    if "SLURM_PROCID" in os.environ and "MASTER_ADDR" in os.environ:
        os.environ.update(RANK=os.environ["SLURM_PROCID"], WORLD_SIZE=os.environ["SLURM_NTASKS"],
                          LOCAL_RANK=os.environ.get("SLURM_LOCALID", "0"))
        return
    os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=os.environ.get("MASTER_PORT", str(_free_port())))


def _set_threads() -> None:
    """Ranks sharing a CPU node split its cores instead of oversubscribing them."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    local = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("LOCAL_SIZE", "1")))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, local)))


def init_distributed() -> DistInfo:
    _single_process_env()
    use_cuda = torch.cuda.is_available() and os.environ.get("DS_ACCELERATOR", "cuda") != "cpu"
    if not use_cuda:
        os.environ["DS_ACCELERATOR"] = "cpu"
        _set_threads()
    import deepspeed
    import deepspeed.ops
    if not use_cuda:
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
    # reuses a process group that already exists (tests, or a caller that set one up)
    deepspeed.init_distributed(dist_backend="nccl" if use_cuda else "gloo", auto_mpi_discovery=False)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, device)


def shutdown(barrier: bool = True) -> None:
    """Barrier, then destroy the group: without it a rank can SIGABRT at exit and fail the job.

    After a failure the barrier is skipped (the other ranks may never reach it).
    """
    if dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()
