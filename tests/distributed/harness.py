"""Run a module-level function on 2 ranks of plain torch + gloo (no DeepSpeed, no launcher)."""
from __future__ import annotations

import os
import socket
from queue import Empty

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plain(obj):
    """Tensors become numpy arrays: torch's shared-memory handles die with the worker process."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    return obj


def _entry(rank: int, world: int, port: int, queue, fn, args) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        queue.put((rank, _plain(fn(rank, world, *args))))
    finally:
        dist.destroy_process_group()


def run_ranks(fn, *args, world: int = 2) -> list:
    """Results of ``fn(rank, world, *args)`` ordered by rank."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    context = mp.start_processes(_entry, args=(world, free_port(), queue, fn, args), nprocs=world, join=False,
                                 start_method="spawn")
    results = []                                       # read before joining: a full pipe blocks the writer
    while len(results) < world:
        try:
            results.append(queue.get(timeout=1))
        except Empty:
            context.join(timeout=0)                    # re-raises a worker's exception instead of hanging
    while not context.join():
        pass
    return [r for _, r in sorted(results, key=lambda item: item[0])]
