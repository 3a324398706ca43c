"""kit's layers, checked: every import in kit/ (top level and inside functions) points down.

The layer map is written once, in docs/architecture.md (the table under "The layers"); this
test reads it from there. Imports under `if TYPE_CHECKING:` are for type checkers only and
are not counted.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "kit"
ARCHITECTURE = REPO / "docs" / "architecture.md"


def layer_map() -> dict[str, int]:
    """Module (dotted, a package standing for all its modules) -> layer number, from the doc."""
    layers: dict[str, int] = {}
    for row in re.finditer(r"^\| L(\d) \| [^|]+ \| ([^|]+) \|$", ARCHITECTURE.read_text(), re.M):
        for name in re.findall(r"`([\w.]+)`", row.group(2)):
            layers[name] = int(row.group(1))
    return layers


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    """The layer of `module`: its own entry, else that of the nearest package listed."""
    parts = module.split(".")
    while parts:
        found = layers.get(".".join(parts))
        if found is not None:
            return found
        parts.pop()
    return None


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a kit module
    names: tuple[str, ...]  # names taken from it (`from M import a, b`)
    line: int


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _type_checking_only(child):
            yield from (n for part in child.orelse for n in [part, *_walk(part)])
            continue
        yield child
        yield from _walk(child)


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in _walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, (), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = tuple(a.name for a in node.names)
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            if submodules:  # `from kit import generated`: the module kit.generated
                found += [Import(module, sub, (), node.lineno) for sub in submodules]
                names = tuple(n for n in names if f"{base}.{n}" not in MODULES)
                if not names:
                    continue
            found.append(Import(module, base, names, node.lineno))
    return [i for i in found if i.imported == "kit" or i.imported.startswith("kit.")]


def test_every_module_of_kit_has_a_layer() -> None:
    layers = layer_map()
    assert layers, f"no layer table found in {ARCHITECTURE}"
    missing = [m for m in MODULES if layer_of(m, layers) is None]
    assert not missing, f"add these modules to the layer table of docs/architecture.md: {missing}"


def test_imports_point_down_the_layers() -> None:
    layers = layer_map()
    upward = []
    for module in MODULES:
        own = layer_of(module, layers)
        for found in imports_of(module):
            target = layer_of(found.imported, layers)
            if own is not None and target is not None and target > own:
                upward.append(
                    f"{module} (L{own}) imports {found.imported} (L{target}), line {found.line}"
                )
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_no_module_takes_a_private_name_of_another() -> None:
    private = []
    for module in MODULES:
        for found in imports_of(module):
            same_package = found.imported.rpartition(".")[0] == module.rpartition(".")[0]
            hidden = [n for n in found.names if n.startswith("_") and n != "__version__"]
            if any(part.startswith("_") for part in found.imported.split(".")):
                owner = found.imported.rpartition(".")[0]
                if module != owner and not module.startswith(owner + "."):
                    private.append(f"{module} imports the private module {found.imported}")
            if hidden and not same_package:
                private.append(f"{module} imports {hidden} from {found.imported}")
    assert not private, "\n".join(private)


def test_the_modules_of_kit_import_each_other_in_no_circle() -> None:
    graph = {m: {i.imported for i in imports_of(m) if i.imported in MODULES} for m in MODULES}
    for module in graph:  # a package's __init__ is imported with any of its modules
        graph[module] -= {module}
    circles = _strongly_connected(graph)
    assert not circles, "modules that import each other in a circle: " + "; ".join(
        " <-> ".join(sorted(c)) for c in circles
    )


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_the_checker_sees_imports_inside_functions_and_skips_type_checking_blocks(
    tmp_path: Path,
) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kit.cli import main\n"
        "def f():\n    from kit.widget import DagWidget\n"
    )
    tree = ast.parse(source)
    seen = [n.module for n in _walk(tree) if isinstance(n, ast.ImportFrom)]
    assert seen == ["typing", "kit.widget"]
