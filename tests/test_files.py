import numpy as np
import pytest

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
