"""``keeplora``: the project's commands for a pip install without a clone.

    keeplora recipes list                      # the shipped recipes, with their first comment line
    keeplora recipes cp ucit_seq [DEST.yaml]   # a copy to edit (default ./recipes/ucit_seq.yaml), with its
                                               # DeepSpeed JSON at the path the recipe names
    keeplora train RECIPE.yaml [key=value ...] # one process; every GPU: deepspeed $(keeplora launcher) RECIPE
    keeplora launcher                          # the installed launch/train.sh (for deepspeed / torchrun)
    keeplora eval ...  | keeplora report ...   # python -m eval.run / python -m eval.report
    keeplora prep NAME ...                     # a data converter: python -m data_prep.NAME (ucit, dcl, coin, …)

The shipped recipes name their data and DeepSpeed files relative to the working directory, as in a clone.
"""
from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import yaml

__all__ = ["main", "shipped_recipes"]

CONVERTERS = ("ucit", "dcl", "coin", "cl_vista", "mvbench", "pope", "mme", "mmbench", "seed_bench", "mtil",
              "tiny_synth", "tiny_mtil", "tinycl", "tinycl_base", "tinycl_real")


def _package_dir(name: str) -> Path:
    """The folder of a data package. ``keeplora.recipes`` and ``keeplora.launch`` are namespace packages
    (no ``__init__.py``), whose path may also hold an editable install's hook: its first real folder."""
    for entry in importlib.import_module(name).__path__:
        if Path(entry).is_dir():
            return Path(entry)
    raise FileNotFoundError(f"{name}: not installed with this package (reinstall keeplora)")


def shipped_recipes() -> dict[str, Path]:
    """Recipe name → its file in the installed package (``recipes/`` of a clone)."""
    return {p.stem: p for p in _package_dir("keeplora.recipes").glob("*.yaml")}


def _shipped_file(relative: str) -> Path:
    """A file the shipped recipes name as ``recipes/…`` (their DeepSpeed JSONs)."""
    return _package_dir("keeplora.recipes") / Path(relative).relative_to("recipes")


def _summary(path: Path) -> str:
    """The recipe's first line of prose (its header comment, past a leading command line)."""
    lines = [line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#")]
    prose = [line for line in lines if line and line.split()[0] not in ("python", "deepspeed", "bash", "pip")]
    return prose[0] if prose else ""


def _list() -> int:
    recipes = shipped_recipes()
    width = max(map(len, recipes))
    for name in sorted(recipes):
        print(f"{name:<{width}}  {_summary(recipes[name])}")
    return 0


def _copy(name: str, dest: str | None) -> int:
    recipes = shipped_recipes()
    if name.removesuffix(".yaml") not in recipes:
        print(f"error: no shipped recipe {name!r}; `keeplora recipes list` shows them", file=sys.stderr)
        return 2
    src = recipes[name.removesuffix(".yaml")]
    target = Path(dest or f"recipes/{src.name}")
    if target.exists():
        print(f"error: {target} exists; give another destination", file=sys.stderr)
        return 2
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    print(f"wrote {target}")
    ds = (yaml.safe_load(src.read_text()).get("deepspeed") or {}).get("config")
    if ds and ds.startswith("recipes/") and not Path(ds).exists():     # where the recipe's relative path points
        Path(ds).parent.mkdir(parents=True, exist_ok=True)
        Path(ds).write_bytes(_shipped_file(ds).read_bytes())
        print(f"wrote {ds}")
    return 0


def _recipes(args: list[str]) -> int:
    if args[:1] == ["list"]:
        return _list()
    if args[:1] == ["cp"] and len(args) in (2, 3):
        return _copy(args[1], args[2] if len(args) == 3 else None)
    print("usage: keeplora recipes list | keeplora recipes cp NAME [DEST.yaml]", file=sys.stderr)
    return 2


def _module_main(module: str, args: list[str]) -> int:
    sys.argv = [module, *args]
    return importlib.import_module(module).main(args) or 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command, rest = (args[0], args[1:]) if args else ("-h", [])
    if command == "recipes":
        return _recipes(rest)
    if command == "train":
        from .cli import main as train
        return train(rest)
    if command == "launcher":
        print((_package_dir("keeplora.launch") / "train.sh").resolve())
        return 0
    if command in ("eval", "report"):
        return _module_main(f"eval.{'run' if command == 'eval' else 'report'}", rest)
    if command == "prep" and rest and rest[0] in CONVERTERS:
        return _module_main(f"data_prep.{rest[0]}", rest[1:])
    print(__doc__.split("\n\n")[1], file=sys.stderr if command not in ("-h", "--help") else sys.stdout)
    return 0 if command in ("-h", "--help") else 2


if __name__ == "__main__":
    raise SystemExit(main())
