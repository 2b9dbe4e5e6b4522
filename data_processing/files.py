"""Files between pipeline steps: the project's error, atomic writes, arrays, JSON, CLI wrapper.

Every step reads and writes files on disk. These rules hold everywhere:

* bad input raises :class:`PipelineError` whose message names the file and the problem in one
  line; :func:`run_cli` prints it as ``error: <message>`` and exits with status 1
  (:class:`PipelineErrors` carries several such lines, one per bad input);
* outputs are written to a hidden temporary name ``.partial-<pid>-<name>`` beside the target
  and renamed when complete (:func:`atomic_path`), so an interrupted step never leaves a
  half-written file behind; temporaries of dead processes are removed by the next write into
  the same directory (:func:`remove_stale_temporaries`), and directory scanners skip them
  (:func:`list_inputs`);
* a step that writes several outputs that belong together stages them and commits them in
  one rename (:func:`staged_outputs`); a commit cut short by a kill is completed by the next
  :func:`finish_commit`, so readers see the old complete set or the new complete set;
* :func:`directory_lock` keeps two steps from writing into one directory at the same time.

For tests, :func:`kill_point` makes the process kill itself (SIGKILL) at a chosen write.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

TEMPORARY_PREFIX = ".partial-"
COMMIT_DIR = ".commit"
MANIFEST = "manifest.json"
LOCK_FILE = ".lock"
KILL_AT_ENV = "PIPELINE_KILL_AT"
"""Environment variable: kill this process (SIGKILL) at the k-th :func:`kill_point` (1-based)."""
KILL_TRACE_ENV = "PIPELINE_KILL_TRACE"
"""Environment variable: a file to which every :func:`kill_point` appends ``k name``."""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
                  ".w64", ".rf64", ".caf", ".au", ".snd")
"""Endings of the audio files that the steps look for: the formats libsndfile (soundfile)
reads (MP3 from libsndfile 1.1 on)."""

_TEMPORARY = re.compile(re.escape(TEMPORARY_PREFIX) + r"(\d+)-")
_kill_counter = itertools.count(1)
_cleaned_dirs: set[Path] = set()


class PipelineError(Exception):
    """Bad input or a broken contract between steps; the message is one line naming the file."""


class PipelineErrors(PipelineError):
    """Several bad inputs found in one pass: one :class:`PipelineError` line each.

    Parameters
    ----------
    errors : iterable of PipelineError or str
        The problems, in the order to report them.
    summary : str, optional
        A last line, e.g. what was (not) written.
    """

    def __init__(self, errors: Iterable[PipelineError | str], summary: str = ""):
        self.errors = [line for e in errors for line in _lines(e)]
        self.summary = summary
        super().__init__("\n".join(self.lines))

    @property
    def lines(self) -> list[str]:
        """The problems, then the summary."""
        return self.errors + ([self.summary] if self.summary else [])

    def __reduce__(self):
        return type(self), (self.errors, self.summary)


def _lines(error: PipelineError | str) -> list[str]:
    return error.errors if isinstance(error, PipelineErrors) else [str(error)]


def split_errors(results: Iterable) -> tuple[list, list[str]]:
    """Results of ``parallel_map(..., collect_errors=True)``: the good ones and error lines."""
    good, errors = [], []
    for r in results:
        if isinstance(r, PipelineError):
            errors += _lines(r)
        else:
            good.append(r)
    return good, errors


def attempt(errors: list, function: Callable, *args, **kwargs):
    """``function(*args, **kwargs)``, or ``None`` with its :class:`PipelineError` appended."""
    try:
        return function(*args, **kwargs)
    except PipelineError as error:
        errors.append(error)
        return None


def check_range(name: str, value: float | None, low: float, high: float | None = None) -> None:
    """A one-line error unless ``low <= value <= high`` (``None`` values pass; NaN fails).

    Parameters
    ----------
    name : str
        How the user wrote the setting, e.g. ``--batch-size``.
    value : float or None
    low, high : float
        Inclusive bounds; ``high=None`` for no upper bound.
    """
    if value is None:
        return
    if not (low <= value and (high is None or value <= high)):
        allowed = f"from {low:g} to {high:g}" if high is not None else f">= {low:g}"
        raise PipelineError(f"{name} must be {allowed}, got {value:g}")


def kill_point(name: str) -> None:
    """Test hook: a place where a kill must leave consistent files (see :data:`KILL_AT_ENV`)."""
    k = next(_kill_counter)
    trace = os.environ.get(KILL_TRACE_ENV)
    if trace:
        with open(trace, "a") as f:
            f.write(f"{k} {name}\n")
    if os.environ.get(KILL_AT_ENV) == str(k):
        os.kill(os.getpid(), signal.SIGKILL)


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether a name is a hidden working file of this project (never an input)."""
    return Path(path).name.startswith(".")


def list_inputs(directory: str | os.PathLike, suffixes: Iterable[str]) -> list[Path]:
    """The files of ``directory`` whose suffix is in ``suffixes``, sorted, hidden names skipped.

    Hidden names include the temporaries of :func:`atomic_path` (``.partial-<pid>-*``) that a
    killed process leaves behind, so a scanner never reads a half-written file.
    """
    suffixes = {s.lower() for s in suffixes}
    return sorted(p for p in Path(directory).iterdir()
                  if p.suffix.lower() in suffixes and not is_temporary(p) and p.is_file())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the ``.partial-<pid>-*`` entries of ``directory`` whose process is dead.

    Returns the removed paths. Temporaries of live processes (this one included) are kept.
    """
    directory = Path(directory)
    removed = []
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match and not _pid_alive(int(match.group(1))):
            _remove(entry)
            removed.append(entry)
    for entry in removed:
        log.info("removed %s, left by an interrupted run", entry)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _clean_once(directory: Path) -> None:
    """:func:`remove_stale_temporaries` the first time this process writes into ``directory``."""
    key = directory.resolve()
    if key not in _cleaned_dirs:
        _cleaned_dirs.add(key)
        remove_stale_temporaries(directory)


def temporary_name(path: Path, tag: str = "") -> Path:
    """The hidden working name of ``path`` for this process."""
    return path.with_name(f"{TEMPORARY_PREFIX}{os.getpid()}-{tag}{path.name}")


def _move_into_place(src: Path, dst: Path) -> None:
    """Rename ``src`` onto ``dst``; an existing directory is first renamed out of the way."""
    if dst.is_dir() and not dst.is_symlink():
        old = temporary_name(dst, "old-")
        os.replace(dst, old)
        kill_point(f"moved aside {dst.name}")
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    The temporary name ends with the final name, so libraries that choose a format by its
    ending (``np.save``, ``matplotlib``, Keras' ``.weights.h5``) behave as for the final name.
    A directory is renamed too (the old one is renamed aside first, then deleted).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_once(path.parent)
    tmp = temporary_name(path)
    try:
        yield tmp
        kill_point(f"write {path.name}")
        _move_into_place(tmp, path)
        kill_point(f"wrote {path.name}")
    finally:
        if tmp.exists():
            _remove(tmp)


@contextlib.contextmanager
def directory_lock(directory: str | os.PathLike, step: str, *,
                   wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (``.lock``) for one step.

    The lock is an ``flock`` on ``DIRECTORY/.lock``: the kernel releases it when the holder
    exits, killed or not, so a stale lock never blocks a rerun.

    Raises
    ------
    PipelineError
        Another process holds the lock (and ``wait`` is false).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise PipelineError(f"{directory}: busy, {holder} is writing into it; wait for it to "
                                "finish") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{step} (pid {os.getpid()})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def staged_outputs(directory: str | os.PathLike, *, invalidate: Iterable[str] = (),
                   last: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty staging directory; on success move all of it into ``directory`` at once.

    Outputs are written under the staging directory with the names they will have in
    ``directory``. When the block succeeds, the staging directory is renamed to
    ``directory/.commit`` (the commit point) and :func:`finish_commit` moves its entries into
    place: first the files named in ``invalidate`` are deleted (a description that would
    otherwise describe a mix), then every entry is moved, those named in ``last`` at the end.
    When the block fails, nothing in ``directory`` has changed. Hold a
    :func:`directory_lock` around it.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    finish_commit(directory)
    remove_stale_temporaries(directory)
    stage = temporary_name(directory / "stage")
    stage.mkdir()
    try:
        yield stage
        (stage / MANIFEST).write_text(json.dumps({"invalidate": list(invalidate),
                                                  "last": list(last)}))
        kill_point("commit")
        os.replace(stage, directory / COMMIT_DIR)
        kill_point("committed")
        finish_commit(directory)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def finish_commit(directory: str | os.PathLike) -> bool:
    """Complete a commit of :func:`staged_outputs` cut short by a kill; True if there was one.

    Every step is a rename that can be repeated, so a kill here is completed by the next call.
    """
    directory = Path(directory)
    commit = directory / COMMIT_DIR
    if not commit.is_dir():
        return False
    if not (commit / MANIFEST).is_file():  # removed last: everything was moved
        shutil.rmtree(commit, ignore_errors=True)
        return True
    manifest = json.loads((commit / MANIFEST).read_text())
    if manifest["invalidate"]:
        for name in manifest["invalidate"]:
            (directory / name).unlink(missing_ok=True)
        kill_point("invalidated")
        manifest["invalidate"] = []  # done: a replay must not delete the new ones
        (commit / f"{MANIFEST}.new").write_text(json.dumps(manifest))
        os.replace(commit / f"{MANIFEST}.new", commit / MANIFEST)
    names = sorted(p.name for p in commit.iterdir() if not p.name.startswith(MANIFEST))
    names = [n for n in names if n not in manifest["last"]] + \
        [n for n in manifest["last"] if n in names]
    for name in names:
        _move_into_place(commit / name, directory / name)
        kill_point(f"committed {name}")
    (commit / MANIFEST).unlink()
    shutil.rmtree(commit, ignore_errors=True)
    return True


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


def complete_interrupted_commit(directory: str | os.PathLike) -> None:
    """Before reading ``directory``: finish a commit there that a kill cut short, if any.

    Takes the directory's lock (waiting for a writer) only when there is one to finish, so a
    read-only directory is read without writing anything.
    """
    directory = Path(directory)
    if (directory / COMMIT_DIR).is_dir():
        try:
            with directory_lock(directory, "finishing an interrupted commit", wait=True):
                finish_commit(directory)
        except OSError as error:
            raise PipelineError(f"{directory}: an interrupted commit could not be completed "
                                f"({error}); rerun the step that writes it") from None


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (a one-line error when it is missing)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


RUN_RECORD = "run_settings.json"


def claim_run(directory: str | os.PathLike, settings: dict) -> None:
    """Start a run in ``directory`` or check that a rerun there has the same settings.

    A new (or empty) directory gets ``run_settings.json`` with ``settings`` (JSON values). A
    directory that holds a run is reused (resumed) only when its recorded settings equal
    ``settings``, so a finished run is never silently taken for a new one.

    Raises
    ------
    PipelineError
        The directory holds a run with other settings, or files without a record.
    """
    directory = Path(directory)
    path = directory / RUN_RECORD
    if path.is_file():
        saved = read_json(path)
        keys = sorted(set(saved) | set(settings))
        changed = [f"{k} {saved.get(k)!r} -> {settings.get(k)!r}" for k in keys
                   if saved.get(k) != settings.get(k)]
        if changed:
            raise PipelineError(f"{path}: {directory} holds another run ({'; '.join(changed)}); "
                                "use another directory or delete this one")
        return
    if directory.is_dir() and any(not is_temporary(p) for p in directory.iterdir()):
        raise PipelineError(f"{directory}: holds files but no {RUN_RECORD} (a run of an older "
                            "version?); use another directory or delete this one")
    write_json(path, settings)


QUIET_LOGGERS = ("tensorflow", "absl")
"""Python loggers whose INFO lines are TensorFlow's chatter (e.g. "Sharding callback duration"
at every checkpoint): :func:`quiet_tensorflow` raises them to WARNING."""


def quiet_tensorflow() -> None:
    """Silence TensorFlow's start-up chatter and its INFO lines; call before TensorFlow loads.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (no C++ INFO/WARNING lines such as the CPU feature guard;
    read once, when TensorFlow's library loads; a value the user set is kept) and raises the
    Python loggers of :data:`QUIET_LOGGERS` to WARNING, so a step's INFO log shows the step's
    own lines only. :func:`run_cli` calls it first; step scripts import TensorFlow inside
    ``main`` (after argument parsing), so ``--help`` never loads it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def run_cli(main: Callable[[list[str] | None], int | None]) -> None:
    """Run a step's ``main`` as a command: quiet TensorFlow, one-line errors, exit status.

    Logging goes to stderr at INFO level, TensorFlow's own lines excepted
    (:func:`quiet_tensorflow`).
    """
    quiet_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        status = main(None)
    except PipelineError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(status or 0)
