"""Entry point behind ``launch/train.sh``: ``RECIPE.yaml [key.sub=value ...]``.

    deepspeed launch/train.sh recipes/video_seq.yaml            # all local accelerators
    bash launch/train.sh recipes/smoke_image_seq.yaml lora.r=4   # one process
    python -m keeplora.cli recipes/smoke_image_seq.yaml dry_run=true
"""
from __future__ import annotations

import logging
import os
import sys

import yaml

__all__ = ["main"]

USAGE = "usage: launch/train.sh RECIPE.yaml [key.sub=value ...]   (dry_run=true validates and exits)"


def _strip_launcher_args(argv: list[str]) -> list[str]:
    """Drop ``--local_rank=N`` / ``--local_rank N`` that the deepspeed launcher appends."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("--local_rank=") or arg.startswith("--local-rank="):
            continue
        elif arg in ("--local_rank", "--local-rank"):
            skip = True
        else:
            out.append(arg)
    return out


def _quiet_logs(rank: int) -> None:
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for name in ("DeepSpeed", "deepspeed", "torch.distributed", "transformers"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    args = _strip_launcher_args(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    from .checks import check_files
    from .config import load_recipe
    from .errors import UserError
    try:
        recipe = load_recipe(args[0], args[1:])
        check_files(recipe)
        if recipe.dry_run:
            print(yaml.safe_dump(recipe.model_dump(), sort_keys=False), end="")
            print(f"{args[0]}: recipe and all {2 * len(recipe.tasks) + len(recipe.general)} task files OK (dry run)")
            return 0
        return _train(recipe)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _lock(recipe, rank: int):
    """Rank 0 takes ``output_dir``'s run lock; every rank stops with its error if that fails."""
    from .errors import UserError
    from .run_lock import RunLock
    from .step_loop import any_rank
    lock, error = RunLock(recipe.output_dir) if rank == 0 else None, None
    if lock is not None:
        try:
            note = lock.acquire()
            if note:
                print(note)
        except UserError as exc:
            error = str(exc)
    if any_rank(error is not None):
        raise UserError(error or f"output_dir {recipe.output_dir} is in use by another run (see rank 0)")
    return lock


def _train(recipe) -> int:
    from .dist import check_precision, init_distributed, shutdown
    from .trainer import ContinualTrainer
    info = init_distributed()
    _quiet_logs(info.rank)
    lock = None
    try:
        try:
            check_precision(recipe.model.dtype, info.on_cpu)    # before any model is loaded
            lock = _lock(recipe, info.rank)
            ContinualTrainer(recipe, info).run()
        finally:
            if lock is not None:
                lock.release()
    except BaseException:
        shutdown(barrier=False)
        raise
    shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
