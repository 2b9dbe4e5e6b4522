"""The IVA'19 example scripts: the proposed model end to end with a tiny budget (1 epoch of 4
batches).

The comparison of every model (formerly ``iva19_compare.sh``) is the experiment table run by
``helpers/run_experiments.py``: see ``test_experiments.py``.
"""

import os
import subprocess
import sys

import pandas as pd
import pytest

from data_processing.dataset import DatasetMeta
from tests import iva19_helpers as shared
from tests.conftest import REPO

SCRIPTS = sorted((REPO / "example_scripts").glob("*.sh"))


def run_script(name, env, *args):
    full = {**os.environ, "PYTHON": sys.executable, "EPOCHS": "1", "BATCH_SIZE": "1024",
            "AE_EPOCHS": "2", "SEED": "0", **{k: str(v) for k, v in env.items()}}
    done = subprocess.run(["bash", str(REPO / "example_scripts" / name), *args], env=full,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_valid_bash(script):
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_proposed_script_appends_a_row(tmp_path_factory, tmp_path):
    data = shared.dataset(tmp_path_factory)
    results = tmp_path / "results.csv"
    run_script("proposed_train_n_test.sh", {"DATA_DIR": data, "WORK_DIR": tmp_path / "work",
                                            "RESULTS_FILE": results, "REPRESENTATION": "pca",
                                            "DIM": 4})
    row = pd.read_csv(results).iloc[0]
    assert (row["model"], row["representation"], row["dim"]) == ("proposed", "pca", 4)
    assert row["APE"] > 0
    assert row["AJ original"] > 0
    assert row["H vel"] >= 0
    predicted = tmp_path / "work" / "predicted" / "pca4_MFCC"
    assert sorted(p.stem for p in predicted.iterdir()) == DatasetMeta.load(data).splits["test"]
    assert (tmp_path / "work" / "models" / "pca4_MFCC" / "config.json").is_file()
