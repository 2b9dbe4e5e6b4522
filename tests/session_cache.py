"""Build expensive test data once per session: ``cached(tmp_path_factory, key, build)``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path


def cached(tmp_path_factory, key: str, build: Callable[[Path], None]) -> Path:
    """``build(dir)`` once per session under pytest's base temporary directory; the directory.

    A ``.done`` marker tells a finished build from an interrupted one, which is rebuilt.
    """
    root = tmp_path_factory.getbasetemp() / "cache" / key
    if not (root / ".done").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        build(root)
        (root / ".done").touch()
    return root
