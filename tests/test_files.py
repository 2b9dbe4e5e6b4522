import numpy as np
import pytest

from data_processing import parallel
from data_processing.files import PipelineError, atomic_path, load_array, save_array
from data_processing.parallel import parallel_map


def test_atomic_path_renames_on_success_and_cleans_on_failure(tmp_path):
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("done")
        assert not (tmp_path / "a.txt").exists()
    assert (tmp_path / "a.txt").read_text() == "done"

    def interrupted():
        with atomic_path(tmp_path / "b.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        interrupted()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_arrays_round_trip_and_errors(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    for name in ("x.npy", "x.txt"):
        save_array(tmp_path / name, x)
        np.testing.assert_allclose(load_array(tmp_path / name, ndim=2), x)
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    with pytest.raises(PipelineError, match=r"bad\.npy: not a readable \.npy array"):
        load_array(tmp_path / "bad.npy")
    with pytest.raises(PipelineError, match="expected a 3-D array"):
        load_array(tmp_path / "x.npy", ndim=3)


def _square(x):
    if x == 3:
        raise PipelineError(f"item {x}: bad")
    return x * x


def test_parallel_map_keeps_order_and_propagates_errors():
    assert parallel_map(_square, [0, 1, 2], workers=2) == [0, 1, 4]
    with pytest.raises(PipelineError, match="item 3: bad"):
        parallel_map(_square, range(6), workers=2)


def test_staged_outputs_commit_all_or_nothing(tmp_path):
    from data_processing.files import COMMIT_DIR, staged_outputs

    (tmp_path / "meta.json").write_text("old")
    (tmp_path / "stats").mkdir()
    (tmp_path / "stats" / "a.npy").write_text("old")

    def failing_step():
        with staged_outputs(tmp_path, invalidate=["meta.json"]) as stage:
            (stage / "meta.json").write_text("new")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing_step()
    assert (tmp_path / "meta.json").read_text() == "old"
    with staged_outputs(tmp_path, invalidate=["meta.json"], last=["meta.json"]) as stage:
        (stage / "stats").mkdir()
        (stage / "stats" / "b.npy").write_text("new")
        (stage / "meta.json").write_text("new")
    assert (tmp_path / "meta.json").read_text() == "new"
    assert [p.name for p in (tmp_path / "stats").iterdir()] == ["b.npy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json", "stats"]
    assert not (tmp_path / COMMIT_DIR).exists()


def test_pipeline_errors_cross_processes():
    import pickle

    from data_processing.files import PipelineErrors, split_errors

    errors = PipelineErrors([PipelineError("a.bvh:3: bad"), "b.wav: bad"], "2 problems")
    again = pickle.loads(pickle.dumps(errors))
    assert again.lines == ["a.bvh:3: bad", "b.wav: bad", "2 problems"]
    assert split_errors([1, again, PipelineError("c: bad")]) == (
        [1], ["a.bvh:3: bad", "b.wav: bad", "c: bad"])
    assert parallel_map(_square, [2, 3], workers=2, collect_errors=True)[0] == 4


def test_default_workers_repays_the_pool_start_up(monkeypatch, tmp_path):
    spawn = parallel.SPAWN_SECONDS
    for cores, items, work, expected in ((2, 6, 3.0, 1),  # the demo's data steps: one
                                         (2, 6, 3 * spawn, 2),  # hours of recordings: both
                                         (16, 6, 3 * spawn, 6),  # one per item at most
                                         (16, 400, spawn, 1), (16, 400, 1.1 * spawn, 16),
                                         (1, 400, 100 * spawn, 1)):
        monkeypatch.setattr(parallel, "usable_cores", lambda cores=cores: cores)
        assert parallel.default_workers(items, work) == expected, (cores, items, work)
    (tmp_path / "a.wav").write_bytes(b"x" * 4000)
    assert parallel.file_seconds([tmp_path / "a.wav", "", tmp_path / "missing.bvh"]) == (
        4000 / parallel.BYTES_PER_SECOND)
