"""Two identical short training runs in one process give bit-identical weights, per family.

The IVA'19 speech model and Audio2Gestures are shown by ``tests/test_resume.py`` (a resumed
run trains its first epochs from scratch and must equal the session's shared run bit for bit),
the FGD extractor by ``tests/test_fgd.py::test_same_seed_gives_the_same_extractor_and_score``.
"""

import numpy as np
import pandas as pd
from tensorflow.python.framework import config as tf_config

from motion_repr_learning.ae.representation import learn_dae
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
    meta, _ = make_dataset(tmp_path / "data", np.random.default_rng(0))
    a, b = (learn_dae(meta, tmp_path / name, 4, QUICK) for name in ("a", "b"))
    codes = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    np.testing.assert_array_equal(a.decode(codes), b.decode(codes))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "history.csv"),
                                  pd.read_csv(tmp_path / "b" / "history.csv"), check_exact=True)
