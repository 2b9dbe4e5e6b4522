"""The IVA'19 example scripts end to end, with a tiny budget (1 epoch, one DIM)."""

import os
import subprocess
import sys

import pandas as pd
import pytest

from data_processing.dataset import DatasetMeta
from tests import iva19_helpers as shared
from tests.conftest import REPO


def run_script(name, env, *args):
    full = {**os.environ, "PYTHON": sys.executable, "EPOCHS": "1", "AE_EPOCHS": "2",
            "SEED": "0", **{k: str(v) for k, v in env.items()}}
    done = subprocess.run(["bash", str(REPO / "example_scripts" / name), *args], env=full,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


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
    predicted = tmp_path / "work" / "predicted" / "pca4_MFCC"
    assert sorted(p.stem for p in predicted.iterdir()) == DatasetMeta.load(data).splits["test"]


@pytest.mark.slow
def test_comparison_writes_the_table(tmp_path_factory, tmp_path):
    raw = shared.raw_recordings(tmp_path_factory)
    out = tmp_path / "results"
    run_script("iva19_compare.sh", {"RAW_DIR": raw, "COMPARE_DIR": tmp_path / "compare",
                                    "FEATURE_SETS": "MFCC", "DIMS": "8", "N_CONTEXT": "4",
                                    "RESULTS_DIR": out})
    table = pd.read_csv(out / "iva19_table.csv")
    assert list(table.model) == ["mean pose", "baseline", "proposed", "PCA reference"]
    assert list(table.dim) == [96, 96, 8, 8]
    assert table.APE.notna().all()
    assert table["H vel"].notna().all()
    markdown = (out / "iva19_table.md").read_text()
    assert "| ground truth |" in markdown
    assert "| MFCC | proposed | dae | 8 |" in markdown
