"""One import direction between the parts of ``keeplora``: no cycle, function-level imports included.

The layering this checks: errors / registry / config ← data (records, chat templates, media, collation)
← models (adapters, the Encoder) ← core, statistics, methods ← trainer, cli. A cycle hidden by an import
inside a function is still a cycle: it is what makes a module impossible to read or test on its own."""
import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "keeplora"


def _unit(module: str) -> str:
    """``keeplora.models.base`` → ``models``: a subpackage, or a top-level module, is one unit."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path) -> set[str]:
    rel = path.relative_to(ROOT).with_suffix("")
    here = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("keeplora.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("keeplora.") or target == "keeplora":
                names = [f"{target}.{a.name}" for a in node.names] if target == "keeplora" else [target]
                out |= set(names)
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        src = _unit(rel)
        graph.setdefault(src, set()).update(_unit(t) for t in _imports(path) if _unit(t) != src)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_the_parts_of_keeplora():
    graph = _graph()
    assert {"config", "data", "models", "trainer"} <= set(graph)
    cycle = _cycle(graph)
    assert cycle is None, " → ".join(cycle)


def test_data_knows_no_model_and_config_knows_neither():
    graph = _graph()
    assert "models" not in graph["data"] and not graph["config"] & {"data", "models", "trainer"}


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
