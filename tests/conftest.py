"""Shared fixtures: tiny data made in code, the demo speaker, the real GENEA samples."""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GESTURE_SHARED_DATA", REPO.parent / "shared" / "data"))
GENEA_FILES = sorted((SHARED_DATA / "genea_bvh").glob("*.bvh"))

TINY_BVH = """HIERARCHY
ROOT Hips
{
\tOFFSET 0.0 90.0 0.0
\tCHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
\tJOINT Spine
\t{
\t\tOFFSET 0.0 10.0 0.5
\t\tCHANNELS 3 Xrotation Yrotation Zrotation
\t\tJOINT Arm
\t\t{
\t\t\tOFFSET 12.0 0.0 0.0
\t\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 20.0 0.0 0.0
\t\t\t}
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: 0.04
1.0 90.0 -2.0 10.0 0.0 -5.0 0.0 0.0 0.0 90.0 0.0 0.0
1.5 90.5 -2.5 20.0 5.0 -5.0 10.0 20.0 30.0 45.0 10.0 -10.0
2.0 91.0 -3.0 30.0 10.0 -5.0 20.0 40.0 60.0 0.0 20.0 -20.0
"""


@contextmanager
def eager_functions():
    """Run every ``tf.function`` eagerly inside the block.

    A run of a few steps costs less eagerly than tracing its step functions (tens of seconds
    for an Audio2Gestures step); two runs a test compares must be made in the same mode.
    """
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    try:
        with warnings.catch_warnings():  # tf.data's own functions stay traced: as wanted
            warnings.filterwarnings("ignore", "Even though the `tf.config.experimental_run")
            yield
    finally:
        tf.config.run_functions_eagerly(False)


@pytest.fixture
def rng():
    """A seeded random generator."""
    return np.random.default_rng(1234)


@pytest.fixture
def tiny_bvh(tmp_path) -> Path:
    """A 3-joint BVH with an End Site, a 6-channel root, mixed Euler orders, 25 fps."""
    path = tmp_path / "tiny.bvh"
    path.write_text(TINY_BVH)
    return path


@pytest.fixture(params=GENEA_FILES or [None], ids=lambda p: p.name if p else "absent")
def genea_bvh(request) -> Path:
    """Each real GENEA sample; skipped when ../shared/data is absent."""
    if request.param is None:
        pytest.skip("GENEA samples not available (../shared/data/genea_bvh)")
    return request.param


@pytest.fixture(scope="session")
def demo_raw(tmp_path_factory) -> Path:
    """A small demo speaker (6 recordings of 12 s) as raw speech/ + motion/ files."""
    from tests.prebuild import demo_recordings

    return demo_recordings(tmp_path_factory)


@pytest.fixture(scope="session", autouse=True)
def shared_caches(request, tmp_path_factory) -> None:
    """This pytest-xdist worker's share of the expensive caches, built before its first test."""
    from tests.prebuild import prebuild

    prebuild(tmp_path_factory, {Path(item.fspath).stem for item in request.session.items})


# Modules that train models (or run whole steps on trained ones) are the slow tier; `make
# test-fast` deselects them (`-m "not slow"`), `make test` (CI) runs everything.
TRAINING_MARKERS = ("iva19_helpers", "a2g_helpers", "train.main", "learn_dae", "train_extractor")
SLOW_MODULES = ("test_fuzz", "test_kill", "test_beat_alignment", "test_render_video",
                "test_stream_prosody", "test_a2g_model", "test_a2g_layers", "test_a2g_losses",
                "test_training_loop")


# The modules with the most work of their own beyond the shared caches (tests/prebuild.py),
# longest first: they start as soon as a worker has built its share of the caches.
FIRST_MODULES = ("test_resume", "test_iva19_scripts", "test_real_layouts", "test_streaming",
                 "test_a2g_science", "test_a2g_metrics", "test_ha2g_run")


def pytest_collection_modifyitems(config, items):
    """Mark every test of a training (or otherwise slow) module ``slow``; slow modules first.

    pytest-xdist hands whole files to the workers in this order (``--no-loadscope-reorder``),
    so the long files start first and the short ones fill the end (longest first is the
    classic rule for keeping parallel workers finishing together).
    """
    slow: dict[Path, bool] = {}
    for item in items:
        path = Path(item.fspath)
        if path not in slow:
            text = path.read_text()
            slow[path] = path.stem in SLOW_MODULES or any(m in text for m in TRAINING_MARKERS)
        if slow[path]:
            item.add_marker(pytest.mark.slow)

    def rank(item) -> int:
        stem = Path(item.fspath).stem
        if stem in FIRST_MODULES:
            return FIRST_MODULES.index(stem)
        return len(FIRST_MODULES) + (0 if slow[Path(item.fspath)] else 1)

    items.sort(key=rank)  # stable: files and tests keep their order within a rank
