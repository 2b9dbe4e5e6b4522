"""A trained Audio2Gestures run on disk: what training writes and what sampling reads.

``RUN_DIR`` layout (besides the :class:`training.loop.Trainer` files: ``checkpoints/``,
``best.weights.h5``, ``history.csv``, ``loss_curve.png``, ``logs/``)::

    config.json        {"kind": "a2g", "format": 1, "config": A2GConfig, "dataset": {...},
                        "protocol": {"name": ..., its fields}} (:mod:`data_processing.artifacts`;
                       the protocol is :attr:`gesture_vae.config.A2GConfig.protocol`)
    skeleton.json      the dataset's skeleton (BVH output, clip checks)
    stats/             audio_{mean,std}, motion_{mean,std} copied from the dataset;
                       code_{mean,std}: (n_clips, C) per-channel mean and std over time of the
                       motion-specific code of every training clip (written after training;
                       sampling draws from them)

A run is self-contained: sampling needs neither the dataset directory nor its flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_processing.artifacts import config_path, is_artifact, read_config, write_config
from data_processing.bvh import Skeleton
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, load_array, save_array
from gesture_vae.config import A2GConfig
from gesture_vae.data import Normalisation
from gesture_vae.model import GestureVAE

KIND = "a2g"
WEIGHTS = "best.weights.h5"


@dataclass
class Run:
    """Everything about a run except its weights.

    Parameters
    ----------
    root : Path
        ``RUN_DIR``.
    config : A2GConfig
    dataset : dict
        ``data_dir``, ``fps``, ``features``, ``mel_preset``, ``feature_size`` of the training
        data.
    skeleton : Skeleton
    norm : Normalisation
    """

    root: Path
    config: A2GConfig
    dataset: dict
    skeleton: Skeleton
    norm: Normalisation

    @property
    def fps(self) -> float:
        """Frame rate of the model's input and output."""
        return float(self.dataset["fps"])

    def code_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-clip, per-channel mean and std ``(n_clips, C)`` of the motion-specific code."""
        return tuple(load_array(self.root / "stats" / f"code_{name}.npy", ndim=2)
                     for name in ("mean", "std"))

    def save_code_stats(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Write ``stats/code_{mean,std}.npy``."""
        save_array(self.root / "stats" / "code_mean.npy", mean.astype(np.float32))
        save_array(self.root / "stats" / "code_std.npy", std.astype(np.float32))


def is_run(path) -> bool:
    """Whether ``path`` is an Audio2Gestures run directory (has its ``config.json``)."""
    return is_artifact(path, (KIND,))


def _differences(saved: dict, config: A2GConfig, dataset: dict) -> list[str]:
    """Names of the settings in which a saved ``config.json`` differs from a new run."""
    if saved.get("kind") != KIND:
        return ["kind"]
    previous = A2GConfig.from_dict(saved.get("config", {})).to_dict()
    changed = [k for k, v in config.to_dict().items() if previous[k] != v]
    return changed + (["dataset"] if saved.get("dataset") != dataset else [])


def create_run(run_dir, config: A2GConfig, meta: DatasetMeta) -> Run:
    """Start ``RUN_DIR`` for ``config`` on ``meta``, or reopen it to resume the same run.

    A directory that holds another configuration (or another dataset) is an error rather
    than silently mixed with the new run.
    """
    root = Path(run_dir)
    description = {"config": config.to_dict(), "dataset": meta.feature_settings(),
                   "protocol": config.protocol}
    if config_path(root).is_file():
        changed = _differences(read_config(root), config, description["dataset"])
        if changed:
            raise PipelineError(
                f"{config_path(root)}: this run directory holds another run (differs in "
                f"{', '.join(changed)}); use another RUN_DIR or delete this one"
            )
    norm = Normalisation.from_meta(meta)
    for name, value in vars(norm).items():
        save_array(root / "stats" / f"{name}.npy", value)
    meta.skeleton.save(root / "skeleton.json")
    write_config(root, KIND, description)
    return Run(root, config, description["dataset"], meta.skeleton, norm)


def load_run(run_dir) -> Run:
    """Read a run directory written by ``gesture_vae/train.py``."""
    root = Path(run_dir)
    description = read_config(root, (KIND,))
    norm = Normalisation(*(load_array(root / "stats" / f"{name}.npy", ndim=1)
                           for name in ("audio_mean", "audio_std", "motion_mean", "motion_std")))
    return Run(root, A2GConfig.from_dict(description["config"]), description["dataset"],
               Skeleton.load(root / "skeleton.json"), norm)


def build_model(run: Run) -> GestureVAE:
    """The model of a run, built (weights created) but not loaded."""
    model = GestureVAE(run.config, feature_size=int(run.dataset["feature_size"]),
                       skeleton=run.skeleton, motion_mean=run.norm.motion_mean,
                       motion_std=run.norm.motion_std, fps=run.fps)
    audio = np.zeros((1, 8, int(run.dataset["feature_size"])), np.float32)
    model((audio, np.zeros((1, 8, run.config.code_size), np.float32)))
    model.encode_motion(np.zeros((1, 8, model.motion_size), np.float32))
    if model.mapping_net is not None:
        model.code_from_noise(np.zeros((1, 8, run.config.code_size), np.float32))
    return model


def load_model(run_dir) -> tuple[GestureVAE, Run]:
    """The trained model of a run (``best.weights.h5``) and its description."""
    run = load_run(run_dir)
    path = run.root / WEIGHTS
    if not path.is_file():
        raise PipelineError(f"{path}: no such file (the run has not finished an epoch)")
    model = build_model(run)
    model.load_weights(path)
    return model, run
