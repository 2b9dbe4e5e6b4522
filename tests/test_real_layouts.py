"""Real dataset layouts through the steps, from the CLIs: BEAT2 (made here) and GENEA.

In-process and cheap: ``prepare_data`` -> ``create_vector`` -> the model families trained for
one step at tiny widths (eagerly) -> ``predict.py`` (and for BEAT2, every family, then
``evaluation/report.py``; for GENEA, whose real samples are read when present, Audio2Gestures
and HA2G sampled to BVH). Quality does not matter here; that each step reads the previous
step's files, with no option the layout does not need, does.
"""

from pathlib import Path

import pandas as pd
import pytest
import soundfile

import predict
import train
from data_processing import create_vector, prepare_data
from data_processing.bvh import BVHMotion, read_bvh, write_bvh
from data_processing.dataset import DatasetMeta
from evaluation import report
from gesture_vae import train as a2g_train
from ha2g import train as ha2g_train
from tests.conftest import GENEA_FILES, eager_functions
from tests.test_beat2 import beat2_folder, speech

FPS = 15  # HA2G's TED rate: few frames, yet clips of 34 frames fit in the recordings
SECONDS = 4.0


def train_every_family(data, runs) -> dict:
    """IVA'19, Audio2Gestures and HA2G trained for one step on ``data`` (call it eagerly)."""
    meta = DatasetMeta.load(data)
    models = {name: runs / name for name in ("iva19", "a2g", "ha2g")}
    assert train.main([str(models["iva19"]), "1", str(data), str(meta.feature_size), "False",
                       "--batch-size", "64"]) == 0
    assert a2g_train.main([str(data), str(models["a2g"]), "--preset", "demo", "--steps", "1",
                           "--epoch-steps", "1", "--crop-frames", "32", "--batch-size", "2"]) == 0
    assert ha2g_train.main([str(data), str(models["ha2g"]), "--preset", "demo", "--epochs", "1",
                            "--batch-size", "4"]) == 0
    return models


def predict_and_report(data, models, out) -> pd.DataFrame:
    """Every model's motion for the test split's speech, scored by ``evaluation/report.py``."""
    methods = []
    for name, model in models.items():
        assert predict.main([str(model), str(data / "test" / "inputs"), str(out / name),
                             "--format", "npy"]) == 0
        methods += ["--method", name, str(out / name), str(data)]
    assert report.main(["--truth", f"{data}:test", *methods, "--out", str(out / "report"),
                        "--boot", "20", "--segment", "1"]) == 0
    return pd.read_csv(out / "report.csv", comment="#")


def beat2_chain_folder(root):
    """:func:`tests.test_beat2.beat2_folder` of 4 s recordings: two for training, two held
    out (no dev split: no evaluation per epoch), one of them FLAC speech."""
    raw, model_file = beat2_folder(root, SECONDS)
    split = pd.read_csv(raw / "train_test_split.csv")
    split["type"] = split["type"].replace({"val": "additional", "additional": "test"})
    split.to_csv(raw / "train_test_split.csv", index=False)
    wav = raw / "wave16k" / "2_scott_0_4_4.wav"
    soundfile.write(wav.with_suffix(".flac"), *soundfile.read(wav))
    wav.unlink()
    return raw, model_file


@pytest.mark.slow
def test_beat2_layout_through_every_step(tmp_path):
    raw, model_file = beat2_chain_folder(tmp_path)
    data = tmp_path / "data"
    assert prepare_data.main([str(raw), str(data), "--smplx-model", str(model_file),
                              "--smplx-joints", "body"]) == 0
    assert create_vector.main([str(data), "0", "--fps", str(FPS), "--features", "Spectro",
                               "--mel-preset", "a2g", "--motion", "rot6d"]) == 0
    assert (data / "test" / "inputs" / "2_scott_0_4_4.flac").is_file()
    with eager_functions():
        models = train_every_family(data, tmp_path / "runs")
        table = predict_and_report(data, models, tmp_path / "out")
    assert table.iloc[:, 0].tolist()[-3:] == ["iva19", "a2g", "ha2g"]
    for name in models:
        assert sorted(p.name for p in (tmp_path / "out" / name).iterdir()) == [
            "2_scott_0_4_4.npy", "2_scott_0_5_5.npy"]


def genea_folder(root) -> Path:
    """The GENEA layout (``wav/`` + ``bvh/``) of the real GENEA samples, each cut in two
    recordings of :data:`SECONDS` with made speech."""
    raw = root / "genea_trn"
    for folder in ("wav", "bvh"):
        (raw / folder).mkdir(parents=True)
    for k, path in enumerate(GENEA_FILES):
        bvh = read_bvh(path)
        n = round(SECONDS / bvh.frame_time)
        for piece in range(2):
            name = f"{path.stem}_{piece}"
            write_bvh(raw / "bvh" / f"{name}.bvh", BVHMotion(
                bvh.skeleton, bvh.frames[piece * n : (piece + 1) * n], bvh.frame_time))
            speech(raw / "wav" / f"{name}.wav", 2 * k + piece, SECONDS)
    return raw


@pytest.mark.slow
@pytest.mark.skipif(not GENEA_FILES, reason="GENEA samples not available (../shared/data)")
def test_genea_layout_trains_and_samples_a2g_and_ha2g(tmp_path):
    data = tmp_path / "data"
    assert prepare_data.main([str(genea_folder(tmp_path)), str(data), "--ratios", "0.5", "0",
                              "0.5"]) == 0
    assert create_vector.main([str(data), "0", "--fps", str(FPS), "--features", "Spectro",
                               "--mel-preset", "a2g", "--motion", "rot6d"]) == 0
    assert DatasetMeta.load(data).output_size == 747  # every translating joint kept
    wav = next((data / "test" / "inputs").glob("*.wav"))
    with eager_functions():
        assert a2g_train.main([str(data), str(tmp_path / "a2g"), "--preset", "demo",
                               "--steps", "1", "--epoch-steps", "1", "--crop-frames", "32",
                               "--batch-size", "2"]) == 0
        assert ha2g_train.main([str(data), str(tmp_path / "ha2g"), "--preset", "demo",
                                "--epochs", "1", "--batch-size", "4"]) == 0
        assert predict.main([str(tmp_path / "a2g"), str(wav), str(tmp_path / "a2g.bvh"),
                             "--samples", "2"]) == 0
        assert predict.main([str(tmp_path / "ha2g"), str(wav), str(tmp_path / "ha2g.bvh")]) == 0
    names = read_bvh(GENEA_FILES[0]).skeleton.names
    for path in ("a2g_sample0.bvh", "a2g_sample1.bvh", "ha2g.bvh"):
        motion = read_bvh(tmp_path / path)
        assert motion.skeleton.names == names
        assert motion.n_frames == round(SECONDS * FPS)
