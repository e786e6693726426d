"""Folders that say whether they are complete: every file's size and checksum, written when the folder is
sealed and checked before it is loaded, so a damaged checkpoint is named in one line instead of failing
deep inside a loader (or, without ``config.json``, silently building a default 7B model)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

__all__ = ["seal", "damage", "SEAL"]

SEAL = "sealed.json"


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def seal(folder: Path) -> None:
    """Record every file under ``folder`` (size, sha256); call on the finished folder before renaming it."""
    files = {str(p.relative_to(folder)): [p.stat().st_size, _sha(p)]
             for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.name != SEAL}
    (Path(folder) / SEAL).write_text(json.dumps(files, indent=1))


def damage(folder: Path, required: tuple[str, ...] = ()) -> str | None:
    """What is wrong with a folder (missing, truncated or changed file), or None when it is complete.

    A folder sealed before this check existed has no record: only ``required`` files are checked then.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} does not exist"
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        return f"{folder} has no {missing[0]}"
    record = folder / SEAL
    if not record.is_file():
        return None
    try:
        files = json.loads(record.read_text())
    except ValueError:
        return f"{record} is not valid JSON"
    for name, (size, sha) in files.items():
        p = folder / name
        if not p.is_file():
            return f"{folder} has no {name}"
        if p.stat().st_size != size or _sha(p) != sha:
            return f"{p} is truncated or changed since it was saved"
    return None
