import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from data_processing.dataset import DatasetMeta
from data_processing.demo_speaker import demo_skeleton
from data_processing.files import PipelineError, save_array
from motion_repr_learning.ae import decode, encode_dataset, learn_dataset_encoding
from motion_repr_learning.ae.representation import (
    DAESettings,
    Normaliser,
    check_compatible,
    fit_pca,
    learn_dae,
    load_representation,
    motion_fingerprint,
)
from tests.conftest import REPO

ROWS = {"train": 301, "dev": 50, "test": 77}  # not multiples of the batch size


def make_dataset(root, rng, rank=3, rows=ROWS):
    """A dataset directory whose motion is low-rank: ``Y = Z W + offset``, D = 96."""
    skeleton = demo_skeleton()
    width = 6 * skeleton.n_joints
    mixing = rng.normal(scale=5.0, size=(rank, width))
    offset = rng.normal(scale=20.0, size=width)
    arrays = {s: (rng.normal(size=(n, rank)) @ mixing + offset).astype(np.float32)
              for s, n in rows.items()}
    mean = arrays["train"].mean(0)
    save_array(root / "stats" / "motion_mean.npy", mean)
    save_array(root / "stats" / "motion_absmax.npy", np.abs(arrays["train"] - mean).max(0))
    for split, y in arrays.items():
        save_array(root / f"Y_{split}.npy", y)
    skeleton.save(root / "skeleton.json")
    DatasetMeta(fps=20.0, features="MFCC", mel_preset="iva19", feature_size=26, n_context=10,
                motion="pos_vel", output_size=width, source_fps=60.0,
                splits={s: [f"{s}0"] for s in rows}, files={}, root=root).save()
    return DatasetMeta.load(root), arrays


@pytest.fixture
def data(tmp_path, rng):
    return make_dataset(tmp_path / "data", rng)


QUICK = DAESettings(epochs=2, batch_size=128, learning_rate=1e-3, seed=0)


def test_normaliser_known_values():
    norm = Normaliser(np.array([1.0, -2.0], np.float32), np.array([2.0, 4.0], np.float32))
    np.testing.assert_allclose(norm.forward([[3.0, 2.0]]), [[1.0, 1.0]])
    np.testing.assert_allclose(norm.inverse([[1.0, 1.0]]), [[3.0, 2.0]])


# -- representations ----------------------------------------------------------------------------


def test_pca_reconstructs_low_rank_motion_exactly(data, tmp_path):
    meta, arrays = data
    pca = fit_pca(meta, tmp_path / "pca", 3)
    codes = pca.encode(arrays["test"])
    assert codes.shape == (ROWS["test"], 3)
    np.testing.assert_allclose(pca.decode(codes), arrays["test"], atol=1e-3)
    assert json.loads((tmp_path / "pca" / "config.json").read_text())["complete"]
    np.testing.assert_array_equal(pca.normaliser.mean, meta.stat("motion_mean"))


def test_dae_encode_decode_keep_every_row_and_is_deterministic(data, tmp_path):
    meta, arrays = data
    dae = learn_dae(meta, tmp_path / "dae", 4, QUICK)
    for y in arrays.values():
        codes = dae.encode(y)
        assert codes.shape == (len(y), 4)
        decoded = dae.decode(codes)
        assert decoded.shape == y.shape
        np.testing.assert_array_equal(decoded, dae.decode(codes))  # dropout off
    np.testing.assert_allclose(dae.encode(arrays["dev"][:7]), dae.encode(arrays["dev"])[:7],
                               atol=1e-6)  # batched == unbatched
    reloaded = load_representation(tmp_path / "dae")
    np.testing.assert_array_equal(reloaded.encode(arrays["dev"]), dae.encode(arrays["dev"]))


def test_dae_noise_is_scaled_by_the_data(data, tmp_path):
    meta, arrays = data
    learn_dae(meta, tmp_path / "dae", 2, DAESettings(epochs=1, noise_ratio=0.05))
    info = json.loads((tmp_path / "dae" / "config.json").read_text())
    normalised = Normaliser.from_dataset(meta, "iva19").forward(arrays["train"])
    assert info["noise_std"] == pytest.approx(0.05 * normalised.std(), rel=1e-5)


def test_each_normaliser_scales_its_training_data_to_one(data):
    meta, arrays = data
    train = arrays["train"]
    original = Normaliser.from_dataset(meta, "iva19")  # max|Y_train|, uncentred
    np.testing.assert_allclose(np.abs(train).max(0) / original.scale, 1.0, rtol=1e-6)
    centred = Normaliser.from_dataset(meta, "centred")  # max|Y_train - mean|
    np.testing.assert_allclose(np.abs(centred.forward(train)).max(0), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(original.mean, centred.mean)
    assert (original.scale > centred.scale).any()  # the offset of 20 units counts in one only
    with pytest.raises(PipelineError, match="--normalisation 'other': expected one of"):
        Normaliser.from_dataset(meta, "other")


@pytest.mark.parametrize(("normalisation", "l2", "scale"), [
    ("iva19", 0.25, "max|Y|"), ("centred", 1e-6, "max|Y - mean|")])
def test_the_dae_records_its_normalisation(data, tmp_path, normalisation, l2, scale):
    """The default is the original recipe; the directory says which one it was trained with."""
    meta, arrays = data
    settings = DAESettings(epochs=1) if normalisation == "iva19" else DAESettings(
        epochs=1, normalisation="centred")
    dae = learn_dae(meta, tmp_path / "dae", 2, settings)
    recorded = dae.info["settings"]
    assert (recorded["normalisation"], recorded["l2"]) == (normalisation, l2)
    expected = (np.abs(arrays["train"]) if scale == "max|Y|" else
                np.abs(arrays["train"] - meta.stat("motion_mean"))).max(0)
    np.testing.assert_allclose(dae.normaliser.scale, expected, rtol=1e-6)
    with pytest.raises(PipelineError, match="another .*normalisation"):
        learn_dae(meta, tmp_path / "dae", 2, DAESettings(
            epochs=1, normalisation="centred" if normalisation == "iva19" else "iva19"))


def test_the_pca_records_its_normalisation(data, tmp_path):
    meta, arrays = data
    assert fit_pca(meta, tmp_path / "a", 3).info["settings"]["normalisation"] == "centred"
    pca = fit_pca(meta, tmp_path / "b", 3, normalisation="iva19")
    assert pca.info["settings"]["normalisation"] == "iva19"
    np.testing.assert_allclose(pca.normaliser.scale, np.abs(arrays["train"]).max(0), rtol=1e-6)


def test_dae_training_resumes(data, tmp_path):
    meta, _ = data
    learn_dae(meta, tmp_path / "dae", 4, QUICK)
    learn_dae(meta, tmp_path / "dae", 4, DAESettings(**{**QUICK.__dict__, "epochs": 3}))
    history = pd.read_csv(tmp_path / "dae" / "history.csv")
    assert list(history.epoch) == [1, 2, 3]


def test_a_checkpoint_of_another_width_is_refused(data, tmp_path):
    meta, _ = data
    fit_pca(meta, tmp_path / "repr", 3)
    with pytest.raises(PipelineError, match="pca of DIM 3"):
        learn_dae(meta, tmp_path / "repr", 4, QUICK)


def test_missing_or_unfinished_representation(data, tmp_path):
    with pytest.raises(PipelineError, match="no trained representation"):
        load_representation(tmp_path / "nothing")
    meta, _ = data
    fit_pca(meta, tmp_path / "pca", 2)
    info = tmp_path / "pca" / "config.json"
    info.write_text(info.read_text().replace('"complete": true', '"complete": false'))
    with pytest.raises(PipelineError, match="did not finish"):
        load_representation(tmp_path / "pca")


def test_representation_of_other_motion_is_refused(data, tmp_path, rng):
    meta, _ = data
    pca = fit_pca(meta, tmp_path / "pca", 2)
    other, _ = make_dataset(tmp_path / "other", rng)
    other.output_size = 90
    with pytest.raises(PipelineError, match="width 96.*width 90"):
        check_compatible(pca, other)
    with pytest.raises(PipelineError, match=r"expects codes of shape \(N, 2\), found \(5, 3\)"):
        pca.decode(np.zeros((5, 3)))


def test_motion_fingerprint(data, tmp_path, rng):
    meta, arrays = data
    assert motion_fingerprint(meta.root) == motion_fingerprint(meta.root)
    save_array(meta.root / "Y_dev.npy", arrays["dev"] + 1)
    other, _ = make_dataset(tmp_path / "other", rng)
    assert motion_fingerprint(meta.root) != motion_fingerprint(other.root)


# -- the three steps ----------------------------------------------------------------------------


def test_steps_with_the_original_spellings(data, tmp_path, capsys):
    meta, arrays = data
    chkpt = tmp_path / "chkpt"
    assert learn_dataset_encoding.main([str(meta.root), f"-chkpt_dir={chkpt}",
                                        "-layer1_width=5", "--epochs", "1"]) == 0
    assert "reconstruction" in capsys.readouterr().out
    assert encode_dataset.main([str(meta.root), "--chkpt-dir", str(chkpt)]) == 0
    for split, y in arrays.items():
        assert np.load(meta.root / "5" / f"Y_{split}_encoded.npy").shape == (len(y), 5)
    np.savetxt(tmp_path / "codes.txt", np.load(meta.root / "5" / "Y_test_encoded.npy"))
    assert decode.main([str(meta.root), str(tmp_path / "codes.txt"), str(tmp_path / "out.txt"),
                        "--chkpt-dir", str(chkpt)]) == 0
    assert np.loadtxt(tmp_path / "out.txt").shape == arrays["test"].shape


def test_decode_without_checkpoint_fails_in_one_line(data, tmp_path):
    meta, _ = data
    np.save(tmp_path / "codes.npy", np.zeros((10, 4), np.float32))
    done = subprocess.run(
        [sys.executable, str(REPO / "motion_repr_learning/ae/decode.py"), str(meta.root),
         str(tmp_path / "codes.npy"), str(tmp_path / "out.txt"), "--chkpt-dir",
         str(tmp_path / "missing")], capture_output=True, text=True)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert "no trained representation" in lines[0]
    assert not (tmp_path / "out.txt").exists()


def test_a_run_with_other_settings_is_refused(data, tmp_path):
    meta, _ = data
    learn_dae(meta, tmp_path / "dae", 4, QUICK)
    other = DAESettings(**{**QUICK.__dict__, "learning_rate": QUICK.learning_rate * 2})
    with pytest.raises(PipelineError, match="another learning_rate"):
        learn_dae(meta, tmp_path / "dae", 4, other)
