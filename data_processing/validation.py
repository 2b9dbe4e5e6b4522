"""The validation pass of the data steps: read every pair once, report every bad file.

``prepare_data.py`` and ``create_vector.py`` both read all their speech/motion pairs before
writing anything; a bad file does not stop the pass, so one run lists every problem
(:class:`data_processing.files.PipelineErrors`) and nothing is written when there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from data_processing.files import PipelineError, PipelineErrors, split_errors
from data_processing.parallel import parallel_map

log = logging.getLogger(__name__)


def skeleton_errors(results: list[dict]) -> list[PipelineError]:
    """One error per result whose hierarchy differs from the first result's.

    Each result holds its ``skeleton`` and the ``bvh`` file it came from.
    """
    reference = results[0]["skeleton"]
    errors = []
    for r in results[1:]:
        skel = r["skeleton"]
        if skel.names != reference.names or not np.array_equal(skel.parents, reference.parents):
            errors.append(PipelineError(
                f"{r['bvh']}: skeleton differs from {results[0]['bvh']} "
                f"({skel.n_joints} vs {reference.n_joints} joints or another hierarchy)"))
    return errors


def validate_all(check: Callable[..., dict], jobs: list, *, workers: int | None,
                 work_seconds: float, desc: str) -> list[dict]:
    """``check(job)`` for every job, in parallel; every problem of every file at once.

    ``check`` returns a dict with ``skeleton``, ``bvh`` and ``warning`` (logged) or raises a
    :class:`PipelineError`. ``workers`` and ``work_seconds`` (the estimated time of every
    job in one process) are :func:`~data_processing.parallel.parallel_map`'s.

    Raises
    ------
    PipelineErrors
        One line per bad file (unreadable, truncated, out of range, another skeleton).
    """
    results = parallel_map(check, jobs, workers=workers, work_seconds=work_seconds,
                           desc=desc, collect_errors=True)
    good, errors = split_errors(results)
    if good:
        errors += [str(e) for e in skeleton_errors(good)]
    if errors:
        raise PipelineErrors(errors, f"{len(errors)} problem(s) in {len(jobs)} pairs; "
                                     "nothing written")
    for r in good:
        if r["warning"]:
            log.warning(r["warning"])
    return good
