"""Run independent per-file work in parallel worker processes, with a progress bar."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

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


def default_workers() -> int:
    """One process on a machine of two cores or fewer, else one per core.

    Each spawned worker imports the project's libraries again (seconds); on 2 cores that start-up
    costs more than the second core gains (the demo's data steps ran 2x slower with a pool of
    2 than in one process), with more cores the pool wins.
    """
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else cores


def parallel_map(function: Callable, items: Iterable, *, workers: int | None = None,
                 desc: str | None = None, collect_errors: bool = False) -> list:
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
        Number of processes; default: :func:`default_workers`. ``1`` runs in this process.
    desc : str, optional
        Label of the progress bar.
    collect_errors : bool
        Return a :class:`PipelineError` in the place of an item's result instead of raising
        it, so that every item is tried (other exceptions are still raised).
    """
    items = list(items)
    if collect_errors:
        function = _Collecting(function)
    workers = min(workers or default_workers(), len(items))
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
