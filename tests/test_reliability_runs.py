"""Issue 15, defects 4, 5 (arguments), 9 and 10: runs, reruns, leftovers and validation.

Each test names the defect it covers (``test_d<N>_...``).
"""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from data_processing import create_vector, make_demo_dataset, prepare_data, recordings
from data_processing.files import (
    PipelineError,
    PipelineErrors,
    claim_run,
    directory_lock,
    list_inputs,
    remove_stale_temporaries,
    run_cli,
    save_array,
)
from tests.conftest import REPO
from tests.iva19_helpers import NETWORK


@pytest.fixture(scope="module")
def dataset(demo_raw, tmp_path_factory):
    """The shared demo speaker prepared and vectorised (N_CONTEXT 10, MFCC)."""
    data = tmp_path_factory.mktemp("reliability") / "data"
    prepare_data.prepare(demo_raw, data, workers=1)
    assert create_vector.main([str(data), "10", "--workers", "1"]) == 0
    return data


def copy(tree, tmp_path, name="data"):
    out = tmp_path / name
    shutil.copytree(tree, out)
    return out


def cli(main, argv, monkeypatch, capsys):
    """Run ``main`` as its command would (``run_cli``): exit status and stderr."""
    monkeypatch.setattr(sys, "argv", ["step", *map(str, argv)])
    with pytest.raises(SystemExit) as info:
        run_cli(main)
    return info.value.code, capsys.readouterr().err


def dead_pid():
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- 4. a finished run is not reused with other settings -----------------------------------------


def test_d4_claim_run_refuses_other_settings(tmp_path):
    run = tmp_path / "run"
    claim_run(run, {"seed": 0, "learning_rate": 0.001})
    claim_run(run, {"seed": 0, "learning_rate": 0.001})  # the same run: resumed
    with pytest.raises(PipelineError, match=r"learning_rate 0\.001 -> 0\.01"):
        claim_run(run, {"seed": 0, "learning_rate": 0.01})
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.keras").write_text("")
    with pytest.raises(PipelineError, match="no run_settings.json"):
        claim_run(old, {"seed": 0})


def test_d4_train_refuses_a_finished_run_with_other_settings(dataset, tmp_path):
    import train

    model = tmp_path / "model"
    base = [str(model), "1", str(dataset), "26", "False", *NETWORK, "--batch-size", "512"]
    assert train.main(base) == 0
    card = (model / "config.json").read_bytes()
    other = copy(dataset, tmp_path, "other")
    assert create_vector.main([str(other), "4", "--workers", "1"]) == 0  # another N_CONTEXT
    changes = {"dataset": [str(model), "1", str(other), *base[3:]],
               "learning_rate": [*base, "--learning-rate", "0.01"],
               "batch_size": [*base[:-1], "256"], "seed": [*base, "--seed", "3"],
               "epochs": [base[0], "2", *base[2:]], "gru_units": [*base, "--gru-units", "32"]}
    for key, argv in changes.items():
        with pytest.raises(PipelineError, match=f"holds another run .*{key}"):
            train.main(argv)
    assert (model / "config.json").read_bytes() == card


# -- 5. bad arguments are one-line errors ----------------------------------------------------------


@pytest.mark.parametrize(("argv", "problem"), [
    (["D", "10", "--fps", "0"], "--fps 0 is outside 1 to 200"),
    (["D", "10", "--fps", "nan"], "--fps nan is outside"),
    (["D", "10", "--fps", "-20"], "--fps -20 is outside"),
    (["D", "10", "--workers", "0"], "--workers must be from 1"),
    (["D", "10", "--tolerance", "nan"], "--tolerance must be"),
    (["D", "-2"], "N_CONTEXT must be an even number"),
    (["D", "100000"], "N_CONTEXT must be an even number from 0 to 400"),
])
def test_d5_create_vector_arguments(argv, problem, monkeypatch, capsys):
    code, err = cli(create_vector.main, argv, monkeypatch, capsys)
    assert code == 1
    assert err.startswith(f"error: {problem}")
    assert err.count("\n") == 1


@pytest.mark.parametrize(("argv", "problem"), [
    (["m", "0", "D", "26", "False"], "EPOCHS must be >= 1, got 0"),
    (["m", "3", "D", "26", "False", "--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["m", "3", "D", "26", "False", "--learning-rate", "nan"], "--learning-rate must be from"),
    (["m", "3", "D", "26", "False", "--learning-rate", "0"], "--learning-rate must be from"),
    (["m", "3", "D", "26", "False", "--seed", "-1"], "--seed must be from 0"),
    (["m", "3", "D", "26", "False", "--patience", "0"], "--patience must be >= 1"),
    (["m", "3", "D", "26", "True", "0"], "DIM must be >= 1"),
])
def test_d5_train_arguments(argv, problem, monkeypatch, capsys):
    import train

    code, err = cli(train.main, argv, monkeypatch, capsys)
    assert code == 1
    assert err.startswith(f"error: {problem}")
    assert err.count("\n") == 1


@pytest.mark.parametrize(("argv", "problem"), [
    (["--seconds", "4"], "--seconds must be from 5 to 3600, got 4"),
    (["--seconds", "nan"], "--seconds must be from 5"),
    (["--files", "0"], "--files must be from 1"),
    (["--seed", "-3"], "--seed must be >= 0, got -3"),
])
def test_d5_make_demo_dataset_arguments(argv, problem, tmp_path, monkeypatch, capsys):
    code, err = cli(make_demo_dataset.main, [tmp_path / "raw", *argv], monkeypatch, capsys)
    assert code == 1
    assert err.startswith(f"error: {problem}")
    assert err.count("\n") == 1
    assert not (tmp_path / "raw").exists()  # nothing written


@pytest.mark.parametrize(("argv", "problem"), [
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--ratios", "nan", "0.1", "0.1"], "--ratios needs three non-negative numbers"),
])
def test_d5_prepare_data_arguments(demo_raw, tmp_path, argv, problem, monkeypatch, capsys):
    code, err = cli(prepare_data.main, [demo_raw, tmp_path / "d", *argv], monkeypatch, capsys)
    assert code == 1
    assert err.startswith(f"error: {problem}")
    assert err.count("\n") == 1


# -- 9. temporaries of killed runs -----------------------------------------------------------------


def test_d9_stale_temporaries_are_removed_by_the_next_write(tmp_path):
    stale = tmp_path / f".partial-{dead_pid()}-demo_002.npy"
    stale.write_bytes(b"half")
    stale_dir = tmp_path / f".partial-{dead_pid()}-sequences"
    stale_dir.mkdir()
    live = tmp_path / f".partial-{os.getpid()}-other.npy"
    live.write_bytes(b"being written")
    save_array(tmp_path / "new.npy", np.zeros(3))
    assert not stale.exists()
    assert not stale_dir.exists()
    assert live.exists()  # a live process's temporary is kept
    assert remove_stale_temporaries(tmp_path) == []


def test_d9_scanners_skip_temporaries(demo_raw, tmp_path):
    raw = copy(demo_raw, tmp_path, "raw")
    for folder, suffix in (("speech", "wav"), ("motion", "bvh")):
        shutil.copy(raw / folder / f"demo_001.{suffix}",
                    raw / folder / f".partial-23386-demo_002x.{suffix}")
    assert ".partial-23386-demo_002x" not in recordings.find_pairs(raw)
    assert all(not p.name.startswith(".") for p in list_inputs(raw / "speech", [".wav"]))
    assert len(list_inputs(raw / "speech", [".WAV"])) == 6


# -- 10. every error in one run; nothing lost; locking ---------------------------------------------


def _spoil(raw):
    """Corrupt one BVH and truncate one WAV; return their paths."""
    bvh = sorted((raw / "motion").glob("*.bvh"))[1]
    bvh.write_text(bvh.read_text().replace("CHANNELS 6", "CHANNELS six", 1))
    wav = sorted((raw / "speech").glob("*.wav"))[3]
    wav.write_bytes(wav.read_bytes()[:20000])
    return bvh, wav


def test_d10_prepare_check_lists_every_bad_file(demo_raw, tmp_path, monkeypatch, capsys):
    raw = copy(demo_raw, tmp_path, "raw")
    bvh, wav = _spoil(raw)
    for extra in (["--check"], []):
        code, err = cli(prepare_data.main, [raw, tmp_path / "data", "--workers", "1", *extra],
                        monkeypatch, capsys)
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 1
        assert lines[0].startswith(f"error: {bvh}:")
        assert "CHANNELS needs a count" in lines[0]
        assert lines[1].startswith(f"error: {wav}: truncated WAV")
        assert lines[2] == "error: 2 problem(s) in 6 pairs; nothing written"
        assert not (tmp_path / "data").exists() or not list((tmp_path / "data").glob("gg-*"))
    assert prepare_data.main([str(demo_raw), str(tmp_path / "ok"), "--check"]) == 0
    assert not (tmp_path / "ok").exists()


def test_d10_create_vector_lists_every_bad_file_and_keeps_the_dataset(dataset, tmp_path):
    data = copy(dataset, tmp_path)
    before = {name: (data / name).read_bytes() for name in ("meta.json", "X_train.npy")}
    bad_bvh = sorted((data / "train" / "labels").glob("*.bvh"))[0]
    bad_bvh.write_text(bad_bvh.read_text().replace("OFFSET 0", "OFFSET nan", 1))
    bad_wav = sorted((data / "dev" / "inputs").glob("*.wav"))[0]
    bad_wav.write_bytes(bad_wav.read_bytes()[:30000])
    with pytest.raises(PipelineErrors) as info:
        create_vector.main([str(data), "4", "--workers", "2"])
    assert [line.split(":")[0] for line in info.value.lines[:2]] == [str(bad_bvh), str(bad_wav)]
    assert "OFFSET" in info.value.lines[0]
    for name, content in before.items():
        assert (data / name).read_bytes() == content  # the good dataset is untouched
    assert not [p for p in data.iterdir() if p.name.startswith(".partial-")]


def test_d10_worker_errors_start_their_own_line(dataset, tmp_path):
    data = copy(dataset, tmp_path)
    bvh = sorted((data / "test" / "labels").glob("*.bvh"))[0]
    bvh.write_text(bvh.read_text()[:-3000])
    script = REPO / "data_processing" / "create_vector.py"
    done = subprocess.run([sys.executable, str(script), str(data), "10", "--workers", "1"],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert re.search(r"[^\n]error:", done.stderr) is None
    assert f"\nerror: {bvh}:" in done.stderr


def test_d10_two_runs_on_one_folder_are_locked_out(dataset, demo_raw, tmp_path):
    data = copy(dataset, tmp_path)
    with directory_lock(data, "create_vector.py"):
        with pytest.raises(PipelineError, match="busy, create_vector.py .* is writing"):
            create_vector.main([str(data), "10", "--workers", "1"])
        with pytest.raises(PipelineError, match="busy"):
            prepare_data.prepare(demo_raw, data, check=False)
    assert create_vector.main([str(data), "10", "--workers", "1"]) == 0  # released
