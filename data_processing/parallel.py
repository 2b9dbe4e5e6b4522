"""Run independent per-file work in parallel worker processes, with a progress bar."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from data_processing.files import PipelineError


@dataclass(frozen=True)
class _Collecting:
    """``function`` with a :class:`PipelineError` returned instead of raised (picklable)."""

    function: Callable

    def __call__(self, item):
        try:
            return self.function(item)
        except PipelineError as error:
            return error


SPAWN_SECONDS = 8.0
"""Start-up of a pool's spawned workers, which import the project's libraries again (measured:
8-9 s for two workers starting side by side on a busy 2-core machine)."""
BYTES_PER_SECOND = 4.0e6
"""Input files one process gets through per second in the data steps (measured: 12 MB of demo
recordings in 3.3 s by ``create_vector.py``, the slower step, on that machine)."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def file_seconds(paths: Iterable) -> float:
    """Estimated seconds one process needs for these input files (:data:`BYTES_PER_SECOND`).

    Empty names and missing files count zero (a missing file is reported by the work itself).
    """
    paths = [Path(p) for p in paths if p]
    return sum(p.stat().st_size for p in paths if p.is_file()) / BYTES_PER_SECOND


def default_workers(n_items: int, work_seconds: float) -> int:
    """The number of processes that finishes soonest: one, unless the work outweighs a pool.

    One process needs ``W = work_seconds``; a pool of ``w`` processes (one per usable core, at
    most one per item) about ``SPAWN_SECONDS + W / w``, which is sooner only when
    ``W > SPAWN_SECONDS w / (w - 1)``: more than 16 s of work on 2 cores (about 64 MB of
    recordings), more than 8.5 s on 16. A pool of 2 ran the demo's data steps (seconds of
    work) 2x slower than one process.

    Parameters
    ----------
    n_items : int
        Independent pieces of work.
    work_seconds : float
        Estimated time of all of them in one process (e.g. :func:`file_seconds`).
    """
    w = min(usable_cores(), n_items)
    return w if w > 1 and work_seconds > SPAWN_SECONDS * w / (w - 1) else 1


def parallel_map(function: Callable, items: Iterable, *, workers: int | None = None,
                 work_seconds: float = 0.0, desc: str | None = None,
                 collect_errors: bool = False) -> list:
    """Apply ``function`` to every item, in input order, in spawned worker processes.

    Workers are *spawned* (not forked) so that this is safe in a process that has already
    started TensorFlow. The first exception raised by a worker cancels the rest and is
    re-raised here unchanged (a :class:`~data_processing.files.PipelineError` keeps its
    one-line message), after the progress bar has ended its line.

    Parameters
    ----------
    function : callable
        A module-level function (it must be picklable).
    items : iterable
        Arguments, one call each.
    workers : int, optional
        Number of processes; default: :func:`default_workers` of ``work_seconds``. ``1`` runs
        in this process.
    work_seconds : float
        Estimated time of all items in one process (default 0: small work, one process).
    desc : str, optional
        Label of the progress bar.
    collect_errors : bool
        Return a :class:`PipelineError` in the place of an item's result instead of raising
        it, so that every item is tried (other exceptions are still raised).
    """
    items = list(items)
    if collect_errors:
        function = _Collecting(function)
    workers = min(workers or default_workers(len(items), work_seconds), len(items))
    if workers <= 1:
        with tqdm(items, desc=desc, unit="file") as bar:
            return [function(item) for item in bar]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(function, item) for item in items]
        try:
            with tqdm(as_completed(futures), total=len(futures), desc=desc, unit="file") as bar:
                for future in bar:
                    future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return [future.result() for future in futures]
