import shutil

import keras
import numpy as np
import pandas as pd
import pytest

import train
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, read_json, save_array, write_json
from speech_encoder.model import (
    IVA19Model,
    ModelCard,
    SpeechToMotion,
    build_network,
    encoded_targets,
    window_dataset,
)
from tests import iva19_helpers as shared


def tiny_network(rng, window=5, features=4, outputs=6):
    return build_network(window=window, feature_size=features, output_size=outputs,
                         audio_mean=rng.normal(size=features),
                         audio_std=rng.uniform(0.5, 2.0, size=features), seed=0)


def test_network_is_the_iva19_architecture(rng):
    net = tiny_network(rng)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds.count("TimeDistributed") == 3
    assert kinds.count("BatchNormalization") == 4
    assert [x.rate for x in net.layers if isinstance(x, keras.layers.Dropout)] == [0.1] * 4
    gru = net.get_layer("gru")
    assert (gru.units, gru.return_sequences) == (256, False)
    assert net.get_layer("frame_dense0").layer.units == 256
    output = net.get_layer("output")
    assert (output.units, output.activation.__name__) == (6, "linear")
    assert net(np.zeros((2, 5, 4), "float32")).shape == (2, 6)


def test_inputs_are_normalised_inside_the_model(rng):
    mean, std = rng.normal(size=4), rng.uniform(0.5, 2.0, size=4)
    net = build_network(window=5, feature_size=4, output_size=6, audio_mean=mean,
                        audio_std=std)
    layer = keras.Model(net.input, net.get_layer("speech_normalization").output)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    np.testing.assert_allclose(layer(x), (x - mean) / std, rtol=1e-4, atol=1e-5)


def test_loss_and_inference_model_known_values(rng):
    net = tiny_network(rng)
    output = net.get_layer("output")
    output.set_weights([np.zeros((256, 6), "float32"), np.full(6, 0.5, "float32")])
    mean, std = rng.normal(size=6).astype("float32"), rng.uniform(1, 3, 6).astype("float32")
    model = SpeechToMotion(net, mean, std)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    y = rng.normal(size=(3, 6)).astype("float32")
    expected = np.mean((0.5 - (y - mean) / std) ** 2)
    assert float(model.compute_losses((x, y))["loss"]) == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(model.inference_model()(x), np.tile(0.5 * std + mean, (3, 1)),
                               rtol=1e-5)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        SpeechToMotion(net, np.zeros(5), np.ones(5))


def test_window_dataset_batches(tmp_path):
    windows = np.arange(23 * 2 * 1, dtype=np.float32).reshape(23, 2, 1)
    save_array(tmp_path / "x.npy", windows)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    targets = windows[:, :1, 0] * 10
    in_order = list(window_dataset(mapped, targets, batch_size=5))
    np.testing.assert_array_equal(np.concatenate([x for x, _ in in_order]), windows)
    epochs = [[(x.numpy(), y.numpy()) for x, y in window_dataset(
        mapped, targets, batch_size=5, shuffle=True, seed=3, epoch=e)] for e in range(2)]
    for epoch in epochs:
        assert [len(x) for x, _ in epoch] == [5] * 4  # the partial batch is dropped
        xs = np.concatenate([x for x, _ in epoch])
        assert len(np.unique(xs[:, 0, 0])) == 20  # no window twice
        np.testing.assert_array_equal(np.concatenate([y for _, y in epoch]), xs[:, 0] * 10)
    first = [x[:, 0, 0].tolist() for x, _ in epochs[0]]
    assert first != [x[:, 0, 0].tolist() for x, _ in epochs[1]]  # reshuffled
    again = window_dataset(mapped, targets, batch_size=5, shuffle=True, seed=3, epoch=0)
    assert [x.numpy()[:, 0, 0].tolist() for x, _ in again] == first  # a function of (seed, epoch)


def test_model_card_round_trip(tmp_path):
    card = ModelCard(predicts="encoding", output_size=8, motion="pos_vel", motion_size=96,
                     features="MFCC", mel_preset="iva19", fps=20.0, n_context=10,
                     feature_size=26, dataset="d", representation="r",
                     representation_kind="dae", dim=8)
    card.save(tmp_path / "m")
    assert ModelCard.load(tmp_path / "m") == card
    assert read_json(tmp_path / "m" / "config.json")["kind"] == "iva19"
    assert card.window == 11
    with pytest.raises(PipelineError, match="m.keras: IVA'19 models are directories"):
        ModelCard.load(tmp_path / "m.keras")


def test_boolean_and_usage():
    assert train.boolean("True")
    assert train.boolean("1")
    assert not train.boolean("false")
    with pytest.raises(SystemExit):
        train.parse_args(["m", "1", "d", "26", "True"])  # ENCODE True needs DIM


# -- trained on the small demo dataset -----------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return shared.dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return shared.speech_model(tmp_path_factory)


def test_n_input_is_checked_against_the_dataset(data, tmp_path):
    with pytest.raises(PipelineError, match="N_INPUT is 30 but the dataset has 26 MFCC"):
        train.main([str(tmp_path / "m"), "1", str(data), "30", "False"])
    assert not (tmp_path / "m").exists()


def test_saved_model_and_run_directory(baseline, data):
    card = ModelCard.load(baseline)
    meta = DatasetMeta.load(data)
    assert (card.predicts, card.output_size, card.motion_size) == ("motion", 96, 96)
    assert (card.features, card.fps, card.n_context, card.feature_size) == (
        meta.features, meta.fps, meta.n_context, meta.feature_size)
    assert card.mfcc_rate == "native"  # the dataset's (the original recipe, by default)
    assert card.training["seed"] == shared.SEED
    run_dir = baseline
    assert (run_dir / "model.keras").is_file()
    assert (run_dir / "skeleton.json").is_file()
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history.epoch) == list(range(1, shared.EPOCHS + 1))
    assert {"train_loss", "dev_loss"} <= set(history.columns)
    assert (run_dir / "loss_curve.png").is_file()
    assert any((run_dir / "logs").iterdir())
    assert card.training["best_epoch"] == int(history.dev_loss.idxmin()) + 1


def test_a_card_without_the_mfcc_rate_is_a_16k_model(baseline, tmp_path):
    """Models trained before the option computed their MFCC at 16 kHz."""
    card = read_json(baseline / "config.json")
    del card["mfcc_rate"]
    write_json(tmp_path / "config.json", card)
    assert ModelCard.load(tmp_path).mfcc_rate == "16k"


def test_rerunning_a_finished_training_resumes_it(baseline, data, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(baseline, copy)
    before = pd.read_csv(copy / "history.csv")
    args = [str(copy), str(shared.EPOCHS), str(data), "26", "False",
            "--batch-size", str(shared.BATCH), *shared.NETWORK]
    assert train.main(args) == 0
    pd.testing.assert_frame_equal(pd.read_csv(copy / "history.csv"), before)


def test_windows_and_features_give_the_same_motion(baseline, data):
    model = IVA19Model(baseline)
    meta = DatasetMeta.load(data)
    test_id = meta.splits["test"][0]
    windows = np.load(data / "test_inputs" / f"X_test_{test_id}.npy")
    motion = model.from_windows(windows)
    assert motion.shape == (len(windows), 96)
    np.testing.assert_allclose(model.from_windows(windows, batch_size=7), motion, rtol=1e-5,
                               atol=1e-4)  # float32 round-off of other batch shapes
    features = meta.sequence("test", test_id)["audio"]
    np.testing.assert_allclose(model.from_features(features, batch_size=50), motion, rtol=1e-5,
                               atol=1e-4)  # float32 round-off of windows made two ways


def test_codes_of_other_motion_are_refused(tmp_path_factory, data, tmp_path):
    codes = shared.encoded(tmp_path_factory)
    other = tmp_path / "other"
    shutil.copytree(data, other)
    y = np.load(other / "Y_train.npy")
    np.save(other / "Y_train.npy", y + 1.0)
    with pytest.raises(PipelineError, match="differs from the motion"):
        encoded_targets(DatasetMeta.load(other), codes, shared.DIM)
    with pytest.raises(PipelineError, match="codes of DIM 16, but DIM 8"):
        encoded_targets(DatasetMeta.load(data), codes, 8)
