"""The layers of docs/architecture.md, checked on the source: no import goes up a layer and no
module imports a step script (a file with a ``__main__`` block)."""

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

# package -> layer (higher may import lower, never the reverse)
LAYERS = {"data_processing": 0, "training": 1, "evaluation": 2, "motion_repr_learning": 3,
          "speech_encoder": 3, "gesture_vae": 3, "ha2g": 3, "helpers": 4}
SOURCES = sorted(p for package in LAYERS for p in (REPO / package).rglob("*.py"))
TOP = [REPO / "train.py", REPO / "predict.py"]


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def is_step(path: Path) -> bool:
    return "__main__" in path.read_text()


STEPS = {module_name(p) for p in SOURCES + TOP if is_step(p)}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


@pytest.mark.parametrize("path", SOURCES + TOP, ids=module_name)
def test_no_module_imports_a_step_script(path):
    assert not (imports(path) & STEPS) - {module_name(path)}


@pytest.mark.parametrize("path", [p for p in SOURCES if not is_step(p)], ids=module_name)
def test_library_modules_import_only_their_layer_or_below(path):
    own = LAYERS[module_name(path).split(".")[0]]
    above = {name for name in imports(path)
             if name.split(".")[0] in LAYERS and LAYERS[name.split(".")[0]] > own}
    assert not above
