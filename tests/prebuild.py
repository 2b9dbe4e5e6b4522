"""Build the session's expensive shared caches up front, split between the pytest-xdist workers.

Many modules share a few trained runs (:func:`tests.session_cache.cached`). Built lazily, the
first module to need one builds it and a module on the other worker that needs it too waits
on its lock with a core idle; and both workers meet the same caches in the same order. Here
every worker builds its own share of the caches the session's tests need before its first
test (longest first, each to the worker with the least work so far), so the two cores build
different caches at the same time. Without xdist nothing is built ahead: a cache is built
when a test first needs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from tests import a2g_helpers, ha2g_fixtures, iva19_helpers
from tests.session_cache import cached


def demo_recordings(tmp_path_factory):
    """The shared demo speaker (the ``demo_raw`` fixture): 6 recordings of 12 s."""
    from data_processing.demo_speaker import write_demo_dataset

    return cached(tmp_path_factory, "demo_raw", lambda out: write_demo_dataset(
        out, files=6, seconds=12.0, seed=7, workers=1))


def _a2g_tiny_runs(tmp_path_factory) -> None:
    data = a2g_helpers.tiny_dataset(tmp_path_factory, demo_recordings(tmp_path_factory))
    for variant in ("full", "baseline", "split"):
        a2g_helpers.tiny_run(tmp_path_factory, data, variant)


def _iva19_models(tmp_path_factory) -> None:
    iva19_helpers.speech_model(tmp_path_factory)
    iva19_helpers.speech_model(tmp_path_factory, "dae")


@dataclass(frozen=True)
class Build:
    """A group of caches: its CPU seconds on a 2-core CI machine, who needs it, how to build it."""

    cost: float
    modules: tuple[str, ...]
    build: Callable


BUILDS = (
    Build(95, ("test_a2g_science", "test_a2g_metrics"),
          lambda f: a2g_helpers.science_run(f, "full")),
    Build(60, ("test_a2g_science", "test_a2g_metrics"),
          lambda f: a2g_helpers.science_run(f, "baseline")),
    Build(45, ("test_iva19_predict", "test_iva19_science", "test_iva19_representation",
               "test_speech_encoder", "test_resume", "test_streaming"), _iva19_models),
    Build(55, ("test_a2g_sample", "test_a2g_train", "test_resume", "test_streaming"),
          _a2g_tiny_runs),
    Build(55, ("test_ha2g_run", "test_streaming"),
          lambda f: ha2g_fixtures.tiny_run(f, demo_recordings(f))),
)


def share(builds, workers: int, worker: int) -> list[Build]:
    """The builds of ``worker`` (0-based): longest first, each to the least loaded worker."""
    loads = [0.0] * workers
    mine = []
    for build in sorted(builds, key=lambda b: -b.cost):
        target = loads.index(min(loads))
        loads[target] += build.cost
        if target == worker:
            mine.append(build)
    return mine


def prebuild(tmp_path_factory, modules: set[str]) -> None:
    """Build this worker's share of the caches that the session's ``modules`` need.

    A build that fails is left to the test that needs it, which rebuilds it and reports the
    error where it belongs.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2 or not worker.startswith("gw"):
        return
    needed = [b for b in BUILDS if modules & set(b.modules)]
    for build in share(needed, workers, int(worker[2:])):
        with contextlib.suppress(Exception):  # the consumer's own build raises it again
            build.build(tmp_path_factory)
