"""Training and evaluation scalars on one global step, for TensorBoard and (``report_to``) Weights & Biases.

The step counts optimizer steps over the whole sequence, so a task's curve continues its predecessor's
and a resumed run writes its steps where the interrupted one stopped (the finished tasks' step counts
are kept in ``metrics.json``). Evaluation after a task is logged at that task's last step, zero-shot at 0.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import UserError

__all__ = ["ScalarSink"]


class ScalarSink:
    """Rank 0's scalar writers; ``log`` is a no-op elsewhere."""

    def __init__(self, out: Path, report_to: list[str], is_main: bool, config: dict | None = None):
        self.out, self.report_to, self.is_main, self.config = Path(out), list(report_to), is_main, config
        self._tb = self._wandb = None
        if is_main and "wandb" in self.report_to:
            try:
                import wandb  # noqa: F401
            except ImportError:
                raise UserError("report_to: wandb needs the wandb extra: pip install 'keeplora[wandb]' "
                                "(or drop wandb from report_to)") from None

    def log(self, values: dict[str, float], step: int) -> None:
        if not self.is_main or not values:
            return
        if "tensorboard" in self.report_to:
            if self._tb is None:
                from torch.utils.tensorboard import SummaryWriter
                self._tb = SummaryWriter(str(self.out / "tb"))
            for tag, value in values.items():
                self._tb.add_scalar(tag, value, step)
            self._tb.flush()
        if "wandb" in self.report_to:
            self._wandb_run().log(values, step=step)

    def _wandb_run(self):
        """One W&B run per output directory (its id is derived from the path), resumed with the run."""
        if self._wandb is None:
            import wandb
            run_id = hashlib.sha1(str(self.out.resolve()).encode()).hexdigest()[:16]
            self._wandb = wandb.init(project=os.environ.get("WANDB_PROJECT", "keeplora"), name=self.out.name,
                                     id=run_id, resume="allow", dir=str(self.out), config=self.config)
        return self._wandb

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
