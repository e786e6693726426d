"""One run per ``output_dir``: a lock file naming its holder, so a second run is refused instead of mixing
its files into the first one's, and a lock left by a dead process is taken over with a message."""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from .errors import UserError

__all__ = ["RunLock", "LOCK"]

LOCK = ".run.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                      # exists, owned by someone else
        return True
    return True


class RunLock:
    """``with RunLock(out):`` — held by the process that creates the lock file; released on exit."""

    def __init__(self, out: Path):
        self.path = Path(out) / LOCK
        self.held = False

    def acquire(self) -> str | None:
        """Take the lock; returns a note when a stale lock was taken over, raises when the run is live."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        note = None
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                note = self._stale_or_raise()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%F %T")}, f)
            self.held = True
            return note
        raise UserError(f"could not take the run lock {self.path}; delete it if no run uses {self.path.parent}")

    def _stale_or_raise(self) -> str:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            holder = {}
        pid, host = holder.get("pid"), holder.get("host")
        if host == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
            self.path.unlink(missing_ok=True)
            return f"took over the stale run lock of dead process {pid} ({self.path})"
        raise UserError(f"output_dir {self.path.parent} is in use by pid {pid} on {host} since "
                        f"{holder.get('since', '?')}; wait for that run, or use another output_dir (if it is "
                        f"gone, delete {self.path})")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
