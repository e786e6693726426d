"""Everything a recipe names, checked before a model loads (``dry_run=true`` runs exactly this).

Each check yields its problems as one line each (file, key or sample, and what to do); ``check_files`` runs
them all, so one dry run lists every problem, and a run stops on the first with a count of the rest.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .config import Recipe, RecipeError, resolve_path
from .errors import UserError

__all__ = ["check_files"]


def _hint(recipe: Recipe) -> str:
    return f" — create it with: {recipe.data.prepare}" if recipe.data.prepare else ""


def _entries(recipe: Recipe) -> Iterator[tuple[str, object, tuple[str, ...]]]:
    """Every task and general-suite entry with its recipe key and the data files it names."""
    for i, task in enumerate(recipe.tasks):
        yield f"tasks[{i}]", task, ("train", "test")
    for i, task in enumerate(recipe.general):
        yield f"general[{i}]", task, ("test",)


def _task_files(recipe: Recipe, base: Path) -> Iterator[str]:
    hint = _hint(recipe)
    for where, task, keys in _entries(recipe):
        if task.media_root and not resolve_path(task.media_root, base).is_dir():
            then = f", then run: {recipe.data.prepare}" if recipe.data.prepare else ""
            yield (f"{where}.media_root ({task.name}): dataset folder {resolve_path(task.media_root, base)} "
                   f"not found; download the dataset there{then}")
        if task.classes and not resolve_path(task.classes, base).is_file():
            yield f"{where}.classes ({task.name}): file {resolve_path(task.classes, base)} not found{hint}"
        for key in keys:
            p = resolve_path(getattr(task, key), base)
            if not p.is_file():
                yield f"{where}.{key} ({task.name}): file {p} not found{hint}"
    for i, path in enumerate(recipe.subspace.reference.train if recipe.subspace.reference else []):
        if not resolve_path(path, base).is_file():
            yield f"subspace.reference.train[{i}]: file {resolve_path(path, base)} not found{hint}"


def _task_contents(recipe: Recipe, base: Path) -> Iterator[str]:
    """Every sample of every file that exists: ids, answers, turns, test media, per-sample scorers."""
    from eval.likelihood import SCORER as LIKELIHOOD
    from eval.scorers import check_ids, check_scorer

    from .data import read_test_file, read_train_file
    readers = {"train": read_train_file, "test": read_test_file}
    for where, task, keys in _entries(recipe):
        if task.scorer == LIKELIHOOD:                     # a plain text, scored by likelihood (general suite only)
            if not where.startswith("general"):
                yield f"{where}.scorer ({task.name}): {LIKELIHOOD} scores a general-suite text, not a trained task"
            continue
        media_root = resolve_path(task.media_root, base) if task.media_root else None
        if media_root is not None and not media_root.is_dir():
            continue                                      # reported once by _task_files, not per sample
        for key in keys:
            path, read = getattr(task, key), readers[key]
            if not resolve_path(path, base).is_file():
                continue
            try:
                samples = read(resolve_path(path, base), media_root, task.name)
                for s in samples if key == "test" else []:
                    if s.scorer is not None:
                        check_scorer(s.scorer, f"{path} sample {s.id!r}")
                if key == "test":
                    check_ids(task.scorer, [s.id for s in samples], f"{where}.test ({task.name}) {path}")
            except UserError as exc:
                yield str(exc)
        try:
            check_scorer(task.scorer, f"{where}.scorer ({task.name})")
        except UserError as exc:
            yield str(exc)


def _model(recipe: Recipe, base: Path) -> Iterator[str]:
    """A local checkpoint that is not there (a path, or a name whose first folder exists here) and the family."""
    name = recipe.model.name_or_path
    looks_local = name and (name.startswith((".", "/", "~")) or name.count("/") > 1
                            or (base / name.split("/")[0]).is_dir())
    if looks_local and not resolve_path(name, base).exists():
        yield (f"model.name_or_path: local checkpoint {resolve_path(name, base)} not found "
               f"(hub ids have the form org/name){_hint(recipe)}")
    tok = recipe.model.tokenizer
    if tok and not name and not resolve_path(tok, base).is_dir():
        yield f"model.tokenizer: folder {resolve_path(tok, base)} not found (a saved tokenizer, or null for byte-level)"
    from .methods import METHODS
    from .models import get_adapter
    try:
        METHODS.get(recipe.method.name)
        get_adapter(recipe.model.family).check_recipe(recipe)
    except UserError as exc:
        yield str(exc)


def _deepspeed(recipe: Recipe, base: Path) -> Iterator[str]:
    if not recipe.deepspeed.config:
        return
    p = resolve_path(recipe.deepspeed.config, base)
    try:
        cfg = json.loads(p.read_text())
    except FileNotFoundError:
        yield f"deepspeed.config: file {p} not found"
        return
    except json.JSONDecodeError as exc:
        yield f"deepspeed.config: {p} is not valid JSON (line {exc.lineno}: {exc.msg})"
        return
    from .dist.ds_config import check_autocast, check_zero_block, misspelt_keys
    yield from misspelt_keys(cfg, str(p))
    try:
        check_zero_block(cfg, str(p))
        check_autocast(cfg, recipe.model.dtype, str(p))
    except UserError as exc:
        yield str(exc)


def check_files(recipe: Recipe, base: Path = Path(".")) -> None:
    """The recipe's problems in one ``RecipeError``: with ``dry_run`` every problem, one line each; otherwise
    the first, and how many more there are."""
    problems = [p for check in (_task_files, _task_contents, _model, _deepspeed) for p in check(recipe, base)]
    if not problems:
        return
    if recipe.dry_run:
        raise RecipeError(problems[0] + "".join(f"\n  also: {p}" for p in problems[1:]))
    more = f" (+{len(problems) - 1} more problem(s): dry_run=true lists them all)" if len(problems) > 1 else ""
    raise RecipeError(problems[0] + more)
