"""Two identical short training runs in one process give bit-identical weights, per family.

IVA'19 (both trainings, on tiny data made in code, a few steps each) is shown here; the
resumed runs of ``tests/test_resume.py`` show it again for the IVA'19 speech model and
Audio2Gestures (a resumed run trains its first epochs from scratch and must equal the
session's shared run bit for bit), the FGD extractor
``tests/test_fgd.py::test_same_seed_gives_the_same_extractor_and_score``.
"""

import json

import keras
import numpy as np
import pandas as pd
from tensorflow.python.framework import config as tf_config

import train
from data_processing.files import save_array
from motion_repr_learning.ae.representation import learn_dae
from tests.iva19_helpers import NETWORK
from tests.test_iva19_representation import QUICK, make_dataset
from tests.test_resume import toy_run
from tests.test_training_loop import assert_same
from training.loop import set_seed


def test_set_seed_enables_op_determinism():
    set_seed(0)
    assert tf_config.is_op_determinism_enabled()


def test_generic_loop(tmp_path):
    first, first_history = toy_run(tmp_path / "a")
    second, second_history = toy_run(tmp_path / "b")
    for epoch in first:
        assert_same(first[epoch], second[epoch])
    pd.testing.assert_frame_equal(first_history, second_history, check_exact=True)


def test_iva19_dae(tmp_path):
    """Initialisation, shuffling, dropout and input noise all come from the seed."""
    meta, _ = make_dataset(tmp_path / "data", np.random.default_rng(0))
    a, b = (learn_dae(meta, tmp_path / name, 4, QUICK) for name in ("a", "b"))
    assert a.info["settings"]["seed"] == QUICK.seed
    assert a.info["settings"]["noise_ratio"] > 0  # every random stream is in use
    assert a.info["settings"]["dropout"] > 0
    assert_same(a.model.get_weights(), b.model.get_weights())
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "history.csv"),
                                  pd.read_csv(tmp_path / "b" / "history.csv"), check_exact=True)
    other = learn_dae(meta, tmp_path / "c", 4, QUICK.__class__(**{**QUICK.__dict__, "seed": 1}))
    assert not np.array_equal(other.model.get_weights()[0], a.model.get_weights()[0])


def windows_dataset(root, rng, rows=(80, 24)):
    """:func:`make_dataset` plus raw feature windows ``(N, 11, 26)`` and their statistics."""
    meta, arrays = make_dataset(root, rng, rows={"train": rows[0], "dev": rows[1], "test": 8})
    for split, y in arrays.items():
        save_array(root / f"X_{split}.npy",
                   rng.normal(size=(len(y), meta.window, 26)).astype(np.float32))
    stats = {"audio_mean": np.zeros(26), "audio_std": np.ones(26),
             "motion_std": arrays["train"].std(0) + 1e-3, "silence": np.zeros(26)}
    for name, value in stats.items():
        save_array(root / "stats" / f"{name}.npy", value.astype(np.float32))
    return meta


def test_iva19_speech_encoder(tmp_path):
    """Shuffling (by seed and epoch), dropout (seeded layers) and initialisation."""
    data = windows_dataset(tmp_path / "data", np.random.default_rng(0)).root

    def run(name, seed):
        assert train.main([str(tmp_path / name), "2", str(data), "26", "False",
                           "--batch-size", "32", "--seed", str(seed), *NETWORK]) == 0
        return keras.models.load_model(tmp_path / name / "model.keras").get_weights()

    first, second = run("a", 5), run("b", 5)
    assert_same(first, second)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "history.csv"),
                                  pd.read_csv(tmp_path / "b" / "history.csv"), check_exact=True)
    card = json.loads((tmp_path / "a" / "config.json").read_text())
    assert card["training"]["seed"] == 5
    assert json.loads((tmp_path / "a" / "run_settings.json").read_text())["seed"] == 5
