"""Science checks on the demo speaker: held-out files, a short training budget.

The models are trained once per session (``tests/iva19_helpers.py``): 12 training files of
20 s, 3 (baseline) and 2 (proposed) epochs of batch 64 for the speech encoders (64 units
rather than 256: ``iva19_helpers.NETWORK``), 15 DAE epochs with the original recipe's
normalisation; 2 held-out test files.
"""

import numpy as np
import pytest

import predict
from data_processing.dataset import DatasetMeta
from evaluation.calc_errors import compute_errors
from helpers import convert_original, mean_pose, remove_velocity
from motion_repr_learning.ae.representation import load_representation, reconstruction_errors
from tests import iva19_helpers as shared

MARGIN = 0.88  # a model must cut the mean pose's APE by at least 12 %


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return shared.dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def test_ape(tmp_path_factory, data):
    """APE (cm) on the held-out files of the CLI chain: predict -> strip velocities -> APE."""
    work = tmp_path_factory.mktemp("science")
    convert_original.convert(data / "test" / "labels", work / "original", fps=20.0)
    models = {"baseline": shared.speech_model(tmp_path_factory),
              "proposed": shared.speech_model(tmp_path_factory, "dae")}
    for name, model in models.items():
        assert predict.main([str(model), str(data / "test_inputs"), str(work / "raw" / name)]) == 0
    mean_pose.write_mean_pose(data, work / "raw" / "mean_pose")
    errors = {}
    for name in (*models, "mean_pose"):
        remove_velocity.remove_velocity(work / "raw" / name, work / "predicted" / name)
        ids, per_joint = compute_errors(work / "original", work / "predicted" / name, "ape")
        assert len(ids) == 2
        errors[name] = float(per_joint.mean())
    return errors


@pytest.mark.parametrize("model", ["baseline", "proposed"])
def test_speech_models_beat_the_mean_pose(test_ape, model):
    assert test_ape[model] < MARGIN * test_ape["mean_pose"], test_ape


def test_dae_reconstructs_held_out_motion_better_than_the_mean_pose(tmp_path_factory, data):
    dae = load_representation(shared.representation(tmp_path_factory))
    errors = reconstruction_errors(dae, DatasetMeta.load(data), "test")
    assert errors["reconstruction"] < 0.25 * errors["mean_pose"], errors


def test_encode_decode_keeps_every_frame_of_every_file(tmp_path_factory, data):
    dae = load_representation(shared.representation(tmp_path_factory))
    meta = DatasetMeta.load(data)
    for split in ("dev", "test"):
        for seq_id in meta.splits[split]:
            motion = meta.sequence(split, seq_id)["motion"]
            codes = dae.encode(motion)
            assert codes.shape == (len(motion), shared.DIM)
            assert dae.decode(codes).shape == motion.shape
    whole = np.load(data / "Y_train.npy")
    assert len(dae.decode(dae.encode(whole))) == len(whole)
