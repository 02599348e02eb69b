"""The house has no import circles and every import points down (DESIGN.md: a lower layer never imports a
higher one). Read from the code's own `ast`, so an import hidden inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
PACKAGE = ENGINE / "stereofoley"

# Lowest first. A module may import from its own layer's other packages only where listed in PEERS.
LAYERS = [
    {"stereofoley", "stereofoley.errors"},
    {"stereofoley.config", "stereofoley.files", "stereofoley.vocabulary"},
    {"stereofoley.audio"},
    {"stereofoley.spatial"},
    {"stereofoley.vision", "stereofoley.sources", "stereofoley.timeline", "stereofoley.results"},
    {"stereofoley.options"},
    {"stereofoley.usecases"},
    {"stereofoley.jobs", "stereofoley.evaluation", "stereofoley.install", "stereofoley.hosts"},
    {"stereofoley.transport", "stereofoley.demo"},
    {"stereofoley.commands"},
    {"stereofoley.cli"},
]
PEERS = set()  # (importer area, imported area) pairs allowed within one layer
# Imports inside functions: only for heavy or optional third-party libraries (start-up time, optional extras).
LAZY_ALLOWED = {"torch", "ultralytics", "av", "cv2", "matplotlib", "dask", "distributed", "pyo", "lupa"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    """(imported module, line, inside a function) for every import of the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function |= {id(n) for n in ast.walk(node) if n is not node}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in in_function
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                is_module = (ENGINE / (full.replace(".", "/") + ".py")).exists() or (ENGINE / full.replace(".", "/")).is_dir()
                yield (full if is_module else target), node.lineno, id(node) in in_function


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        mod = module_name(path)
        edges[mod] = {t for t, _, _ in imports(path) if (t == "stereofoley" or t.startswith("stereofoley.")) and t != mod}
    return edges


def area(mod: str) -> str:
    """The layer entry a module belongs to: its first-level package or module under stereofoley."""
    parts = mod.split(".")
    return ".".join(parts[:2])


def layer_of(mod: str) -> int:
    for i, layer in enumerate(LAYERS):
        if area(mod) in layer or mod in layer:
            return i
    raise AssertionError(f"{mod} is in no layer of the test's LAYERS; place it")


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circles():
    edges = graph()
    assert len(edges) > 40  # the walk found the engine
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle)


def test_every_import_points_down():
    upward = []
    for mod, targets in graph().items():
        for target in targets:
            a, b = area(mod), area(target)
            if a == b or target == "stereofoley":
                continue
            if layer_of(target) > layer_of(mod) or (layer_of(target) == layer_of(mod) and (a, b) not in PEERS):
                upward.append(f"{mod} -> {target}")
    assert not upward, "imports that do not point down:\n" + "\n".join(sorted(upward))


def test_function_level_imports_only_for_heavy_optional_libraries():
    lazy = []
    for path in PACKAGE.rglob("*.py"):
        for target, line, in_function in imports(path):
            if in_function and target.split(".")[0] not in LAZY_ALLOWED:
                lazy.append(f"{path.relative_to(ENGINE)}:{line} imports {target}")
    assert not lazy, "function-level imports of light or own modules:\n" + "\n".join(sorted(lazy))
