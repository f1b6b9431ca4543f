"""skdisent.datasets stands alone: it imports nothing else from skdisent, and optional extras lazily."""

import ast
from pathlib import Path

import skdisent.datasets

FOLDER = Path(skdisent.datasets.__file__).parent
OPTIONAL = {"h5py", "PIL", "pandas", "matplotlib"}


def module_level_imports(path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from ((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def test_datasets_imports_only_its_own_modules_and_the_runtime_dependencies():
    for path in FOLDER.glob("*.py"):
        for module, level in module_level_imports(path):
            assert level in (0, 1), f"{path.name} imports from outside skdisent.datasets: {module}"
            assert not module.startswith("skdisent"), f"{path.name} imports {module}"
            assert module.split(".")[0] not in OPTIONAL, f"{path.name} imports the optional {module} eagerly"


def test_every_public_name_has_a_numpydoc_docstring():
    for name in skdisent.datasets.__all__:
        doc = getattr(skdisent.datasets, name).__doc__
        assert doc and "Parameters\n    ----------" in doc and "Returns\n    -------" in doc, name
