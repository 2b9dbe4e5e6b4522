"""Run independent per-file work in parallel worker processes, with a progress bar."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed

from tqdm.auto import tqdm


def parallel_map(function: Callable, items: Iterable, *, workers: int | None = None,
                 desc: str | None = None) -> list:
    """Apply ``function`` to every item, in input order, in spawned worker processes.

    Workers are *spawned* (not forked) so that this is safe in a process that has already
    started TensorFlow. The first exception raised by a worker cancels the rest and is
    re-raised here unchanged (a :class:`~data_processing.files.PipelineError` keeps its
    one-line message).

    Parameters
    ----------
    function : callable
        A module-level function (it must be picklable).
    items : iterable
        Arguments, one call each.
    workers : int, optional
        Number of processes; default: the CPU count. ``1`` runs in this process.
    desc : str, optional
        Label of the progress bar.
    """
    items = list(items)
    workers = min(workers or os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [function(item) for item in tqdm(items, desc=desc, unit="file")]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(function, item) for item in items]
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc=desc, unit="file"):
                future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return [future.result() for future in futures]
