"""Read LLaVA conversation files (training) and test files, as they are found in the wild.

Training: JSON list or JSONL of ``{"id", "image"|"video": path or [paths], "conversations":
[{"from": "human", "value": "<image>\\n…"}, {"from": "gpt", "value": "…"}, …]}``.
Test: JSONL (or JSON list) of ``{"question_id", "image"|"video", "prompt", "answer"|"answers"}``.
Every problem is a ``DataError`` naming the file and the sample.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from .chat import PLACEHOLDER

__all__ = ["Sample", "DataError", "read_train_file", "read_test_file", "PLACEHOLDER"]

_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


class DataError(UserError):
    """A data problem phrased as one line: file, sample id, what is wrong, what to do."""


@dataclass
class Sample:
    """One sample: (question, answer) turns, its media in placeholder order, and where it came from."""
    id: str
    turns: list[tuple[str, str]]
    media: list[tuple[str, Path]] = field(default_factory=list)   # ("image"|"video", path)
    answers: list[str] = field(default_factory=list)              # test only: all accepted answers
    scorer: str | None = None                                     # test only: overrides the task's scorer
    system: str | None = None                                     # the sample's own system turn, if it has one
    task: str | None = None                                       # the recipe task it was read for


def _load_records(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if path.suffix == ".jsonl":
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {n} is not valid JSON ({exc.msg})") from None
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of samples, got {type(data).__name__}")
    return data


def _media(rec: dict, root: Path, where: str) -> list[tuple[str, Path]]:
    """LLaVA's ``image``/``video`` (a path or a list) or LLaMA-Factory / ms-swift's ``images``/``videos``."""
    out = []
    for kind in ("image", "video"):
        value = rec.get(kind, rec.get(kind + "s"))
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                raise DataError(f"{where}: {kind} must be a path or a list of paths")
            out.append((kind, root / item))
    return out


def _place_media(turns: list[tuple[str, str]], media: list[tuple[str, Path]], where: str) -> list[tuple[str, str]]:
    """Check placeholders against media; with none in the text, put them first (LLaVA's convention)."""
    found = [m.group(1) for q, _ in turns for m in PLACEHOLDER.finditer(q)]
    kinds = [k for k, _ in media]
    if not found and media:
        prefix = "".join(f"<{k}>\n" for k in kinds)
        return [(prefix + turns[0][0], turns[0][1])] + turns[1:]
    if found != kinds:
        raise DataError(f"{where}: the text has placeholders {found} but the sample gives media {kinds}; "
                        f"make them match one to one")
    return turns


def _system(rec: dict, conv: list, key: str, where: str) -> tuple[str | None, list]:
    """A leading system turn (``messages`` / ``conversations`` role or ``from`` system) or a top-level
    ``system`` string (LLaMA-Factory's sharegpt), split off the turns."""
    system = rec.get("system")
    first = conv[0] if isinstance(conv[0], dict) else {}
    if first.get("role", first.get("from")) == "system":
        system, conv = first.get("content", first.get("value")), conv[1:]
    if system is not None and not isinstance(system, str):
        raise DataError(f"{where}: the system turn of '{key}' must be a string")
    return system or None, conv


def _turns(rec: dict, where: str) -> tuple[list[tuple[str, str]], str | None]:
    key = "conversations" if "conversations" in rec else "messages"
    conv = rec.get(key)
    if not isinstance(conv, list) or not conv:
        raise DataError(f"{where}: missing 'conversations' list (LLaVA) or 'messages' list (LLaMA-Factory, ms-swift)")
    system, conv = _system(rec, conv, key, where)
    turns, question = [], None
    for i, msg in enumerate(conv):
        msg = msg if isinstance(msg, dict) else {}
        role = _ROLES.get(str(msg.get("from", msg.get("role", ""))))
        value = msg.get("value", msg.get("content"))
        if role is None or not isinstance(value, str):
            raise DataError(f"{where}: {key}[{i}] needs 'from' in human|gpt and a string 'value' (or 'role' in "
                            f"user|assistant and a string 'content')")
        if role == "user":
            question = value if question is None else question + "\n" + value
        elif question is None:
            raise DataError(f"{where}: {key}[{i}] is an answer with no question before it")
        elif not value.strip():
            raise DataError(f"{where}: {key}[{i}] is an empty answer (it would train a bare end of "
                            f"sequence); give the answer text or drop the turn")
        else:
            turns.append((question, value))
            question = None
    if not turns:
        raise DataError(f"{where}: conversation without an answer turn (nothing to learn from)")
    if question is not None:
        raise DataError(f"{where}: the conversation ends on a human turn with no answer; add the answer or drop "
                        f"the last turn")
    return turns, system


def _read(path: str | Path, media_root, id_keys: tuple[str, ...], parse, task: str | None) -> list[Sample]:
    """Shared loop: resolve media against ``media_root`` (default: the file's folder), name each sample."""
    path = Path(path)
    root = Path(media_root) if media_root else path.parent
    samples, seen = [], set()
    for i, rec in enumerate(_load_records(path)):
        if not isinstance(rec, dict):
            raise DataError(f"{path}: item {i} is not a JSON object")
        sid = str(next((rec[k] for k in id_keys if k in rec), i))
        where = f"{path} sample {sid!r}"
        if sid in seen and parse is _test_sample:
            raise DataError(f"{where}: duplicate {id_keys[0]} (scores and resumed predictions are keyed by it); "
                            f"make the ids unique")
        seen.add(sid)
        sample = parse(rec, sid, _media(rec, root, where), where)
        sample.task = task
        samples.append(sample)
    if not samples:
        raise DataError(f"{path}: empty split (no samples)")
    return samples


def _train_sample(rec: dict, sid: str, media, where: str) -> Sample:
    turns, system = _turns(rec, where)
    return Sample(sid, _place_media(turns, media, where), media, system=system)


def _test_sample(rec: dict, sid: str, media, where: str) -> Sample:
    answers = rec.get("answers", rec.get("answer"))
    answers = answers if isinstance(answers, list) else [answers]
    if not isinstance(rec.get("prompt"), str) or any(not isinstance(a, str) for a in answers):
        raise DataError(f"{where}: needs a string 'prompt' and 'answer' (or a list 'answers')")
    if not answers or not any(a.strip() for a in answers):
        raise DataError(f"{where}: no reference answer ('answers' is empty or blank); give one, or drop the sample")
    missing = next((p for _, p in media if not p.is_file()), None)
    if missing is not None:
        raise DataError(f"{where}: media file {missing} not found (test media are checked before training); "
                        f"fix the path or media_root")
    scorer = rec.get("scorer")
    if scorer is not None and not isinstance(scorer, str):
        raise DataError(f"{where}: 'scorer' must be a scorer name")
    return Sample(sid, _place_media([(rec["prompt"], "")], media, where), media, answers, scorer)


def read_train_file(path: str | Path, media_root: str | Path | None = None, task: str | None = None) -> list[Sample]:
    return _read(path, media_root, ("id",), _train_sample, task)


def read_test_file(path: str | Path, media_root: str | Path | None = None, task: str | None = None) -> list[Sample]:
    return _read(path, media_root, ("question_id", "id"), _test_sample, task)
