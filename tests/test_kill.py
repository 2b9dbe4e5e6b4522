"""Issue 15: a step killed (SIGKILL) at any write leaves the old or the new complete output.

Kill points are injected deterministically: a first run of a step records every place where
it renames a file (``PIPELINE_KILL_TRACE``); then the step is rerun and killed at chosen
points (``PIPELINE_KILL_AT=k`` makes it SIGKILL itself at the k-th one). Between two points a
step only writes hidden temporaries, so the points are every state a reader can see. By
default a seeded sample of points is tried; ``GESTURE_KILL_ALL=1`` tries every one.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from data_processing import create_vector, prepare_data, recordings
from data_processing.dataset import SPLITS, DatasetMeta
from data_processing.files import (
    KILL_AT_ENV,
    KILL_TRACE_ENV,
    complete_interrupted_commit,
    list_inputs,
)
from tests.conftest import REPO

SEED = 15
ALL = os.environ.get("GESTURE_KILL_ALL") == "1"
OUTPUTS = ("meta.json", "skeleton.json", *(f"{a}_{s}.npy" for a in "XY" for s in SPLITS))


def run_step(script: str, args: list, *, kill_at: int | None = None, trace=None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(KILL_AT_ENV, None)
    if kill_at is not None:
        env[KILL_AT_ENV] = str(kill_at)
    if trace is not None:
        env[KILL_TRACE_ENV] = str(trace)
    return subprocess.run([sys.executable, str(REPO / "data_processing" / script),
                           *map(str, args)], capture_output=True, text=True, env=env)


def kill_points(trace) -> list[tuple[int, str]]:
    lines = trace.read_text().splitlines()
    return [(int(k), name) for k, name in (line.split(" ", 1) for line in lines)]


def choose(points: list[tuple[int, str]], n_commit: int, n_stage: int) -> list[int]:
    """Seeded kill points: ``n_commit`` after the commit rename, ``n_stage`` before it."""
    if ALL:
        return [k for k, _ in points]
    rng = np.random.default_rng(SEED)
    start = next(k for k, name in points if name == "commit")
    commit = [k for k, _ in points if k >= start]
    stage = [k for k, _ in points if k < start]
    picked = list(rng.choice(commit, size=min(n_commit, len(commit)), replace=False))
    picked += list(rng.choice(stage, size=min(n_stage, len(stage)), replace=False))
    return sorted(int(k) for k in picked)


def snapshot(data) -> dict[str, bytes]:
    """The bytes of every dataset output (sequences and test inputs included)."""
    files = {name: (data / name).read_bytes() for name in OUTPUTS}
    meta = json.loads(files["meta.json"])
    meta.pop("files")  # absolute source paths, which differ between copies
    files["meta.json"] = json.dumps(meta).encode()
    for folder in ("stats", "test_inputs", "sequences/train", "sequences/dev", "sequences/test"):
        for path in list_inputs(data / folder, [".npy", ".npz"]):
            files[f"{folder}/{path.name}"] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def old_and_new(demo_raw, tmp_path_factory):
    """A dataset (N_CONTEXT 10), the same rebuilt with N_CONTEXT 4, and the kill points."""
    root = tmp_path_factory.mktemp("kill")
    old = root / "old"
    prepare_data.prepare(demo_raw, old, workers=1)
    assert create_vector.main([str(old), "10", "--workers", "1"]) == 0
    new = root / "new"
    shutil.copytree(old, new)
    done = run_step("create_vector.py", [new, 4, "--workers", "1"], trace=root / "trace")
    assert done.returncode == 0, done.stderr
    return old, new, kill_points(root / "trace")


def test_create_vector_killed_anywhere_leaves_old_or_new_dataset(old_and_new, tmp_path):
    old, new, points = old_and_new
    assert {"commit", "committed", "moved aside sequences", "committed meta.json"} <= \
        {name for _, name in points}
    expected = {10: snapshot(old), 4: snapshot(new)}
    outcomes = {}
    for k in choose(points, n_commit=3, n_stage=1):
        data = tmp_path / f"k{k}"
        shutil.copytree(old, data)
        done = run_step("create_vector.py", [data, 4, "--workers", "1"], kill_at=k)
        assert done.returncode == -signal.SIGKILL, (k, done.stderr)
        meta = DatasetMeta.load(data)  # completes a commit cut short
        assert snapshot(data) == expected[meta.n_context], f"a mix after a kill at {k}"
        outcomes[k] = meta.n_context
    assert set(outcomes.values()) == {4, 10}  # both sides of the commit point were hit
    done = run_step("create_vector.py", [data, 4, "--workers", "1"])  # a rerun after a kill
    assert done.returncode == 0, done.stderr
    assert snapshot(data) == expected[4]
    assert not list(data.rglob(".partial-*"))  # the kill's leftovers are gone


def test_prepare_data_killed_anywhere_leaves_old_or_new_split(demo_raw, tmp_path):
    data = tmp_path / "data"
    prepare_data.prepare(demo_raw, data, seed=0, workers=1)
    old = {s: pd.read_csv(data / f"gg-{s}.csv") for s in SPLITS}
    trial = tmp_path / "trial"
    shutil.copytree(data, trial)
    args = [demo_raw, trial, "--seed", "1", "--workers", "1"]
    done = run_step("prepare_data.py", args, trace=tmp_path / "trace")
    assert done.returncode == 0, done.stderr
    new = {s: pd.read_csv(trial / f"gg-{s}.csv") for s in SPLITS}
    for k in choose(kill_points(tmp_path / "trace"), n_commit=2, n_stage=1):
        shutil.rmtree(trial)
        shutil.copytree(data, trial)
        args[1] = trial
        done = run_step("prepare_data.py", args, kill_at=k)
        assert done.returncode == -signal.SIGKILL, (k, done.stderr)
        complete_interrupted_commit(trial)  # what the next step does first
        tables = {s: pd.read_csv(trial / f"gg-{s}.csv") for s in SPLITS}
        side = old if tables["train"].equals(old["train"]) else new
        for split in SPLITS:
            pd.testing.assert_frame_equal(tables[split], side[split])
            listed = set(tables[split].wav_filename.str.rsplit("/", n=1).str[1])
            present = {p.name for p in list_inputs(trial / split / "inputs", [".wav"])}
            assert listed == present, f"tables and files disagree after a kill at {k}"


def test_make_demo_dataset_killed_leaves_old_or_new_recordings(tmp_path):
    out = tmp_path / "raw"
    assert run_step("make_demo_dataset.py", [out, "--files", "2", "--seconds", "5",
                                             "--workers", "1"]).returncode == 0
    old = {p.name: p.read_bytes() for p in list_inputs(out / "speech", [".wav"])}
    args = [out, "--files", "3", "--seconds", "5", "--seed", "1", "--workers", "1"]
    trace = tmp_path / "trace"
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert run_step("make_demo_dataset.py", [copy, *args[1:]], trace=trace).returncode == 0
    for k in choose(kill_points(trace), n_commit=1, n_stage=1):
        shutil.rmtree(copy)
        shutil.copytree(out, copy)
        done = run_step("make_demo_dataset.py", [copy, *args[1:]], kill_at=k)
        assert done.returncode == -signal.SIGKILL
        recordings.find_pairs(copy)  # the next step completes a commit cut short
        wavs = {p.name: p.read_bytes() for p in list_inputs(copy / "speech", [".wav"])}
        bvhs = [p.stem for p in list_inputs(copy / "motion", [".bvh"])]
        assert sorted(p.removesuffix(".wav") for p in wavs) == bvhs
        assert wavs == old or len(wavs) == 3
