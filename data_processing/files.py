"""Files between pipeline steps: the project's error, atomic writes, arrays, JSON, CLI wrapper.

Every step reads and writes files on disk. Two rules hold everywhere:

* bad input raises :class:`PipelineError` whose message names the file and the problem in one
  line; :func:`run_cli` prints it as ``error: <message>`` and exits with status 1;
* outputs are written to a hidden temporary name beside the target and renamed when complete
  (:func:`atomic_path`), so an interrupted step never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class PipelineError(Exception):
    """Bad input or a broken contract between steps; the message is one line naming the file."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    The temporary name ends with the final name, so libraries that choose a format by its
    ending (``np.save``, ``matplotlib``, Keras' ``.weights.h5``) behave as for the final name.
    A directory is renamed too.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".partial-{os.getpid()}-{path.name}")
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def save_array(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Save an array atomically: ``.npy`` in binary, ``.txt`` as whitespace-separated text."""
    path = Path(path)
    array = np.asarray(array)
    with atomic_path(path) as tmp:
        if path.suffix == ".npy":
            np.save(tmp, array)
        elif path.suffix == ".txt":
            np.savetxt(tmp, array.reshape(len(array), -1) if array.ndim > 2 else array, fmt="%.6f")
        else:
            raise PipelineError(f"{path}: unknown array format {path.suffix!r} (use .npy or .txt)")
    return path


def load_array(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Load a ``.npy`` or ``.txt`` array, with a one-line error for a missing or broken file.

    Parameters
    ----------
    path : path-like
        The file; its extension chooses the format.
    ndim : int, optional
        Expected number of dimensions (a ``.txt`` file is always read as 2-D).
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif path.suffix == ".txt":
            array = np.loadtxt(path, ndmin=2, dtype=np.float32)
        else:
            raise PipelineError(f"{path}: unknown array format {path.suffix!r} (use .npy or .txt)")
    except (ValueError, OSError, EOFError) as error:
        raise PipelineError(f"{path}: not a readable {path.suffix} array ({error})") from None
    if ndim is not None and array.ndim != ndim:
        raise PipelineError(f"{path}: expected a {ndim}-D array, found shape {array.shape}")
    return array


def write_json(path: str | os.PathLike, data: object) -> Path:
    """Write JSON atomically with a stable, readable layout."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def read_json(path: str | os.PathLike) -> dict:
    """Read a JSON object, with a one-line error for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: malformed JSON ({error})") from None


def run_cli(main: Callable[[list[str] | None], int | None]) -> None:
    """Run a step's ``main`` as a command: one-line errors, exit status, logging to stderr."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        status = main(None)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(status or 0)
