import logging
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile

from data_processing import prepare_data, recordings, splits
from data_processing.files import PipelineError


def test_split_writes_layout_and_tables(demo_raw, tmp_path):
    data = tmp_path / "data"
    splits = prepare_data.prepare(demo_raw, str(data) + "/")  # trailing slash is fine
    assert sum(len(v) for v in splits.values()) == 6
    assert len(splits["dev"]) == 1
    assert len(splits["test"]) == 1
    for name in ("train", "dev", "test"):
        table = pd.read_csv(data / f"gg-{name}.csv")
        assert list(table.columns) == ["wav_filename", "wav_filesize", "bvh_filename"]
        assert len(table) == len(splits[name])
        for wav, size, bvh in table.itertuples(index=False):
            assert wav.startswith(f"{name}/inputs/")  # relative: the directory can move
            assert bvh.startswith(f"{name}/labels/")
            assert (data / bvh).is_file()
            assert size == (data / wav).stat().st_size


def test_split_is_deterministic_and_seeded():
    keys = [f"k{i:02d}" for i in range(20)]
    a = splits.split_keys(keys, seed=3)
    assert a == splits.split_keys(keys, seed=3)
    assert a != splits.split_keys(keys, seed=4)
    assert [len(a[s]) for s in ("train", "dev", "test")] == [16, 2, 2]
    assert sorted(sum(a.values(), [])) == keys


def test_iva19_split_reproduces_trinity_ranges(caplog):
    keys = [str(i) for i in (19, 20, 500, 1091, 1092, 1093, 1181, 1182, 1183)]
    with caplog.at_level(logging.WARNING):
        out = splits.split_keys(keys, method="iva19")
    assert out == {"train": ["20", "500", "1091"], "dev": ["1093", "1181"],
                   "test": ["1092", "1182"]}
    assert "19" in caplog.text
    assert "1183" in caplog.text


def test_iva19_names_pair_by_number(tmp_path):
    raw = tmp_path / "raw"
    (raw / "speech").mkdir(parents=True)
    (raw / "motion").mkdir()
    for i in (20, 21):
        (raw / "speech" / f"audio{i}.wav").write_bytes(b"")
        (raw / "motion" / f"gesture{i}.bvh").write_text("")
    pairs = recordings.find_pairs(raw)
    assert list(pairs) == ["20", "21"]
    assert pairs["20"][0].name == "audio20.wav"
    assert pairs["20"][1].name == "gesture20.bvh"


@pytest.mark.parametrize("layout", ["genea", "genea2020", "beat"])
def test_other_layouts(tmp_path, layout):
    raw = tmp_path / "raw"
    folders = {"genea": ("wav", "bvh"), "genea2020": ("Audio", "Motion"), "beat": (".", ".")}
    wav_dir, bvh_dir = (raw / name for name in folders[layout])
    wav_dir.mkdir(parents=True, exist_ok=True)
    bvh_dir.mkdir(parents=True, exist_ok=True)
    (wav_dir / "1_wayne_0_1_1.wav").write_bytes(b"")
    (bvh_dir / "1_wayne_0_1_1.bvh").write_text("")
    assert list(recordings.find_pairs(raw)) == ["1_wayne_0_1_1"]


def test_unpaired_files_are_reported(demo_raw, tmp_path, caplog):
    raw = tmp_path / "raw"
    shutil.copytree(demo_raw, raw)
    (raw / "motion" / "demo_000.bvh").unlink()
    with caplog.at_level(logging.WARNING):
        pairs = recordings.find_pairs(raw)
    assert "demo_000" not in pairs
    assert "demo_000.wav: no motion file to pair with" in caplog.text
    with pytest.raises(PipelineError, match=r"demo_000\.wav: no motion file"):
        recordings.find_pairs(raw, strict=True)


def test_noise_augmentation(demo_raw, tmp_path):
    data = tmp_path / "data"
    splits = prepare_data.prepare(demo_raw, data, augment_noise=True, seed=1)
    table = pd.read_csv(data / "gg-train.csv")
    assert len(table) == 2 * len(splits["train"])
    clean, sr = soundfile.read(data / table.wav_filename[0])
    noisy, sr2 = soundfile.read(data / table.wav_filename[1])
    assert table.wav_filename[1].rsplit("/", 1)[1] == "n" + table.wav_filename[0].rsplit("/", 1)[1]
    assert table.bvh_filename[0] == table.bvh_filename[1]
    assert sr == sr2
    assert 0.003 < np.std(noisy - clean) < 0.008  # uniform noise of peak 0.01
    assert len(pd.read_csv(data / "gg-test.csv")) == len(splits["test"])


def test_missing_raw_dir(tmp_path):
    with pytest.raises(PipelineError, match="no such directory"):
        prepare_data.prepare(tmp_path / "nope", tmp_path / "data")
