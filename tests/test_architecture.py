"""The package's shape: no import cycle among protobrain's modules, TensorFlow imported at
module level only inside protobrain/train/, and no module so long that it hides two jobs."""

import ast
from pathlib import Path

from conftest import REPO

PKG = REPO / "protobrain"
MAX_LINES = 600
# A longer module says why in a line starting with this, near its top.
LONG_NOTE = "Longer than 600 lines because"
HEAVY = ("tensorflow", "keras", "matplotlib")


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(REPO).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        mods[".".join(parts)] = f
    return mods


def _imported(mod: str, path: Path, node) -> list[str]:
    """The protobrain modules one import statement names (a module or a name in it)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = mod.split(".")
    if node.level:
        base = base[: len(base) - node.level + (1 if path.name == "__init__.py" else 0)]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    return [stem] + [f"{stem}.{a.name}" for a in node.names]


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> protobrain modules it imports anywhere (in functions too); importing
    a.b.c also runs a and a.b, so each import counts for its packages as well."""
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(m, path, node):
                    parts = target.split(".")
                    for k in range(1, len(parts) + 1):
                        t = ".".join(parts[:k])
                        if t in mods and t != m and not m.startswith(t + "."):
                            edges[m].add(t)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle():
    cycle = find_cycle(import_graph(_modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_tensorflow_is_imported_at_module_level_only_in_train():
    offenders = []
    for m, path in _modules().items():
        if m == "protobrain.train" or m.startswith("protobrain.train."):
            continue
        for node in ast.parse(path.read_text()).body:  # module level only
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in HEAVY]
    assert not offenders, offenders


def test_no_module_over_600_lines_without_a_note():
    long = []
    for path in _modules().values():
        lines = path.read_text().splitlines()
        if len(lines) > MAX_LINES and not any(LONG_NOTE in ln for ln in lines[:40]):
            long.append(f"{path.relative_to(REPO)}: {len(lines)} lines")
    assert not long, long
