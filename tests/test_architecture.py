"""The package's layout holds: imports point one way (DESIGN.md), no circles, small modules.

Every ``import`` of every module counts, those inside functions too: an import moved
into a function hides a circle from Python, not from this test.
"""

import ast
import importlib.util
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "skdisent"

# What each part may import from the rest of skdisent, besides itself (DESIGN.md's arrows).
# The modules named with a leading underscore at the top are leaves every part may use.
LEAVES = {"skdisent._warn", "skdisent._version", "skdisent._codec", "skdisent._model_file"}
ALLOWED = {
    "skdisent.metrics": set(),
    "skdisent.datasets": set(),
    "skdisent.nn": set(),
    "skdisent.engine": set(),
    "skdisent._data": set(),
    "skdisent._state_document": {"skdisent._data", "skdisent.engine"},
    "skdisent.base": {"skdisent._data", "skdisent._state_document", "skdisent.engine",
                      "skdisent.nn"},
    "skdisent.models": {"skdisent._data", "skdisent.base", "skdisent.engine", "skdisent.nn",
                        "skdisent.metrics"},
    # study -> models, evaluation, metrics, datasets (and what lies below them: the
    # engine's callbacks, model files); never plotting or the command line
    "skdisent.study": {"skdisent._data", "skdisent.engine", "skdisent.models",
                       "skdisent.evaluation", "skdisent.metrics", "skdisent.datasets",
                       "skdisent.io"},
}
# Modules no part below them may import.
ABOVE_MODELS = {"skdisent.io", "skdisent.evaluation", "skdisent.hierarchy", "skdisent.plotting",
                "skdisent.cli"}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def imports_of(path):
    """``(imported module, name taken from a package face or None)`` for every import."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full, None) if is_module(full) else (base, alias.name))
    return [(module, taken) for module, taken in found if module.split(".")[0] == "skdisent"]


GRAPH = {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def part_of(module):
    """The entry of ALLOWED (or ABOVE_MODELS) that ``module`` belongs to, if any."""
    for part in sorted({*ALLOWED, *ABOVE_MODELS}, key=len, reverse=True):
        if module == part or module.startswith(part + "."):
            return part
    return None


def test_no_import_circles():
    edges = {module: {target for target, _ in targets} & set(GRAPH)
             for module, targets in GRAPH.items()}
    state, circles = {}, []

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, circles


def test_no_module_takes_names_back_from_a_package_face_that_loads_it():
    offenders = [
        (module, f"{target}.{taken}")
        for module, targets in GRAPH.items() for target, taken in targets
        if taken is not None and module.startswith(target + ".")
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_imports_point_one_way(part):
    allowed = ALLOWED[part] | LEAVES | {part}
    wrong = sorted(
        (module, target) for module, targets in GRAPH.items() if part_of(module) == part
        for target, _ in targets
        if part_of(target) not in allowed and target not in allowed
        and not any(target.startswith(a + ".") for a in allowed)
    )
    assert not wrong, wrong


def test_leaves_import_only_leaves():
    for leaf in LEAVES:
        assert {target for target, _ in GRAPH[leaf]} <= LEAVES, leaf


def test_no_source_file_is_over_450_lines():
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 450}
    assert not long, long
