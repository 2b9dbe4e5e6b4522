import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile

import predict
from data_processing import files
from data_processing.bvh import read_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, read_json, write_json
from data_processing.kinematics import frame_count
from data_processing.motion import from_vectors, motion_id
from data_processing.representations import strip_velocity
from helpers.families import load_model
from tests import iva19_helpers as shared
from tests.conftest import REPO


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return shared.dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return shared.speech_model(tmp_path_factory)


@pytest.fixture(scope="module")
def proposed(tmp_path_factory):
    return shared.speech_model(tmp_path_factory, "dae")


@pytest.fixture(scope="module")
def test_file(data):
    meta = DatasetMeta.load(data)
    seq_id = meta.splits["test"][0]
    return seq_id, data / "test_inputs" / f"X_test_{seq_id}.npy", meta.files[seq_id]["wav"]


def run_cli(*args):
    """``predict.py ARGS`` in a new process (start-up and exit status of the real command)."""
    return subprocess.run([sys.executable, str(REPO / "predict.py"), *map(str, args)],
                          capture_output=True, text=True, check=False)


def run_command(monkeypatch, capsys, *args):
    """``predict.py ARGS`` as its ``__main__`` runs it (``run_cli``), in this process.

    The same one-line error and exit status as :func:`run_cli` without a TensorFlow start-up
    per case; :func:`run_cli` checks the real process once
    (``test_the_old_model_file_form_says_what_to_pass``).
    """
    monkeypatch.setattr(sys, "argv", ["predict.py", *map(str, args)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        files.run_cli(predict.main)
    return subprocess.CompletedProcess(args, exit_info.value.code, *capsys.readouterr())


def assert_one_line_error(done, *fragments):
    assert done.returncode == 1, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-2000:]
    for fragment in fragments:
        assert fragment in errors[0]


def test_windows_to_text_one_frame_per_window(baseline, test_file, tmp_path):
    _, windows, _ = test_file
    assert predict.main([str(baseline), str(windows), str(tmp_path / "out.txt")]) == 0
    motion = np.loadtxt(tmp_path / "out.txt")
    assert motion.shape == (len(np.load(windows)), 96)


def test_wav_gives_one_frame_per_audio_frame(baseline, test_file, tmp_path):
    _, windows, wav = test_file
    assert predict.main([str(baseline), wav, str(tmp_path / "out.npy"), "--batch-size",
                         "37"]) == 0
    motion = np.load(tmp_path / "out.npy")
    signal, sr = soundfile.read(wav)
    assert len(motion) == frame_count(len(signal) / sr, 20.0)
    model = load_model(baseline)
    expected = strip_velocity(model.from_windows(np.load(windows)))
    np.testing.assert_allclose(strip_velocity(motion), expected, atol=1e-4)
    velocity = np.diff(expected.reshape(len(expected), -1, 3), axis=0)  # frame differences
    np.testing.assert_allclose(motion.reshape(len(motion), -1, 6)[1:, :, 3:], velocity,
                               atol=1e-4)


def test_bvh_output_is_the_ik_export_on_the_dataset_skeleton(baseline, data, test_file,
                                                              tmp_path):
    _, windows, _ = test_file
    assert predict.main([str(baseline), str(windows), str(tmp_path / "out.bvh")]) == 0
    written = read_bvh(tmp_path / "out.bvh")
    meta = DatasetMeta.load(data)
    vectors = load_model(baseline).from_windows(np.load(windows))
    assert written.n_frames == len(vectors)
    assert written.fps == pytest.approx(meta.fps)
    assert written.skeleton.names == meta.skeleton.names
    expected = from_vectors(vectors, meta.skeleton, meta.fps).to_bvh().motion.positions()
    np.testing.assert_allclose(written.positions(), expected, atol=0.01)  # 4 decimals
    with pytest.raises(PipelineError, match="one motion per input"):
        predict.main([str(baseline), str(windows), str(tmp_path / "x.npy"), "--samples", "2"])
    with pytest.raises(PipelineError, match="takes no --insert"):
        predict.main([str(baseline), str(windows), str(tmp_path / "x.npy"), "--insert", "a@1"])


def test_audio_of_any_length(baseline, test_file, tmp_path):
    _, _, wav = test_file
    signal, sr = soundfile.read(wav)
    for seconds in (0.3, 61.7):  # shorter than a window; longer than the recording
        clip = np.resize(signal, int(seconds * sr))
        soundfile.write(tmp_path / "clip.wav", clip, sr)
        model = load_model(baseline)
        [motion] = model.generate(tmp_path / "clip.wav", batch_size=256)
        assert motion.positions.shape == (frame_count(len(clip) / sr, 20.0), 16, 3)
        assert np.isfinite(motion.positions).all()


def test_codes_are_decoded_automatically(proposed, test_file, tmp_path):
    _, windows, _ = test_file
    assert predict.main([str(proposed), str(windows), str(tmp_path / "out.npy")]) == 0
    assert np.load(tmp_path / "out.npy").shape == (len(np.load(windows)), 96)


def test_directory_mode_names_by_id(baseline, data, tmp_path):
    assert predict.main([str(baseline), str(data / "test_inputs"), str(tmp_path / "out")]) == 0
    meta = DatasetMeta.load(data)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        sorted(f"{i}.txt" for i in meta.splits["test"])


def test_directory_mode_is_all_or_nothing(baseline, data, tmp_path):
    inputs = tmp_path / "inputs"
    shutil.copytree(data / "test_inputs", inputs)
    (inputs / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(PipelineError, match="broken.wav"):
        predict.main([str(baseline), str(inputs), str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


# -- bad input: one line, exit 1, no output ------------------------------------------------------


def test_features_of_another_size(baseline, test_file, tmp_path, monkeypatch, capsys):
    _, windows, _ = test_file
    short = np.load(windows)[:, :, :20]
    np.save(tmp_path / "X_test_a.npy", short)
    done = run_command(monkeypatch, capsys, baseline, tmp_path / "X_test_a.npy",
                       tmp_path / "out.txt")
    assert_one_line_error(done, "expects windows (T, 11, 26) of MFCC features",
                          f"found shape ({len(short)}, 11, 20)")
    assert not (tmp_path / "out.txt").exists()


def test_windows_of_another_feature_set(baseline, data, test_file, tmp_path):
    _, windows, _ = test_file
    other = tmp_path / "other"
    (other / "test_inputs").mkdir(parents=True)
    shutil.copy(windows, other / "test_inputs")
    meta = read_json(data / "meta.json")
    write_json(other / "meta.json", {**meta, "features": "Pros+MFCC"})
    with pytest.raises(PipelineError, match="windows of Pros\\+MFCC features.*expects MFCC"):
        predict.main([str(baseline), str(other / "test_inputs" / windows.name),
                      str(tmp_path / "out.txt")])
    write_json(other / "meta.json", {**meta, "mfcc_rate": "16k"})
    with pytest.raises(PipelineError, match="MFCC rate 16k.*MFCC rate native"):
        predict.main([str(baseline), str(other / "test_inputs" / windows.name),
                      str(tmp_path / "out.txt")])
    assert not (tmp_path / "out.txt").exists()


def test_missing_dae_checkpoint(proposed, test_file, tmp_path, monkeypatch, capsys):
    _, windows, _ = test_file
    model = tmp_path / "m"
    shutil.copytree(proposed, model)
    card = read_json(model / "config.json")
    write_json(model / "config.json", {**card, "representation": str(tmp_path / "gone")})
    done = run_command(monkeypatch, capsys, model, windows, tmp_path / "out.txt")
    assert_one_line_error(done, "DIM-16 codes", "gone", "missing")
    assert not (tmp_path / "out.txt").exists()


def test_unreadable_wav(baseline, tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    done = run_command(monkeypatch, capsys, baseline, tmp_path / "bad.wav", tmp_path / "out.txt")
    assert_one_line_error(done, "bad.wav", "not a readable audio file")
    assert not (tmp_path / "out.txt").exists()


def test_unknown_model_kind_and_missing_model(baseline, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(baseline, model)
    write_json(model / "config.json", {"kind": "other", "format": 1})
    with pytest.raises(PipelineError, match="a 'other' artifact, expected iva19 or a2g"):
        load_model(model)
    with pytest.raises(PipelineError, match="none: no such directory"):
        load_model(tmp_path / "none")


def test_the_old_model_file_form_says_what_to_pass(baseline, test_file, tmp_path):
    _, windows, _ = test_file
    done = run_cli(tmp_path / "model.keras", windows, tmp_path / "out.txt")
    assert_one_line_error(done, "model.keras: IVA'19 models are directories", "pass")
    assert not (tmp_path / "out.txt").exists()


def test_ids():
    assert motion_id("a/X_test_audio1094.npy") == "1094"
    assert motion_id("b/demo_001.wav") == "demo_001"
