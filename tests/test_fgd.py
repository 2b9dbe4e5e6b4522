import csv
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from data_processing import create_vector, prepare_data
from data_processing.bvh import read_bvh
from data_processing.dataset import DatasetMeta
from data_processing.demo_speaker import demo_skeleton
from data_processing.files import PipelineError, read_json
from data_processing.motion import Motion, load_motion, load_split
from data_processing.representations import bone_directions, skeleton_bones
from evaluation import fgd, metrics
from evaluation.fgd_extractor import FeatureExtractor, train_extractor
from evaluation.fgd_extractor import fgd as score
from tests.conftest import REPO

# A tiny extractor: a few seconds of training on two cores.
TINY = {"clip_frames": 16, "stride": 8, "train_stride": 4, "embedding_dim": 6,
        "channels": [8, 16], "hidden": 16, "epochs": 3, "batch_size": 32, "patience": 5}
TINY_FLAGS = ["--clip-frames", "16", "--stride", "8", "--train-stride", "4",
              "--embedding-dim", "6", "--channels", "8", "16", "--hidden", "16", "--epochs", "3",
              "--batch-size", "32", "--patience", "5"]
SEED = 5


@pytest.fixture(scope="module")
def data_dir(demo_raw, tmp_path_factory):
    """The small demo speaker as a dataset: 4 train, 1 dev, 1 test file of 12 s at 20 fps."""
    data = tmp_path_factory.mktemp("fgd_data")
    prepare_data.prepare(demo_raw, data)
    assert create_vector.main([str(data), "0", "--workers", "1"]) == 0
    return data


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("fgd") / "extractor"
    return train_extractor(data_dir, out, seed=SEED, **TINY), out


def noisy(motions, std, seed=0):
    rng = np.random.default_rng(seed)
    return [Motion(m.positions + rng.normal(0.0, std, m.positions.shape), m.fps, m.skeleton,
                   name=m.name) for m in motions]


# -- the feature -------------------------------------------------------------------------------


def test_bone_directions_are_unit_vectors_of_bones():
    positions = np.array([[[0.0, 0, 0], [0, 2, 0], [3, 2, 4]]])  # (1 frame, 3 joints)
    directions = bone_directions(positions, np.array([0, 1]), np.array([1, 2]))
    np.testing.assert_allclose(directions, [[[0, 1, 0], [0.6, 0, 0.8]]])
    # Batched == unbatched; scale and translation do not change the feature.
    batch = np.stack([positions[0], 5.0 * positions[0] + 7.0])
    np.testing.assert_allclose(bone_directions(batch, np.array([0, 1]), np.array([1, 2])),
                               np.repeat(directions, 2, axis=0))


def test_bones_join_selected_joints_to_their_nearest_selected_ancestor():
    skel = demo_skeleton()
    joints, bones = skeleton_bones(skel)
    assert joints == list(skel.names)
    assert len(bones) == skel.n_joints - 1  # a tree: one bone per non-root joint
    joints, bones = skeleton_bones(skel, ["Hips", "Head", "LeftArm", "LeftHand"])
    assert bones == [["Hips", "Head"], ["Hips", "LeftArm"], ["LeftArm", "LeftHand"]]
    with pytest.raises(PipelineError, match="no joint.*Tail"):
        skeleton_bones(skel, ["Hips", "Tail"])


# -- the distance ------------------------------------------------------------------------------


def test_frechet_distance_known_answer_and_singular_covariances(rng):
    # 1-D: (mu1 - mu2)^2 + (sqrt(s1) - sqrt(s2))^2.
    assert metrics.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1)
    # Fewer samples than dimensions: singular covariances, still ~0 against itself, no warning.
    few = rng.normal(size=(5, 12))
    assert metrics.frechet_distance(*metrics.gaussian_stats(few),
                                    *metrics.gaussian_stats(few)) == pytest.approx(0, abs=1e-4)
    rank_one = np.zeros((4, 4))
    rank_one[0, 0] = 1.0
    value = metrics.frechet_distance(np.zeros(4), rank_one, np.ones(4), rank_one)
    assert value == pytest.approx(4.0, abs=1e-3)
    with pytest.raises(ValueError, match="N >= 2"):
        metrics.gaussian_stats(np.ones((1, 3)))
    with pytest.raises(ValueError, match="one size"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_clips_with_a_stride():
    motion = np.arange(10 * 3, dtype=float).reshape(10, 1, 3)
    out = metrics.clips(motion, 4, 3)
    assert out.shape == (3, 4, 1, 3)
    np.testing.assert_array_equal(out[1], motion[3:7])
    assert metrics.clips(motion, 4).shape == (2, 4, 1, 3)  # non-overlapping by default
    assert metrics.clips(motion[:3], 4, 1).shape == (0, 4, 1, 3)


# -- the extractor ----------------------------------------------------------------------------


def test_config_says_everything_and_reload_gives_the_same_embeddings(trained, data_dir):
    extractor, out = trained
    config = read_json(out / "config.json")
    assert (config["kind"], config["format"]) == ("fgd_extractor", 1)
    assert (config["seed"], config["fps"]) == (SEED, 20.0)
    assert (config["clip_frames"], config["embedding_dim"]) == (16, 6)
    assert config["feature"] == "bone_directions"
    assert "unit vector" in config["feature_definition"]
    assert config["joints"] == list(DatasetMeta.load(data_dir).skeleton.names)
    assert len(config["bones"]) == len(config["joints"]) - 1
    assert config["versions"]["tensorflow"] == tf.__version__
    assert config["training"]["train_clips"] == 4 * ((240 - 16) // 4 + 1)
    assert 1 <= config["training"]["best_epoch"] <= 3
    for name in ("extractor.weights.h5", "feature_mean.npy", "skeleton.json", "history.csv"):
        assert (out / name).is_file()
    assert not (out / "run_config.json").exists()

    test = load_split(data_dir, "test")
    reloaded = FeatureExtractor.load(out)
    embeddings = reloaded.embed(test)
    assert embeddings.shape == ((240 - 16) // 8 + 1, 6)
    np.testing.assert_array_equal(embeddings, extractor.embed(test))


def test_same_seed_gives_the_same_extractor_and_score(trained, data_dir, tmp_path):
    extractor, _ = trained
    again = tmp_path / "again"
    assert fgd.main(["train", str(data_dir), str(again), "--seed", str(SEED), *TINY_FLAGS]) == 0
    second = FeatureExtractor.load(again)
    for a, b in zip(extractor.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    real, test = load_split(data_dir, "train"), load_split(data_dir, "test")
    assert score(extractor, real, test).fgd == score(again, real, test).fgd
    # Training again into a complete directory with the same settings changes nothing...
    stamp = (again / "extractor.weights.h5").stat().st_mtime_ns
    assert fgd.main(["train", str(data_dir), str(again), "--seed", str(SEED), *TINY_FLAGS]) == 0
    assert (again / "extractor.weights.h5").stat().st_mtime_ns == stamp
    # ... and other settings need another directory or --overwrite.
    with pytest.raises(PipelineError, match="other settings \\(seed\\)"):
        fgd.main(["train", str(data_dir), str(again), "--seed", "6", *TINY_FLAGS])


def test_fgd_of_a_set_with_itself_is_zero(trained, data_dir):
    extractor, _ = trained
    test = load_split(data_dir, "test")
    result = score(extractor, test, test)
    assert result.fgd == pytest.approx(0.0, abs=1e-6)
    assert result.real_clips == result.generated_clips == 29


def test_fgd_grows_monotonically_with_noise(trained, data_dir):
    extractor, _ = trained
    real = load_split(data_dir, "train") + load_split(data_dir, "dev")
    levels = [0.0, 1.0, 3.0, 9.0, 27.0]  # cm, on bones of 9 to 28 cm
    values = [score(extractor, real, noisy(real, std)).fgd for std in levels]
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_other_frame_rates_and_representations_give_the_same_clips(trained, data_dir,
                                                                   tmp_path):
    extractor, _ = trained
    meta = DatasetMeta.load(data_dir)
    seq_id = meta.splits["test"][0]
    reference = extractor.embed(load_split(data_dir, "test"))
    # The 60 fps BVH is resampled to the extractor's 20 fps (slerp, as create_vector does).
    bvh = load_motion(meta.files[seq_id]["bvh"]).resample(extractor.config.fps)
    np.testing.assert_allclose(extractor.embed([bvh]), reference, atol=1e-4)
    # pos_vel (root pinned) and rot6d arrays on the dataset skeleton: same directions.
    seq = meta.sequence("test", seq_id)
    for kind in ("motion", "rot6d"):
        np.save(tmp_path / f"{kind}.npy", seq[kind])
        motion = load_motion(tmp_path / f"{kind}.npy", skeleton=meta.skeleton, fps=meta.fps)
        np.testing.assert_allclose(extractor.embed([motion]), reference, atol=1e-4)
    # Arrays given to score() directly: positions at another frame rate are resampled.
    positions = read_bvh(meta.files[seq_id]["bvh"]).positions()  # 60 fps
    assert score(extractor, [positions], [positions], fps=60.0).generated_clips == 29


def test_score_cli_prints_and_appends_rows(trained, data_dir, tmp_path, capsys):
    _, out = trained
    generated = tmp_path / "generated"
    generated.mkdir()
    for m in load_split(data_dir, "test"):
        np.save(generated / f"{m.stem}.npy", m.positions.reshape(len(m.positions), -1) + 2.0)
    table = tmp_path / "fgd.csv"
    for name in ("gt", "shifted"):
        assert fgd.main(["score", str(out), "--real", f"{data_dir}:test", "--generated",
                         f"{data_dir}:test" if name == "gt" else str(generated),
                         "--name", name, "--out", str(table)]) == 0
        assert capsys.readouterr().out.strip() == "FGD: 0.000"  # translation-invariant feature
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["gt", "shifted"]
    assert float(rows[1]["fgd"]) == pytest.approx(0.0, abs=1e-6)
    assert (rows[1]["real_clips"], rows[1]["clip_frames"]) == ("29", "16")


@pytest.mark.parametrize(("kind", "match"), [
    ("missing_extractor", "config.json: no such file"),
    ("short", "short.npy: 10 frames at 20 fps, shorter than one clip of 16 frames"),
    ("width", "wide.npy: 7 values per frame, expected 48 \\(positions\\)"),
    ("joints", "tiny.bvh: no joint\\(s\\) Chest"),
    ("empty_dir", "empty: no motion files"),
    ("bad_split", "no_such_data/meta.json: no such file"),
])
def test_bad_inputs_fail_with_one_line_naming_the_file(trained, data_dir, tmp_path, tiny_bvh,
                                                      kind, match):
    _, out = trained
    np.save(tmp_path / "short.npy", np.zeros((10, 48)))
    np.save(tmp_path / "wide.npy", np.zeros((40, 7)))
    (tmp_path / "empty").mkdir()
    generated = {"missing_extractor": str(tmp_path / "short.npy"),
                 "short": str(tmp_path / "short.npy"), "width": str(tmp_path / "wide.npy"),
                 "joints": str(tiny_bvh), "empty_dir": str(tmp_path / "empty"),
                 "bad_split": f"{tmp_path / 'no_such_data'}:test"}[kind]
    extractor_dir = tmp_path / "none" if kind == "missing_extractor" else out
    with pytest.raises(PipelineError, match=match) as error:
        fgd.main(["score", str(extractor_dir), "--real", f"{data_dir}:test",
                  "--generated", generated])
    assert "\n" not in str(error.value)


def test_cli_error_is_one_line_on_stderr(tmp_path):
    script = REPO / "evaluation" / "fgd.py"
    done = subprocess.run([sys.executable, str(script), "score", str(tmp_path / "none"),
                           "--real", "a.npy", "--generated", "b.npy"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'none' / 'config.json'}: no such file (train the extractor with "
        "evaluation/fgd.py train DATA_DIR OUT_DIR)")
