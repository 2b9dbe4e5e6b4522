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
from evaluation import fgd, genea_eval, metrics
from evaluation.fgd_extractor import (
    FeatureExtractor,
    data_fingerprint,
    noise_floor,
    split_halves,
    train_extractor,
)
from evaluation.fgd_extractor import fgd as score
from evaluation.fgd_model import TEDAutoencoder
from tests.conftest import REPO

# A tiny extractor: a few seconds of training on two cores.
TINY = {"clip_frames": 16, "stride": 8, "train_stride": 4, "embedding_dim": 6,
        "channels": [8, 16], "hidden": 16, "epochs": 3, "batch_size": 32, "patience": 5}
TINY_FLAGS = ["--clip-frames", "16", "--stride", "8", "--train-stride", "4",
              "--embedding-dim", "6", "--channels", "8", "16", "--hidden", "16", "--epochs", "3",
              "--batch-size", "32", "--patience", "5"]
SEED = 5
# The TED protocol's official architecture, a handful of steps: 4 training files of 12 s give
# 4 x 15 clips of 34 frames at 15 fps; batches of 16 (the last partial one dropped).
TED_TINY = {"epochs": 2, "batch_size": 16}


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


@pytest.fixture(scope="module")
def trained_ted(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("fgd_ted") / "extractor"
    return train_extractor(data_dir, out, protocol="ted", seed=SEED, **TED_TINY), out


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


def gaussian_samples(rng, n, mean, cov):
    """Samples ``(n, D)`` whose sample mean and covariance are exactly ``mean`` and ``cov``."""
    z = rng.normal(size=(n, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample cov = I
    return mean + z @ np.linalg.cholesky(cov).T


def test_raw_space_frechet_of_two_gaussians_equals_the_closed_form(rng):
    # Diagonal covariances: ||mu1 - mu2||^2 + sum (sqrt(s1) - sqrt(s2))^2.
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    s1, s2 = np.array([1.0, 4.0, 9.0, 0.25]), np.array([4.0, 1.0, 9.0, 1.0])
    a = gaussian_samples(rng, 200, mu1, np.diag(s1))
    b = gaussian_samples(rng, 150, mu2, np.diag(s2))
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert closed == pytest.approx(5.0 + 1.0 + 1.0 + 0.25)
    assert metrics.frechet_distance_of_samples(a, b) == pytest.approx(closed, rel=1e-9)
    # A full covariance: the same value as metrics.frechet_distance of the fitted Gaussians.
    m = rng.normal(size=(6, 6))
    c = gaussian_samples(rng, 300, rng.normal(size=6), m @ m.T + np.eye(6))
    d = rng.normal(size=(80, 6))
    assert metrics.frechet_distance_of_samples(c, d) == pytest.approx(
        metrics.frechet_distance(*metrics.gaussian_stats(c), *metrics.gaussian_stats(d)),
        rel=1e-9)
    # Fewer samples than dimensions (raw clips): exact where sqrtm needs eps; 0 against itself.
    few = rng.normal(size=(10, 40))
    assert metrics.frechet_distance_of_samples(few, few) == pytest.approx(0.0, abs=1e-9)
    shifted = few + 1.0
    assert metrics.frechet_distance_of_samples(few, shifted) == pytest.approx(40.0, rel=1e-9)
    with pytest.raises(ValueError, match="N >= 2"):
        metrics.frechet_distance_of_samples(few[:1], few)


def test_halves_are_disjoint_files_or_one_file_split_in_time():
    per_motion = [np.zeros((n, 2)) for n in (3, 4, 5)]
    a, b = split_halves(per_motion)
    assert a.tolist() == [0, 1, 2, 7, 8, 9, 10, 11]
    assert b.tolist() == [3, 4, 5, 6]
    a, b = split_halves([np.zeros((7, 2))])
    assert a.tolist() == [0, 1, 2]
    assert b.tolist() == [3, 4, 5, 6]


def test_data_fingerprint_changes_with_the_data(rng):
    clips = {"train": rng.normal(size=(5, 4, 3)).astype(np.float32),
             "dev": np.zeros((2, 4, 3), np.float32)}
    ids = {"train": ["a", "b"], "dev": ["c"]}
    first = data_fingerprint(ids, clips)
    assert first == data_fingerprint(ids, {k: v.copy() for k, v in clips.items()})
    assert first["train"]["ids"] == ["a", "b"]
    assert first["dev"]["clips"] == 2
    changed = clips["train"].copy()
    changed[0, 0, 0] += 1e-3
    assert data_fingerprint(ids, {**clips, "train": changed})["train"] != first["train"]
    assert data_fingerprint(ids, {**clips, "train": clips["train"].reshape(4, 5, 3)}) != first


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
    assert (config["protocol"], config["architecture"], config["loss"]) == ("ours", "conv_ae",
                                                                           "mse")
    assert config["data_fingerprint"]["train"]["ids"] == DatasetMeta.load(data_dir).splits[
        "train"]
    assert config["training"]["noise_floor"]["between"] == "dev vs test ground truth"
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


def test_an_extractor_of_other_data_is_not_taken_for_this_one(trained, data_dir, tmp_path):
    import json
    import shutil

    _, out = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    config = json.loads((copy / "config.json").read_text())
    config["data_fingerprint"]["train"]["sha256"] = "0" * 64
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(PipelineError, match="trained on other data \\(data_fingerprint"):
        train_extractor(data_dir, copy, seed=SEED, **TINY)


def test_fgd_of_a_set_with_itself_is_zero(trained, data_dir):
    extractor, _ = trained
    test = load_split(data_dir, "test")
    result = score(extractor, test, test)
    assert result.fgd == pytest.approx(0.0, abs=1e-6)
    assert result.fgd_raw == pytest.approx(0.0, abs=1e-6)
    assert result.real_clips == result.generated_clips == 29
    # The raw space is the flattened input clips; the floor is positive.
    clips = extractor.clips(test).reshape(29, -1)
    noisy_test = noisy(test, 3.0)
    other = score(extractor, test, noisy_test)
    assert other.fgd_raw == pytest.approx(metrics.frechet_distance_of_samples(
        clips, extractor.clips(noisy_test).reshape(29, -1)), rel=1e-9)
    assert other.fgd_raw > 0.0
    assert result.noise_floor > 0.0
    assert result.noise_floor == other.noise_floor  # the real side's, whatever is generated


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
        printed = capsys.readouterr().out.splitlines()  # translation-invariant feature:
        assert printed[:2] == ["FGD: 0.000", "FGD (raw space): 0.000"]
        assert printed[2].startswith("noise floor (real halves, 14 + 15 clips): ")
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["gt", "shifted"]
    assert float(rows[1]["fgd"]) == pytest.approx(0.0, abs=1e-6)
    assert float(rows[1]["fgd_raw"]) == pytest.approx(0.0, abs=1e-6)
    assert rows[1]["protocol"] == "ours"
    assert float(rows[1]["noise_floor"]) > 0.0
    assert (rows[1]["real_clips"], rows[1]["clip_frames"]) == ("29", "16")


# -- the TED / HA2G protocol -----------------------------------------------------------------


def torch_parameters(layers) -> int:
    """PyTorch's parameter count of Conv1d/ConvTranspose1d ``(in, out, k)``, Linear ``(in,
    out)`` and BatchNorm1d ``(c,)`` layers (weights + biases; BN: weight and bias)."""
    total = 0
    for layer in layers:
        if len(layer) == 3:
            total += layer[0] * layer[1] * layer[2] + layer[1]
        elif len(layer) == 2:
            total += layer[0] * layer[1] + layer[1]
        else:
            total += 2 * layer[0]
    return total


def test_pose_encoder_conv_has_the_official_shapes_and_parameter_count(rng):
    # scripts/model/embedding_net.py (Yoon et al. 2020), TED layout: 9 direction vectors.
    official_encoder = [(27, 32, 3), (32,), (32, 64, 3), (64,), (64, 64, 4), (64,), (64, 32, 3),
                        (384, 256), (256,), (256, 128), (128,), (128, 32), (32, 32), (32, 32)]
    official_decoder = [(32, 64), (64,), (64, 136), (4, 32, 3), (32,), (32, 32, 3), (32,),
                        (32, 32, 3), (32, 27, 3)]
    model = TEDAutoencoder(34, 27)
    clips = rng.normal(size=(5, 34, 27)).astype(np.float32)
    mu, logvar = model.encoder(clips, training=False)
    assert mu.shape == logvar.shape == (5, 32)
    assert model.embed(clips).shape == (5, 32)
    assert model(clips).shape == (5, 34, 27)
    flatten = next(layer for layer in model.encoder.layers if "flatten" in layer.name)
    assert flatten.output.shape == (None, 384)  # Linear(384, 256) "for 34 frames"
    count = lambda weights: sum(int(np.prod(w.shape)) for w in weights)  # noqa: E731
    assert count(model.encoder.trainable_weights) == torch_parameters(official_encoder) == 170240
    assert count(model.decoder.trainable_weights) == torch_parameters(official_decoder) == 20451
    # BatchNorm running statistics: PyTorch buffers, Keras non-trainable weights.
    assert count(model.encoder.non_trainable_weights) == 2 * (32 + 64 + 64 + 256 + 128)
    np.testing.assert_array_equal(model.embed(clips), model.embed(clips))  # mu, no sampling


def test_ted_protocol_config_features_and_reload(trained_ted, data_dir):
    from data_processing.body import make_body
    from data_processing.dir_vec import DirVec, body_positions

    extractor, out = trained_ted
    config = read_json(out / "config.json")
    assert (config["protocol"], config["architecture"], config["loss"]) == (
        "ted", "pose_encoder_conv", "l1_velocity")
    assert (config["fps"], config["clip_frames"], config["stride"]) == (15.0, 34, 10)
    assert (config["learning_rate"], config["beta_1"], config["drop_remainder"]) == (
        5e-4, 0.5, True)
    assert config["patience"] == config["epochs"] == 2  # no early stopping, best epoch kept
    assert config["joints"] == ["Chest", "Neck", "Head", "Head_End", "LeftArm", "LeftForeArm",
                                "LeftHand", "RightArm", "RightForeArm", "RightHand"]
    assert config["bones"][:3] == [["Chest", "Neck"], ["Neck", "Head"], ["Head", "Head_End"]]
    assert len(config["bones"]) == 9
    assert config["seed"] == SEED
    fingerprint = config["data_fingerprint"]
    assert fingerprint["train"]["clips"] == config["training"]["train_clips"] == 4 * 15
    assert len(fingerprint["train"]["sha256"]) == 64
    floor = config["training"]["noise_floor"]
    assert floor["between"] == "dev vs test ground truth"
    assert floor["clips"] == [15, 15]
    assert floor["fgd"] > 0
    assert floor["fgd_raw"] > 0

    # The feature is HA2G's dir_vec minus the training mean (data_processing.dir_vec).
    meta = DatasetMeta.load(data_dir)
    test = load_split(data_dir, "test")
    body = make_body(meta.skeleton, joints="ted")
    at_15 = Motion(test[0].positions, test[0].fps, meta.skeleton).resample(15.0)  # linear
    dir_vec = DirVec(body, extractor.feature_mean).encode(
        body_positions(at_15.positions, meta.skeleton, body))
    np.testing.assert_allclose(extractor.features(test[0]), dir_vec, atol=1e-6)

    reloaded = FeatureExtractor.load(out)
    np.testing.assert_array_equal(reloaded.embed(test), extractor.embed(test))
    result = score(reloaded, test, test)
    assert result.fgd == pytest.approx(0.0, abs=1e-6)
    assert result.fgd_raw == pytest.approx(0.0, abs=1e-6)
    assert (result.real_clips, result.protocol) == (15, "ted")
    # One test file: its floor splits its clips in time (7 against 8).
    assert result.floor_clips == (7, 8)
    assert result.noise_floor > 0
    assert result.noise_floor_raw > 0


def test_ted_protocol_flags_and_errors(data_dir, tmp_path):
    with pytest.raises(PipelineError, match="PoseDecoderConv is defined for 34 and 64"):
        train_extractor(data_dir, tmp_path / "x", protocol="ted", clip_frames=16)
    with pytest.raises(PipelineError, match="--joints applies to --protocol ours"):
        train_extractor(data_dir, tmp_path / "x", protocol="ted", joints=["Hips"])
    with pytest.raises(PipelineError, match="dataset skeleton: the joint map needs 10 joints"):
        train_extractor(data_dir, tmp_path / "x", protocol="ted", joint_map=["Hips"])
    with pytest.raises(PipelineError, match="fewer than one batch of 128"):
        train_extractor(data_dir, tmp_path / "x", protocol="ted", epochs=1)
    with pytest.raises(PipelineError, match="unknown FGD protocol 'x'"):
        train_extractor(data_dir, tmp_path / "x", protocol="x")


def test_genea_eval_with_both_extractors(trained, trained_ted, data_dir, tmp_path, capsys):
    generated = tmp_path / "generated"
    generated.mkdir()
    rng = np.random.default_rng(0)
    for m in load_split(data_dir, "test"):
        noisy_positions = m.positions + rng.normal(0.0, 2.0, m.positions.shape)
        np.save(generated / f"{m.stem}.npy", noisy_positions.reshape(len(m.positions), -1))
    out = tmp_path / "genea"
    assert genea_eval.main(["--natural", f"{data_dir}:test", "--method", "noisy",
                            str(generated), "--fgd", str(trained[1]), str(trained_ted[1]),
                            "--out", str(out)]) == 0
    capsys.readouterr()
    with out.with_suffix(".csv").open() as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    for protocol in ("ours", "ted"):
        assert float(rows["natural"][f"fgd_{protocol}"]) == pytest.approx(0.0, abs=1e-6)
        assert float(rows["noisy"][f"fgd_{protocol}_raw"]) > 0.0
        # The floor does not depend on the method: it is the natural motion's.
        assert rows["noisy"][f"fgd_{protocol}_floor"] == rows["natural"][f"fgd_{protocol}_floor"]
    assert float(rows["natural"]["cca_genea"]) == pytest.approx(1.0, abs=1e-5)
    # ... and the caption repeats it, as noise_floor() computes it.
    text = out.with_suffix(".md").read_text()
    for column in ("fgd_ours_floor", "fgd_ours_raw_floor", "fgd_ted_floor"):
        assert f"`{column}` {float(rows['natural'][column]):.3f}" in text
    floor = noise_floor(trained[0], load_split(data_dir, "test"))
    assert float(rows["natural"]["fgd_ours_floor"]) == pytest.approx(floor[0], rel=1e-4)


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


def test_evaluation_step_clis_load_tensorflow_only_in_main():
    """``--help`` is fast: the FGD and GENEA steps load TensorFlow inside ``main`` only."""
    code = ("import sys, evaluation.fgd, evaluation.genea_eval\n"
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
