import numpy as np
import pytest

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, write_json
from gesture_vae.config import make_config
from gesture_vae.run import build_model, create_run, is_run, load_model, load_run
from tests.a2g_helpers import tiny_dataset


@pytest.fixture(scope="module")
def meta(tmp_path_factory, demo_raw):
    return DatasetMeta.load(tiny_dataset(tmp_path_factory, demo_raw))


def test_create_and_load_round_trip(meta, tmp_path):
    config = make_config("demo", variant="mapping", seed=5)
    run = create_run(tmp_path, config, meta)
    assert is_run(tmp_path)
    loaded = load_run(tmp_path)
    assert loaded.config == config
    assert loaded.fps == meta.fps
    assert loaded.dataset["features"] == "Spectro"
    assert loaded.skeleton.names == meta.skeleton.names
    np.testing.assert_array_equal(loaded.norm.motion_std, meta.stat("motion_std"))
    np.testing.assert_array_equal(loaded.norm.audio_mean, run.norm.audio_mean)
    create_run(tmp_path, config, meta)  # the same run again: reopened, not an error


def test_another_run_in_the_directory_is_a_one_line_error(meta, tmp_path):
    create_run(tmp_path, make_config("demo", variant="split"), meta)
    with pytest.raises(PipelineError, match=r"differs in variant, width"):
        create_run(tmp_path, make_config("paper", variant="full", steps=400, epoch_steps=100,
                                         learning_rate=2e-3, batch_size=16),
                   meta)


def test_is_run_and_missing_pieces(meta, tmp_path):
    assert not is_run(tmp_path)
    write_json(tmp_path / "config.json", {"kind": "iva19", "format": 1})
    assert not is_run(tmp_path)
    with pytest.raises(PipelineError, match="a 'iva19' artifact, expected a2g"):
        load_run(tmp_path)
    write_json(tmp_path / "config.json", {"model": "audio2gestures"})  # before kinds
    with pytest.raises(PipelineError, match="no 'kind'"):
        load_run(tmp_path)
    run_dir = tmp_path / "run"
    create_run(run_dir, make_config("demo"), meta)
    with pytest.raises(PipelineError, match=r"best\.weights\.h5: no such file"):
        load_model(run_dir)


def test_build_model_creates_every_weight(meta, tmp_path):
    model = build_model(create_run(tmp_path, make_config("demo", variant="full"), meta))
    assert model.built
    assert all(v.shape.num_elements() > 0 for v in model.weights)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    again = build_model(load_run(tmp_path))
    again.load_weights(path)
    for a, b in zip(model.weights, again.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
