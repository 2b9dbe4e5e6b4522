"""Import of the published IVA'19 model: tiny files in the published formats, made here.

A Keras-2-layout HDF5 (``model_config`` JSON + ``model_weights`` groups, as Keras 2.2 saves a
``Sequential``) written with h5py, a TF1 checkpoint written with ``tf.compat.v1.train.Saver``
in graph mode (its ``checkpoint`` file pointing elsewhere, like the published one), and the
normalisation arrays; the imported model is checked against an independent numpy forward pass
of the same weights. With ``IVA19_DEMO_DIR`` set to a checkout of the authors' demo repository
(``models/``, ``data/``), the real model is imported too and its motion checked for
plausibility.
"""

import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile
from python_speech_features import mfcc
from scipy.signal import savgol_filter

import predict
from data_processing.bvh import Skeleton, read_bvh
from data_processing.files import PipelineError, read_json, run_cli
from data_processing.motion import Motion
from evaluation.beats import pair_audio
from helpers import import_iva19_model
from helpers.families import load_model
from speech_encoder import original
from tests.conftest import TINY_BVH

WINDOW, UNITS, GRU, DIM = 5, 8, 6, 4  # a tiny network of the published layout
D = 3 * len(original.JOINT_NAMES)
WINLEN, WINSTEP = 0.06666666666, 0.0166666666  # the original's literals
DEMO_DIR = os.environ.get("IVA19_DEMO_DIR")


# --------------------------------------------------------------------------------------------
# Files in the published formats


def keras2_layers(*, window=WINDOW, features=30, extra=()):
    """The Keras 2.2 ``model_config`` layers of the published network, tiny."""
    def layer(kind, name, **config):
        return {"class_name": kind, "config": {"name": name, "trainable": True, **config}}

    def dense(name, units):
        return {"class_name": "Dense", "config": {"name": name, "units": units,
                                                  "activation": "linear", "use_bias": True}}

    bn = {"axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True}
    layers = [layer("TimeDistributed", "time_distributed_1", dtype="float32",
                    batch_input_shape=[None, window, features], layer=dense("dense_1", UNITS))]
    for i in (1, 2):
        if i == 2:
            layers.append(layer("TimeDistributed", "time_distributed_2",
                                layer=dense("dense_2", UNITS)))
        layers += [layer("BatchNormalization", f"batch_normalization_{i}", **bn),
                   layer("Activation", f"activation_{i}", activation="relu"),
                   layer("Dropout", f"dropout_{i}", rate=0.1)]
    layers += [
        *extra,
        layer("GRU", "gru_1", units=GRU, activation="tanh", recurrent_activation="hard_sigmoid",
              use_bias=True, return_sequences=False, reset_after=False, implementation=1),
        layer("BatchNormalization", "batch_normalization_3", **bn),
        layer("Activation", "activation_3", activation="relu"),
        layer("Dropout", "dropout_3", rate=0.1),
        layer("Dense", "dense_3", units=DIM, activation="linear", use_bias=True),
        layer("Activation", "activation_4", activation="linear"),
    ]
    return layers


def random_weights(rng, features=30):
    """Weights per layer name, in Keras 2's ``weight_names`` order."""
    def bn(width):
        return [("gamma", rng.uniform(0.5, 1.5, width)), ("beta", rng.normal(0, 0.3, width)),
                ("moving_mean", rng.normal(0, 0.3, width)),
                ("moving_variance", rng.uniform(0.5, 2.0, width))]

    def normal(*shape):
        return rng.normal(0, 0.4, shape)

    weights = {
        "time_distributed_1": [("kernel", normal(features, UNITS) / 3), ("bias", normal(UNITS))],
        "batch_normalization_1": bn(UNITS),
        "time_distributed_2": [("kernel", normal(UNITS, UNITS)), ("bias", normal(UNITS))],
        "batch_normalization_2": bn(UNITS),
        "gru_1": [("kernel", normal(UNITS, 3 * GRU)), ("recurrent_kernel", normal(GRU, 3 * GRU)),
                  ("bias", normal(3 * GRU))],
        "batch_normalization_3": bn(GRU),
        "dense_3": [("kernel", normal(GRU, DIM)), ("bias", normal(DIM))],
    }
    return {name: [(w, a.astype(np.float32)) for w, a in arrays]
            for name, arrays in weights.items()}


def write_keras2_hdf5(path, layers, weights):
    """A whole-model file as Keras 2.2's ``model.save`` writes it."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {
            "name": "sequential_1", "layers": layers}}).encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [spec["config"]["name"].encode() for spec in layers]
        for spec in layers:
            name = spec["config"]["name"]
            arrays = weights.get(name, [])
            layer = group.create_group(name)
            layer.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w, _ in arrays]
            for w, array in arrays:
                layer.create_dataset(f"{name}/{w}:0", data=array)
    return path


def write_tf1_checkpoint(prefix, variables):
    """A TF1 checkpoint of ``AE_Variables/Variables/*`` (graph mode, ``Saver``)."""
    import tensorflow as tf

    with tf.Graph().as_default():
        with tf.compat.v1.variable_scope("AE_Variables"):
            for name, value in variables.items():
                tf.compat.v1.get_variable(f"Variables/{name}", initializer=tf.constant(value))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(prefix))
    (Path(prefix).parent / "checkpoint").write_text(
        'model_checkpoint_path: "/home/someone/tmp/MoCap/112/chkpt-final"\n')
    return prefix


def mean_pose(rng):
    """A 46-joint pose ``(138,)``: random bones down the tree, the hips at the origin."""
    offsets = rng.normal(0, 3.0, (len(original.JOINT_NAMES), 3)) + [0.0, 4.0, 0.0]
    positions = np.zeros_like(offsets)
    for j, parent in enumerate(original.JOINT_PARENTS):
        if parent >= 0:
            positions[j] = positions[parent] + offsets[j]
    return positions.reshape(-1)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The four published files, tiny, and the arrays in them."""
    rng = np.random.default_rng(19)
    root = tmp_path_factory.mktemp("published")
    (root / "DAE_checkpoints").mkdir()
    weights = random_weights(rng)
    dae = {"matrix1": rng.normal(0, 0.2, (D, DIM)), "bias1": rng.normal(0, 0.2, DIM),
           "matrix2": rng.normal(0, 0.5, (DIM, D)), "bias2": rng.normal(0, 0.2, D)}
    dae = {k: v.astype(np.float32) for k, v in dae.items()}
    arrays = {"weights": {k: [a for _, a in v] for k, v in weights.items()}, "dae": dae,
              "max_val": rng.uniform(1.0, 3.0, D), "mean_pose": mean_pose(rng)}
    np.save(root / "max_val.npy", arrays["max_val"])
    np.save(root / "mean_pose.npy", arrays["mean_pose"])
    return {"model": write_keras2_hdf5(root / "Model.hdf5", keras2_layers(), weights),
            "dae": write_tf1_checkpoint(root / "DAE_checkpoints" / "chkpt-final", dae),
            "max_val": root / "max_val.npy", "mean_pose": root / "mean_pose.npy",
            "arrays": arrays, "root": root}


def import_args(files, out, *extra):
    return [str(files["model"]), str(files["dae"]), str(files["max_val"]),
            str(files["mean_pose"]), str(out), *extra]


@pytest.fixture(scope="module")
def imported(published, tmp_path_factory):
    """The import with the original's smoothing, and one without."""
    root = tmp_path_factory.mktemp("imported")
    assert import_iva19_model.main(import_args(published, root / "smoothed")) == 0
    assert import_iva19_model.main(import_args(published, root / "raw", "--no-smoothing")) == 0
    return {"smoothed": root / "smoothed", "raw": root / "raw"}


def speech(path, *, seconds=1.2, sr=22050, stereo=True, peak=0.95):
    """Loud voiced-like speech: the int16 channels add up beyond int16 (the original's bug)."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    voice = np.sin(2 * np.pi * np.cumsum(f0) / sr) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    left = peak * voice
    right = 0.9 * left + 0.05 * np.sin(2 * np.pi * 900 * t)
    soundfile.write(path, np.stack([left, right], 1) if stereo else left, sr, subtype="PCM_16")
    return path


# --------------------------------------------------------------------------------------------
# The independent numpy forward pass


def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def batch_norm(x, gamma, beta, mean, variance, eps=1e-3):
    return gamma * (x - mean) / np.sqrt(variance + eps) + beta


def gru(x, kernel, recurrent, bias):
    """Keras 2 GRU, ``reset_after=False``, gates z, r, h; the last output."""
    units = recurrent.shape[0]
    h = np.zeros((len(x), units))
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias, 3, axis=1)
        uz, ur, uh = np.split(recurrent, 3, axis=1)
        z, r = hard_sigmoid(xz + h @ uz), hard_sigmoid(xr + h @ ur)
        h = z * h + (1 - z) * np.tanh(xh + (r * h) @ uh)
    return h


def reference_positions(arrays, features):
    """Positions ``(T, 138)`` of features ``(T, 30)`` by the original chain, in float64."""
    w = {k: [a.astype(np.float64) for a in v] for k, v in arrays["weights"].items()}
    silence = np.concatenate([mfcc(np.zeros(44100), samplerate=44100, winlen=WINLEN,
                                   winstep=WINSTEP, numcep=26)[0], np.zeros(4)])
    half = (WINDOW - 1) // 2
    padded = np.concatenate([np.repeat(silence[None], half, 0), features,
                             np.repeat(silence[None], half, 0)])
    h = np.stack([padded[i : i + WINDOW] for i in range(len(features))])
    for i in (1, 2):
        kernel, bias = w[f"time_distributed_{i}"]
        h = np.maximum(batch_norm(h @ kernel + bias, *w[f"batch_normalization_{i}"]), 0.0)
    h = np.maximum(batch_norm(gru(h, *w["gru_1"]), *w["batch_normalization_3"]), 0.0)
    kernel, bias = w["dense_3"]
    codes = h @ kernel + bias
    dae = {k: v.astype(np.float64) for k, v in arrays["dae"].items()}
    return (np.tanh(codes @ dae["matrix2"] + dae["bias2"]) * (arrays["max_val"] + 1e-15)
            + arrays["mean_pose"])


# --------------------------------------------------------------------------------------------
# Import and inference


def test_import_equals_the_numpy_forward_pass(published, imported, rng):
    features = rng.normal(0, 1, (12, 30)).astype(np.float32)
    expected = reference_positions(published["arrays"], features.astype(np.float64))
    raw = load_model(imported["raw"])
    assert raw.kind == "iva19_original"
    assert raw.fps == 20.0
    motion = raw.generate(features)[0]
    np.testing.assert_allclose(motion.positions.reshape(12, D), expected, rtol=0, atol=1e-5)
    smoothed = load_model(imported["smoothed"]).generate(features)[0].positions.reshape(12, D)
    np.testing.assert_allclose(smoothed, savgol_filter(expected, 7, 3, axis=0), rtol=0, atol=1e-5)


def test_keras3_hard_sigmoid_would_differ():
    """Keras 3's ``hard_sigmoid`` (slope 1/6) is not the published network's (slope 0.2)."""
    import keras

    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(original.keras2_hard_sigmoid(x)),
                               hard_sigmoid(x))
    assert not np.allclose(keras.ops.convert_to_numpy(keras.activations.hard_sigmoid(x)),
                           hard_sigmoid(x))


def test_model_directory_and_card(published, imported):
    card = read_json(imported["smoothed"] / "config.json")
    assert card["kind"] == "iva19_original"
    assert card["n_context"] == WINDOW - 1
    assert (card["dim"], card["motion_size"]) == (DIM, D)
    assert card["smoothing"] == {"window": 7, "order": 3}
    assert read_json(imported["raw"] / "config.json")["smoothing"] is None
    assert card["source"]["keras_version"] == "2.2.4"
    assert not any("dropout" in layer for layer in card["layers"])
    skeleton = Skeleton.load(imported["smoothed"] / "skeleton.json")
    assert skeleton.names == original.JOINT_NAMES
    np.testing.assert_allclose(skeleton.rest_positions().reshape(-1),
                               published["arrays"]["mean_pose"], atol=1e-5)


def test_the_checkpoint_directory_works_and_its_checkpoint_file_is_ignored(published, tmp_path):
    # The fixture's `checkpoint` file names a path that does not exist.
    files = {**published, "dae": published["dae"].parent}
    assert import_iva19_model.main(import_args(files, tmp_path / "model")) == 0
    card = read_json(tmp_path / "model" / "config.json")
    assert card["source"]["dae_checkpoint"] == str(published["dae"].resolve())


def test_audio_features_follow_the_original_recipe(tmp_path):
    """MFCC of the float mix at the native rate (every 3rd frame), prosody of the channels."""
    path = speech(tmp_path / "loud.wav")
    features = original.original_features(path)
    sr, (left, right) = 22050, soundfile.read(path, dtype="int16")[0].T
    correct = (left.astype(np.float64) + right) / 2
    wrapped = (left + right) / 2  # the original's int16 sum
    assert np.any(wrapped != correct)
    expected = mfcc(correct, samplerate=sr, winlen=WINLEN, winstep=WINSTEP, numcep=26)[::3]
    n = len(features)
    np.testing.assert_allclose(features[:, :26], expected[:n], rtol=1e-5, atol=1e-4)
    buggy = mfcc(wrapped, samplerate=sr, winlen=WINLEN, winstep=WINSTEP, numcep=26)[::3]
    assert np.abs(buggy[:n] - expected[:n]).max() > 0.1
    np.testing.assert_allclose(features[:, 26:], reference_prosody(path)[:n], atol=1e-5)
    assert n == min(len(expected), len(reference_prosody(path)))


def reference_prosody(path, step=5.555555555 / 1000):
    """The original's prosody, Praat reading the file itself."""
    import parselmouth

    sound = parselmouth.Sound(str(path))
    pitch, intensity = sound.to_pitch(time_step=step), sound.to_intensity(time_step=step)
    times = np.arange(0, sound.get_total_duration() - step, step)
    f0 = np.nan_to_num(np.asarray([pitch.get_value_at_time(t) for t in times]))
    db = np.clip(np.nan_to_num(np.asarray([intensity.get_value(t) for t in times])),
                 np.finfo(float).eps, None)
    pitch_norm, energy = np.clip(np.log(f0 + 1) - 4, 0, None), np.clip(np.log(db) - 3, 0, None)

    def derivative(f):
        d = (np.convolve(f, [1, -1]) / (1000 * step))[:-1].copy()
        d[0] = 0
        return d

    def average(a, n=9):
        return a[: n * (len(a) // n)].reshape(-1, n).mean(1)

    return np.stack([average(energy), average(derivative(energy)), average(pitch_norm),
                     average(derivative(pitch_norm))], axis=1)


def test_mfcc_in_chunks_equals_one_call(rng):
    signal = rng.normal(0, 3000, 16000 + 123)
    whole = mfcc(signal, samplerate=16000, winlen=WINLEN, winstep=WINSTEP, numcep=26)[::3]
    np.testing.assert_allclose(original.original_mfcc(signal, 16000, chunk_frames=7), whole,
                               rtol=1e-10, atol=1e-10)


def test_predict_writes_positions_and_bvh_via_the_registry(imported, tmp_path):
    wav = speech(tmp_path / "speech.wav")
    assert predict.main([str(imported["smoothed"]), str(wav), str(tmp_path / "out.npy")]) == 0
    assert predict.main([str(imported["smoothed"]), str(wav), str(tmp_path / "out.bvh")]) == 0
    positions = np.load(tmp_path / "out.npy")
    n = len(original.original_features(wav))
    assert positions.shape == (n, D)
    assert np.isfinite(positions).all()
    bvh = read_bvh(tmp_path / "out.bvh")
    assert bvh.n_frames == n
    assert bvh.fps == pytest.approx(20.0)
    assert bvh.skeleton.names == original.JOINT_NAMES
    assert np.isfinite(bvh.positions()).all()


def test_flac_is_accepted_where_wav_is(imported, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    speech(inputs / "a.wav")
    data, sr = soundfile.read(inputs / "a.wav")
    soundfile.write(inputs / "b.flac", data, sr, subtype="PCM_16")
    assert predict.main([str(imported["raw"]), str(inputs), str(tmp_path / "out"),
                         "--format", "npy"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "a.npy"),
                                  np.load(tmp_path / "out" / "b.npy"))
    motion = Motion(np.zeros((3, 1, 3)), 20.0, name="pred/b.npy")
    assert pair_audio([motion], [inputs]) == [inputs / "b.flac"]


def tiny_iva19_model(directory):
    """An untrained model of the project's own IVA'19 kind (no training: the suffix check)."""
    from speech_encoder.model import (
        ModelCard,
        NetworkConfig,
        SpeechToMotion,
        build_network,
        save_model,
    )

    bvh = directory / "tiny.bvh"
    bvh.write_text(TINY_BVH)
    skeleton = read_bvh(bvh).skeleton
    size = 6 * skeleton.n_joints
    network = build_network(window=3, feature_size=26, output_size=size,
                            audio_mean=np.zeros(26), audio_std=np.ones(26),
                            config=NetworkConfig(units=4, blocks=1, gru_units=4), seed=0)
    card = ModelCard(predicts="motion", output_size=size, motion="pos_vel", motion_size=size,
                     features="MFCC", mel_preset="iva19", fps=20.0, n_context=2,
                     feature_size=26, dataset="tiny")
    model = SpeechToMotion(network, np.zeros(size), np.ones(size))
    return save_model(model, card, directory / "model", skeleton)


def test_the_project_iva19_model_takes_flac_like_wav(tmp_path):
    model = load_model(tiny_iva19_model(tmp_path))
    wav = speech(tmp_path / "s.wav", stereo=False)
    data, sr = soundfile.read(wav)
    soundfile.write(tmp_path / "s.flac", data, sr, subtype="PCM_16")
    from_wav = model.generate(wav)[0].positions
    np.testing.assert_array_equal(model.generate(tmp_path / "s.flac")[0].positions, from_wav)


# --------------------------------------------------------------------------------------------
# Bad input: one line naming the file, nothing written


def assert_nothing_written(out):
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".partial-")]


def import_error(files, out) -> str:
    with pytest.raises(PipelineError) as error:
        import_iva19_model.main(import_args(files, out))
    assert "\n" not in str(error.value)
    assert_nothing_written(out)
    return str(error.value)


@pytest.mark.parametrize("key", ["model", "dae", "max_val", "mean_pose"])
def test_missing_file(published, tmp_path, key):
    missing = tmp_path / "missing"
    message = import_error({**published, key: missing}, tmp_path / "out")
    assert str(missing) in message


def test_wrong_layer_layout(published, tmp_path):
    weights = random_weights(np.random.default_rng(0))
    conv = {"class_name": "Conv1D", "config": {"name": "conv1d_1", "filters": 4}}
    model = write_keras2_hdf5(tmp_path / "conv.hdf5", keras2_layers(extra=[conv]), weights)
    assert "layer conv1d_1 is a Conv1D" in import_error({**published, "model": model},
                                                         tmp_path / "out")
    weights["gru_1"][1] = ("recurrent_kernel", np.zeros((GRU, 2 * GRU), np.float32))
    model = write_keras2_hdf5(tmp_path / "shapes.hdf5", keras2_layers(), weights)
    message = import_error({**published, "model": model}, tmp_path / "out")
    assert "layer gru_1 has weights of shapes" in message
    assert str(model) in message
    model = write_keras2_hdf5(tmp_path / "features.hdf5", keras2_layers(features=26),
                              random_weights(np.random.default_rng(0), features=26))
    assert "x 30 (MFCC 26 + prosody 4)" in import_error({**published, "model": model},
                                                         tmp_path / "out")


def test_weights_only_file_and_wrong_checkpoint(published, tmp_path):
    weights_only = tmp_path / "weights.hdf5"
    with h5py.File(weights_only, "w") as f:
        f.create_group("dense_1")
    assert "no model_config" in import_error({**published, "model": weights_only},
                                             tmp_path / "out")
    dae = dict(published["arrays"]["dae"])
    dae["matrix2"] = dae["matrix2"][:, :-3]
    (tmp_path / "other").mkdir()
    prefix = write_tf1_checkpoint(tmp_path / "other" / "chkpt", dae)
    assert "DAE variables of shapes" in import_error({**published, "dae": prefix},
                                                     tmp_path / "out")


def test_existing_directory_of_another_kind_is_kept(published, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(PipelineError, match="is not an iva19_original model directory"):
        import_iva19_model.main(import_args(published, out))
    assert (out / "notes.txt").read_text() == "mine"


def test_cli_error_is_one_line(published, tmp_path, monkeypatch, capsys):
    argv = import_args({**published, "model": tmp_path / "no.hdf5"}, tmp_path / "out")
    monkeypatch.setattr(sys, "argv", ["import_iva19_model.py", *argv])
    with pytest.raises(SystemExit) as done:
        run_cli(import_iva19_model.main)
    assert done.value.code == 1
    assert capsys.readouterr().err.splitlines() == [f"error: {tmp_path / 'no.hdf5'}: no such file"]
    assert_nothing_written(tmp_path / "out")


# --------------------------------------------------------------------------------------------
# The real published model, where a checkout of the demo repository is given


@pytest.mark.skipif(not DEMO_DIR, reason="IVA19_DEMO_DIR (the demo repository) not set")
def test_the_published_model_is_plausible(tmp_path):
    models, wav = Path(DEMO_DIR) / "models", sorted((Path(DEMO_DIR) / "data").glob("*.wav"))[0]
    out = original.import_original(models / "Model_MFCC_Pros_Best.hdf5",
                                   models / "DAE_checkpoints" / "chkpt-final",
                                   models / "max_val.npy", models / "mean_pose.npy",
                                   tmp_path / "published")
    motion = load_model(out).generate(wav)[0]
    positions = motion.positions
    assert np.isfinite(positions).all()
    assert motion.duration == pytest.approx(soundfile.info(wav).duration, abs=0.2)
    assert np.abs(positions[:, 0]).max() < 1e-6  # the hips stay pinned
    hands = positions[:, [11, 30]]
    assert np.linalg.norm(np.diff(hands, axis=0), axis=-1).mean() > 0.2  # cm per frame
    parents = np.array(original.JOINT_PARENTS)
    bones = np.linalg.norm(positions[:, 1:] - positions[:, parents[1:]], axis=-1)
    long = bones.mean(0) > 5.0
    assert (bones.std(0)[long] / bones.mean(0)[long]).max() < 0.15
