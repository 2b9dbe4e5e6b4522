"""Build expensive test data once per session: ``cached(tmp_path_factory, key, build)``."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def cache_root(tmp_path_factory) -> Path:
    """The session's cache directory, shared by every pytest-xdist worker of the session.

    Under xdist each worker's base temporary directory is ``pytest-N/popen-gwK``: their parent
    is the session's. Without xdist the base directory is the session's own.
    """
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "cache"


def cached(tmp_path_factory, key: str, build: Callable[[Path], None]) -> Path:
    """``build(dir)`` once per session under :func:`cache_root`; the directory.

    A lock lets one worker build while the others wait for it; a ``.done`` marker tells a
    finished build from an interrupted one, which is rebuilt.
    """
    root = cache_root(tmp_path_factory) / key
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / ".done").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            build(root)
            (root / ".done").touch()
    return root
