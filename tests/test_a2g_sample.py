"""Sampling from a run: shapes, seeds, the protocol's draws, clip insertion, outputs, CLIs.

The runs are the session's tiny runs (a few steps on the small demo recordings): these tests
check the sampler's mechanics, which do not depend on how well the model is trained;
``tests/test_a2g_science.py`` checks what a demo-budget run learns.
"""

from pathlib import Path

import numpy as np
import pytest

import predict
from data_processing.bvh import BVHMotion, read_bvh, write_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError
from data_processing.representations import to_positions
from gesture_vae import sample
from gesture_vae.run import is_run
from gesture_vae.sample import Insertion, Sampler, write_outputs
from tests.a2g_helpers import tiny_dataset, tiny_run, with_protocol


@pytest.fixture(scope="module")
def data(tmp_path_factory, demo_raw):
    return tiny_dataset(tmp_path_factory, demo_raw)


@pytest.fixture(scope="module")
def full(tmp_path_factory, data):
    return Sampler.load(tiny_run(tmp_path_factory, data, "full"))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, data):
    return Sampler.load(tiny_run(tmp_path_factory, data, "baseline"))


@pytest.fixture(scope="module")
def split(tmp_path_factory, data):
    return Sampler.load(tiny_run(tmp_path_factory, data, "split"))  # no mapping net


@pytest.fixture(scope="module")
def features(data):
    meta = DatasetMeta.load(data)
    return meta.sequence("test", meta.splits["test"][0])["audio"]


def test_samples_differ_and_follow_the_seed(full, features):
    n = len(features)
    out = full.sample(features, samples=3, seed=7)
    skeleton = full.run.skeleton
    assert out.motion.shape == (3, n, 6 * len(skeleton.rotating) + 3)
    assert out.positions.shape == (3, n, skeleton.n_joints, 3)
    assert out.fps == 30.0
    assert not np.allclose(out.positions[0], out.positions[1])
    np.testing.assert_array_equal(full.sample(features, samples=3, seed=7).motion, out.motion)
    assert not np.allclose(full.sample(features, samples=3, seed=8).motion, out.motion)


def test_any_length_in_one_pass(full, features):
    for n in (1, 17, len(features)):
        assert full.sample(features[:n], samples=2).motion.shape[1] == n


def test_split_codes_are_drawn_from_the_statistics(split):
    std2 = (split.code_std**2).mean(axis=0)  # E[std^2] over the training clips, per channel
    codes = split.specific_codes(64, 4000, seed=1)  # official: one clip's statistics, white
    at_start = codes[:, 0]
    np.testing.assert_allclose(at_start.mean(axis=0), split.code_mean.mean(axis=0), atol=0.08)
    total_var = std2 + split.code_mean.var(axis=0)
    np.testing.assert_allclose(at_start.var(axis=0), total_var, rtol=0.15, atol=1e-3)
    # One clip's mean for the whole sequence and i.i.d. noise per frame: neighbouring frames
    # differ by the noise alone, with variance 2 E[std^2].
    steps = np.diff(codes, axis=1).var(axis=(0, 1))
    np.testing.assert_allclose(steps, 2 * std2, rtol=0.1)
    # The project's draw (smooth noise, statistics re-drawn every crop) changes slowly.
    smooth = with_protocol(split, "project").specific_codes(64, 1000, seed=1)
    assert (np.diff(smooth, axis=1).var(axis=(0, 1)) < 0.1 * 2 * std2).all()


def test_reparameterised_inference_draws_the_shared_posterior(full, features):
    mu, logvar = (np.asarray(h)[0] for h in
                  full.model.audio_encoder(full.run.norm.audio(features[:40])[None]))
    drawn = full.shared_codes(features[:40], 3000, seed=5)  # official: posterior draws
    assert drawn.shape == (3000, 40, 16)
    np.testing.assert_allclose(drawn.mean(axis=0), mu, atol=0.1 * np.exp(0.5 * logvar).max())
    np.testing.assert_allclose(drawn.std(axis=0), np.exp(0.5 * logvar), rtol=0.1)
    means = Sampler(full.model, full.run, (full.code_mean, full.code_std), inference="mean")
    np.testing.assert_array_equal(means.shared_codes(features[:40], 3, seed=5), mu[None])
    with pytest.raises(PipelineError, match="inference='mode'"):
        Sampler(full.model, full.run, (full.code_mean, full.code_std), inference="mode")


def test_baseline_samples_differ_only_by_the_posterior(baseline, features):
    out = baseline.sample(features, samples=4, seed=3)  # official: the shared code is drawn
    assert not np.allclose(out.motion[0], out.motion[1])
    means = Sampler(baseline.model, baseline.run, inference="mean")
    one = means.sample(features, samples=4, seed=3)  # posterior means: one motion
    np.testing.assert_array_equal(one.motion, one.motion[:1].repeat(4, axis=0))
    assert baseline.specific_codes(10, 2, 0) is None
    with pytest.raises(PipelineError, match="no motion-specific code"):
        baseline.sample(features, insert=[Insertion("clip.bvh", 1.0)])


def test_insertion_parse():
    assert Insertion.parse("a/b@c.bvh@2.5") == Insertion(Path("a/b@c.bvh"), 2.5)
    for bad in ("clip.bvh", "clip.bvh@", "clip.bvh@-1", "@3", "clip.bvh@x"):
        with pytest.raises(PipelineError, match="CLIP.bvh@SECONDS"):
            Insertion.parse(bad)


def test_insertion_places_the_clip_code(full, data, features, tmp_path):
    meta = DatasetMeta.load(data)
    raw = read_bvh(meta.files[meta.splits["train"][0]]["bvh"])  # 60 fps: resampled to 30
    write_bvh(tmp_path / "clip.bvh", BVHMotion(raw.skeleton, raw.frames[120:180], raw.frame_time))
    clip_code = full.clip_code(tmp_path / "clip.bvh")
    assert clip_code.shape == (30, 16)
    code, weight = full.insertion(Insertion(tmp_path / "clip.bvh", 2.0), len(features), 0.5)
    np.testing.assert_array_equal(code[60:90], clip_code)  # frames 60-89: the clip's code
    np.testing.assert_array_equal(code[:60], np.broadcast_to(clip_code[0], (60, 16)))
    np.testing.assert_array_equal(code[90:], np.broadcast_to(clip_code[-1], (len(code) - 90, 16)))
    assert (weight[60:90] == 1).all()
    assert (weight[:46] == 0).all()  # a 15-frame ramp on each side
    assert (weight[104:] == 0).all()
    assert weight[52] == pytest.approx(1 - 8 / 15)
    with pytest.raises(PipelineError, match="after the audio ends"):
        full.insertion(Insertion(tmp_path / "clip.bvh", 1000.0), len(features), 0.5)

    # On the span every sample is the motion decoded with the clip's code (with the shared
    # code's mean, one motion); far away, the samples are untouched.
    means = Sampler(full.model, full.run, (full.code_mean, full.code_std), inference="mean")
    clip = [Insertion(tmp_path / "clip.bvh", 2.0)]
    for sampler in (full, means):
        plain = sampler.sample(features, samples=3, seed=2)
        inserted = sampler.sample(features, samples=3, seed=2, blend=0.5, insert=clip)
        np.testing.assert_array_equal(inserted.motion[:, 104:], plain.motion[:, 104:])
        assert not np.allclose(inserted.motion[:, 60:90], plain.motion[:, 60:90])
    np.testing.assert_allclose(inserted.motion[:, 60:90], inserted.motion[:1, 60:90].repeat(3, 0),
                               atol=1e-5)


def test_clip_on_another_skeleton_is_an_error(full, tiny_bvh):
    with pytest.raises(PipelineError, match="skeleton"):
        full.clip_code(tiny_bvh)


def test_outputs_round_trip_through_bvh(full, features, tmp_path):
    out = full.sample(features[:50], samples=2, seed=0)
    written = write_outputs(out, tmp_path, "clip")
    assert sorted(p.name for p in written) == ["clip_motion.npy", "clip_positions.npy",
                                               "clip_sample0.bvh", "clip_sample1.bvh"]
    np.testing.assert_allclose(np.load(tmp_path / "clip_positions.npy"), out.positions,
                               atol=1e-4)
    motion = read_bvh(tmp_path / "clip_sample1.bvh")
    assert motion.n_frames == 50
    assert motion.fps == pytest.approx(30.0)
    np.testing.assert_allclose(motion.positions(), out.positions[1], atol=0.05)
    with pytest.raises(PipelineError, match="format"):
        write_outputs(out, tmp_path, "x", ("mp4",))


def sample_file(sampler, wav, samples, seed):
    return sampler.sample(sampler.features(wav), samples=samples, seed=seed)


def positions_of(vectors, sampler):
    return np.stack([to_positions(v, sampler.skeleton, "rot6d") for v in vectors])


def test_family_contract_gives_motions(full, data):
    meta = DatasetMeta.load(data)
    wav = meta.files[meta.splits["test"][0]]["wav"]
    motions = full.generate(wav, samples=2, seed=4, insert=())
    expected = sample_file(full, wav, 2, 4)
    assert [m.fps for m in motions] == [full.fps] * 2
    np.testing.assert_allclose(np.stack([m.positions for m in motions]), expected.positions,
                               atol=1e-4)
    assert motions[0].rotations is not None


def test_cli_and_library_entry_point(full, data, tmp_path, capsys):
    meta = DatasetMeta.load(data)
    wav = meta.files[meta.splits["test"][0]]["wav"]
    run_dir = str(full.run.root)
    assert is_run(run_dir)
    assert sample.main([run_dir, wav, str(tmp_path), "--samples", "2", "--seed", "4",
                        "--format", "npy"]) == 0
    assert "2 sample(s)" in capsys.readouterr().out
    motion = np.load(tmp_path / f"{meta.splits['test'][0]}_motion.npy")
    np.testing.assert_allclose(positions_of(motion, full), sample_file(full, wav, 2, 4).positions,
                               atol=1e-3)
    assert motion.shape[1] == len(meta.sequence("test", meta.splits["test"][0])["audio"])


def test_predict_py_takes_a_run(full, data, tmp_path):
    meta = DatasetMeta.load(data)
    seq_id = meta.splits["test"][0]
    wav, run_dir = meta.files[seq_id]["wav"], str(full.run.root)
    assert predict.main([run_dir, wav, str(tmp_path / "one.npy"), "--seed", "4"]) == 0
    one = sample_file(full, wav, 1, 4)
    np.testing.assert_allclose(positions_of(np.load(tmp_path / "one.npy")[None], full),
                               one.positions, atol=1e-3)
    two = sample_file(full, wav, 2, 4)
    assert predict.main([run_dir, wav, str(tmp_path / "m.bvh"), "--samples", "2", "--seed",
                         "4"]) == 0
    np.testing.assert_allclose(read_bvh(tmp_path / "m_sample1.bvh").positions(),
                               two.positions[1], atol=0.05)
    inputs = Path(meta.root) / "test" / "inputs"
    assert predict.main([run_dir, str(inputs), str(tmp_path / "dir"), "--format", "npy",
                         "--samples", "3"]) == 0
    for other in meta.splits["test"]:
        stack = np.load(tmp_path / "dir" / f"{other}.npy")
        assert stack.shape == (3, len(meta.sequence("test", other)["audio"]), two.motion.shape[2])
    with pytest.raises(PipelineError, match="2 samples do not fit a .txt"):
        predict.main([run_dir, wav, str(tmp_path / "x.txt"), "--samples", "2"])
    assert not (tmp_path / "x.txt").exists()
