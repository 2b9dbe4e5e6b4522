import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest

from data_processing import audio, create_vector, prepare_data
from data_processing.bvh import read_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, read_json, write_json
from data_processing.representations import rot6d_size, to_positions
from tests.conftest import REPO


@pytest.fixture(scope="module")
def prepared(demo_raw, tmp_path_factory):
    data = tmp_path_factory.mktemp("prepared")
    prepare_data.prepare(demo_raw, data)
    return data


def build(prepared, tmp_path, *args):
    data = tmp_path / "data"
    shutil.copytree(prepared, data)
    assert create_vector.main([str(data), *args, "--workers", "1"]) == 0
    return data


def test_pos_vel_vectors(prepared, tmp_path):
    data = build(prepared, tmp_path, "60", "--features", "MFCC+Pros")
    meta = DatasetMeta.load(data)
    assert (meta.fps, meta.features, meta.n_context, meta.motion) == (20.0, "MFCC+Pros", 60,
                                                                     "pos_vel")
    skel = meta.skeleton
    x, y = np.load(data / "X_train.npy"), np.load(data / "Y_train.npy")
    assert x.shape == (len(y), 61, 30)
    assert y.shape[1] == meta.output_size == 6 * skel.n_joints
    assert len(y) == 20 * 12 * len(meta.splits["train"])  # 12 s files at 20 fps

    # Windows are centred, padded with silence at both ends.
    first = meta.sequence("train", meta.splits["train"][0])
    np.testing.assert_array_equal(x[:240, 30], first["audio"])
    np.testing.assert_array_equal(x[5, 31:36], first["audio"][6:11])
    np.testing.assert_array_equal(x[0, :30], np.repeat(meta.stat("silence")[None], 30, 0))
    np.testing.assert_array_equal(x[239, 31:], np.repeat(meta.stat("silence")[None], 30, 0))

    # pos_vel: root-pinned positions, velocity = frame difference, 0 on the first frame.
    per_joint = y[:240].reshape(240, -1, 6)
    np.testing.assert_allclose(per_joint[0, :, 3:], 0)
    np.testing.assert_allclose(per_joint[1:, :, 3:], np.diff(per_joint[:, :, :3], axis=0),
                               atol=1e-4)
    np.testing.assert_allclose(per_joint[:, skel.root, :3], 0)
    bvh = read_bvh(meta.files[meta.splits["train"][0]]["bvh"]).resample(20)
    np.testing.assert_allclose(to_positions(y[:240], skel, "pos_vel"),
                               bvh.positions(pin_root=True), atol=1e-3)

    # Statistics from the training split only; the test file has its own windows.
    np.testing.assert_allclose(meta.stat("audio_mean"), x[:, 30].mean(0), rtol=1e-4, atol=1e-4)
    test_id = meta.splits["test"][0]
    assert np.load(data / "test_inputs" / f"X_test_{test_id}.npy").shape == (240, 61, 30)
    assert np.load(data / "X_test.npy").shape == (240, 61, 30)
    assert DatasetMeta.load(data).mfcc_rate == "native"  # the original's


def test_rot6d_sequences(prepared, tmp_path):
    data = build(prepared, tmp_path, "0", "--motion", "rot6d", "--fps", "30",
                 "--features", "Spectro", "--mel-preset", "a2g", "--mfcc-rate", "16k")
    meta = DatasetMeta.load(data)
    assert DatasetMeta.load(data).mfcc_rate == "16k"
    raw = read_json(data / "meta.json")
    del raw["mfcc_rate"]  # a dataset made before the option
    write_json(data / "meta.json", raw)
    assert DatasetMeta.load(data).mfcc_rate == "16k"
    skel = meta.skeleton
    assert meta.output_size == rot6d_size(skel)
    seq = meta.sequence("dev", meta.splits["dev"][0])
    t = 30 * 12
    assert seq["audio"].shape == (t, 64)
    assert seq["motion"].shape == (t, rot6d_size(skel))
    assert seq["positions"].shape == (t, 3 * skel.n_joints)
    np.testing.assert_allclose(to_positions(seq["rot6d"], skel, "rot6d").reshape(t, -1),
                               seq["positions"], atol=1e-3)
    assert np.load(data / "X_train.npy").shape[1:] == (1, 64)


def test_duration_mismatch_warns_or_fails(prepared, tmp_path, caplog):
    data = tmp_path / "data"
    shutil.copytree(prepared, data)
    wav = next((data / "dev" / "inputs").glob("*.wav"))
    signal, sr = audio.load_audio(wav)
    import soundfile

    soundfile.write(wav, signal[: int(9 * sr)], sr)  # 9 s of audio for 12 s of motion
    with caplog.at_level(logging.WARNING):
        create_vector.main([str(data), "10", "--workers", "1"])
    assert f"{wav}: audio lasts 9.00 s but" in caplog.text
    meta = DatasetMeta.load(data)
    assert len(meta.sequence("dev", wav.stem)["audio"]) == 180
    before = (data / "meta.json").read_bytes()
    with pytest.raises(PipelineError, match="--strict"):
        create_vector.main([str(data), "10", "--workers", "1", "--strict"])
    assert (data / "meta.json").read_bytes() == before  # the good dataset is kept


def test_bad_bvh_fails_with_its_name(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared, data)
    bvh = next((data / "train" / "labels").glob("*.bvh"))
    bvh.write_text(bvh.read_text()[:-5000])
    with pytest.raises(PipelineError, match=f"{bvh}:.*truncated"):
        create_vector.main([str(data), "10", "--workers", "2"])
    assert not (data / "meta.json").exists()


def test_odd_context_and_missing_tables(tmp_path):
    with pytest.raises(PipelineError, match="even"):
        create_vector.main([str(tmp_path), "7"])
    with pytest.raises(PipelineError, match="gg-train.csv: no such file"):
        create_vector.main([str(tmp_path), "10"])


def test_cli_from_another_directory(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared, data)
    script = REPO / "data_processing" / "create_vector.py"
    done = subprocess.run([sys.executable, str(script), str(data), "4", "--workers", "2"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    failed = subprocess.run([sys.executable, str(script), str(tmp_path / "none"), "4"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'none' / 'gg-train.csv'}: no such file "
        "(run data_processing/prepare_data.py first)")

