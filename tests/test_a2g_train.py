import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, read_json
from gesture_vae import train as train_step
from gesture_vae.config import OFFICIAL, make_config
from gesture_vae.data import SequenceSet
from gesture_vae.run import create_run, load_model
from tests.a2g_helpers import TINY, tiny_dataset, tiny_run
from tests.conftest import REPO, eager_functions
from training.loop import Trainer

CLI_ARGS = ["--preset", "demo", "--variant", "full", "--seed", "3", "--steps", "4",
            "--epoch-steps", "2", "--batch-size", "4", "--crop-frames", "32"]


@pytest.fixture(scope="module")
def data(tmp_path_factory, demo_raw):
    return tiny_dataset(tmp_path_factory, demo_raw)


def test_a_run_records_its_configuration_losses_and_statistics(tmp_path_factory, data):
    run = tiny_run(tmp_path_factory, data, "full")  # resumed and rerun in tests/test_resume.py
    model, loaded = load_model(run)
    assert loaded.config == make_config("demo", variant="full", **TINY)
    saved = read_json(run / "config.json")
    assert saved["kind"] == "a2g"
    assert saved["protocol"] == {"name": "official", **OFFICIAL}  # which protocol made it
    assert saved["dataset"]["fps"] == 30.0
    for name in ("best.weights.h5", "loss_curve.png", "skeleton.json", "stats/audio_mean.npy",
                 "stats/motion_std.npy"):
        assert (run / name).is_file(), name
    assert any((run / "logs").rglob("events.out.tfevents.*"))
    history = pd.read_csv(run / "history.csv")
    assert list(history.epoch) == [1, 2]
    for term in ("loss", "recon_rotation", "audio_speed", "random_relaxed", "align", "bicycle",
                 "diversity", "kl"):
        assert f"train_{term}" in history
        assert f"dev_{term}" in history
    means, stds = loaded.code_stats()
    assert means.shape == stds.shape
    assert means.shape[1] == 16
    assert (stds > 0).all()


def test_the_official_protocol_keeps_the_last_epoch(tmp_path_factory, data, tmp_path):
    # checkpoint = "last": best.weights.h5 holds the final epoch's weights, whatever the dev
    # loss says ("dev_audio_l1" keeps its best epoch): scored on dev, the kept weights give
    # the last epoch's dev losses.
    run = tiny_run(tmp_path_factory, data, "full")
    model, description = load_model(run)
    assert description.config.checkpoint == "last"
    history = pd.read_csv(run / "history.csv")
    dev = train_step._dev(DatasetMeta.load(data), description, description.config)
    with eager_functions():  # as the run was trained (tests/a2g_helpers.py)
        scored = Trainer(model, keras.optimizers.Adam(), tmp_path).evaluate(dev)
    assert scored["audio_position"] == pytest.approx(history.dev_audio_position.iloc[-1],
                                                     rel=1e-5)
    assert scored["recon_rotation"] == pytest.approx(history.dev_recon_rotation.iloc[-1],
                                                     rel=1e-5)


def test_another_configuration_in_the_same_directory_is_an_error(data, tmp_path):
    create_run(tmp_path, make_config("demo", variant="baseline"), DatasetMeta.load(data))
    with pytest.raises(PipelineError, match="variant"):
        train_step.main([str(data), str(tmp_path), *CLI_ARGS])


def test_code_statistics_per_clip(data, tmp_path_factory):
    model, run = load_model(tiny_run(tmp_path_factory, data, "split"))
    clips = SequenceSet.load(DatasetMeta.load(data), "train", run.norm)
    means, stds = train_step.code_statistics(model, clips, 32)
    codes = model.encode_motion(clips.tiled(32)["motion"][:1])["specific"][0].numpy()[0]
    np.testing.assert_allclose(means[0], codes.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(stds[0], codes.std(axis=0), atol=1e-5)
    assert len(means) == sum(n // 32 for n in clips.lengths)


MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from gesture_vae.config import OFFICIAL, make_config
from gesture_vae.train import train
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
tf.config.run_functions_eagerly(True)  # one step: cheaper than tracing it per replica
# The smallest model with every network and loss term: the check is the distributed step.
config = make_config("demo", variant="full", steps=1, epoch_steps=1, crop_frames=16,
                     batch_size=4, width=1.0, audio_channels=(4,), motion_channels=(4,),
                     decoder_channels=(4,), head_hidden=4, decoder_hidden=4, mapping_blocks=1)
result, run = train(sys.argv[1], sys.argv[2], config, strategy=strategy)
assert strategy.num_replicas_in_sync == 2
assert all(abs(v) < 1e6 for v in result.history.iloc[-1].tolist())
print("ok")
"""


def test_runs_under_a_mirrored_strategy(data, tmp_path):
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(data), str(tmp_path / "run")],
                          cwd=REPO, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
