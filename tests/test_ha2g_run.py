"""The session's one tiny trained HA2G run: its directory, generation of any length, predict.py,
exact resume, and the science check on the demo speaker."""

import functools

import numpy as np
import pandas as pd
import pytest
import soundfile

import predict
from data_processing.bvh import read_bvh
from data_processing.dataset import DatasetMeta
from data_processing.dir_vec import body_positions
from data_processing.files import PipelineError, read_json
from data_processing.motion import save_motion
from evaluation.metrics import ape
from ha2g.sample import Sampler, clip_plan
from ha2g.train import train
from helpers.families import load_model
from tests.ha2g_fixtures import (
    FPS,
    RESUME_EPOCHS,
    epoch_weights,
    tiny_config,
    tiny_dataset,
    tiny_run,
    weights_after_each_epoch,
)
from tests.test_training_loop import assert_same
from training.loop import Trainer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory, demo_raw):
    return tiny_dataset(tmp_path_factory, demo_raw)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, demo_raw):
    return tiny_run(tmp_path_factory, demo_raw)


@pytest.fixture(scope="module")
def sampler(run_dir):
    return Sampler.load(run_dir)


def test_the_run_is_a_self_contained_artifact(run_dir, data):
    saved = read_json(run_dir / "config.json")
    assert (saved["kind"], saved["format"], saved["text"], saved["speakers"]) == ("ha2g", 1,
                                                                                  False, None)
    assert saved["body"]["levels"].count(3) == 4  # both wrists and hands
    model = load_model(run_dir)  # through the family registry, as predict.py does
    assert (model.kind, model.fps, model.representation) == ("ha2g", FPS, "positions")
    assert model.skeleton.names == DatasetMeta.load(data).skeleton.names
    history = pd.read_csv(run_dir / "history.csv")
    assert {"train_generator_huber3", "train_generator_physical"} <= set(history)
    assert len(history) == tiny_config().epochs
    assert (run_dir / "logs").is_dir()
    assert (run_dir / "stats" / "dir_mean.npy").is_file()
    with pytest.raises(PipelineError, match="holds another run .differs in hidden"):
        train(data, run_dir, tiny_config(hidden=8))


def test_any_length_gives_one_frame_per_feature_frame(sampler):
    rng = np.random.default_rng(0)
    for n_frames in (1, 33, 34, 35, 64, 65, 101):
        features = rng.normal(size=(n_frames, 64)).astype(np.float32)
        assert sampler.sample(features).shape == (1, n_frames, 45)
    assert clip_plan(34, 34, 4) == [0]
    assert clip_plan(35, 34, 4) == [0, 30]


def test_a_minute_of_speech_gives_round_60_fps_frames(sampler, data, tmp_path):
    meta = DatasetMeta.load(data)
    wavs = [soundfile.read(meta.root / "train" / "inputs" / f"{i}.wav") for i in
            meta.splits["train"]]
    speech = np.concatenate([w for w, _ in wavs] * 2)[: 60 * wavs[0][1]]
    soundfile.write(tmp_path / "minute.wav", speech, wavs[0][1])
    motions = sampler.generate(tmp_path / "minute.wav", samples=2, seed=3)
    assert [m.n_frames for m in motions] == [round(60 * FPS)] * 2
    assert not np.allclose(motions[0].positions, motions[1].positions)  # two style codes


def test_predict_py_takes_a_run(run_dir, data, tmp_path, sampler):
    meta = DatasetMeta.load(data)
    speech, rate = soundfile.read(meta.root / "test" / "inputs" / f"{meta.splits['test'][0]}.wav")
    wav = tmp_path / "three_seconds.wav"
    soundfile.write(wav, speech[: 3 * rate], rate)
    assert predict.main([str(run_dir), str(wav), str(tmp_path / "out.bvh"), "--samples", "2",
                         "--seed", "4"]) == 0
    expected = sampler.generate(wav, samples=2, seed=4)
    bvh = read_bvh(tmp_path / "out_sample1.bvh")
    assert bvh.n_frames == round(3 * FPS)
    assert bvh.skeleton.names == meta.skeleton.names
    root = bvh.skeleton.root
    fitted = bvh.positions() - bvh.positions()[:, [root]]
    generated = expected[1].positions - expected[1].positions[:, [root]]
    # inverse kinematics of the positions; not exact: the chest's three bones (neck, both
    # shoulders) are predicted as three directions, one rotation has to fit them all
    assert np.abs(fitted - generated).mean() < 3.0  # cm
    save_motion(tmp_path / "two.npy", expected, kind=sampler.representation)
    assert np.load(tmp_path / "two.npy").shape == (2, round(3 * FPS), 3 * bvh.skeleton.n_joints)


class Killed(Exception):
    """Stands for SIGKILL after a checkpoint."""


def test_resume_after_an_interruption_is_exact(run_dir, data, tmp_path, monkeypatch, capsys):
    def kill(epoch, row):
        raise Killed

    config = tiny_config(epochs=RESUME_EPOCHS)  # the session run's first epochs
    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "fit", functools.partialmethod(Trainer.fit, on_epoch_end=kill))
        with pytest.raises(Killed):  # after epoch 1's checkpoint
            train(data, tmp_path / "resumed", config)
    with monkeypatch.context() as patch:
        snapshots = weights_after_each_epoch(patch)
        train(data, tmp_path / "resumed", config)
    assert "resumed from epoch 1" in capsys.readouterr().out
    assert sorted(snapshots) == [RESUME_EPOCHS]
    assert_same(snapshots[RESUME_EPOCHS], epoch_weights(run_dir))  # seed states included
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "resumed" / "history.csv"),
                                  pd.read_csv(run_dir / "history.csv").iloc[:RESUME_EPOCHS],
                                  check_exact=True)


def test_it_learns_the_demo_speaker(sampler, data):
    """Held-out position error below the static mean pose's (root-relative, every joint).

    The gesturing arms rise with the phrases and beat with the syllables; a model that hears
    when speech starts and stops beats the best static pose, whatever it makes of the hidden
    mode of each phrase.
    """
    meta, body = DatasetMeta.load(data), sampler.run.body

    def truth(split, seq_id):
        positions = body_positions(meta.sequence(split, seq_id)["positions"], meta.skeleton,
                                   body)
        return positions - positions[:, [body.skeleton.root]]

    mean_pose = np.concatenate([truth("train", i) for i in meta.splits["train"]]).mean(axis=0)
    errors = {"model": [], "mean pose": []}
    for split in ("dev", "test"):
        for seq_id in meta.splits[split]:
            real = truth(split, seq_id)
            generated = sampler.generate(meta.sequence(split, seq_id)["audio"])[0].positions
            generated = generated - generated[:, [body.skeleton.root]]
            errors["model"].append(ape(generated, real).mean())
            errors["mean pose"].append(ape(np.broadcast_to(mean_pose, real.shape), real).mean())
    assert np.mean(errors["model"]) < np.mean(errors["mean pose"]), errors
