"""The FGD feature extractor: its configuration, feature clips, embeddings, FGD and training.

Two protocols of the same code (:data:`PROTOCOLS`, ``ExtractorConfig.protocol``):

``ours``
    Unit bone directions of every bone of the dataset skeleton at the dataset's frame rate,
    our convolutional autoencoder (``conv_ae``), mean squared error, Adam 1e-3, early stopping.
``ted``
    The TED Gesture / HA2G evaluator (Yoon et al. 2020; Liu et al. CVPR 2022): the 10-joint
    TED layout's 9 direction vectors (27 values) minus their training mean (``mean_dir_vec``),
    15 fps, 34-frame clips, stride 10, ``PoseEncoderConv``/``PoseDecoderConv``
    (``pose_encoder_conv``), L1 + velocity L1, Adam 5e-4 with betas (0.5, 0.999), batch 128
    (last partial batch dropped), 500 epochs, the best dev epoch kept (no early stopping), as
    HA2G's ``scripts/train_feature_extractor.py`` with ``config/gesture_autoencoder.yml``.

:func:`fgd` returns FGD in the embedding space (Yoon et al. 2020), in the raw space of the
extractor's input clips (GENEA 2022: the Fréchet distance of the flattened clip vectors) and,
beside both, the noise floor: the same distances between two disjoint halves of the real set.

A trained extractor is a directory (kind ``fgd_extractor``, :mod:`data_processing.artifacts`)::

    config.json             ExtractorConfig (written last: its presence means complete)
    extractor.weights.h5    the autoencoder's weights (best dev epoch)
    feature_mean.npy        mean feature of the training split (subtracted from inputs)
    skeleton.json           the dataset skeleton (to read array files of motion)
    history.csv, loss_curve.png, logs/, checkpoints/, best.weights.h5   from the Trainer

The feature is :func:`data_processing.representations.bone_directions` of the bones
:func:`data_processing.representations.skeleton_bones` gives (``ours``) or of the TED layout's
bones (``ted``: :func:`data_processing.body.ted_joint_names` finds its joints on the dataset
skeleton, the same directions as :class:`data_processing.dir_vec.DirVec`); the model is built by
:func:`evaluation.fgd_model.build_model`; the distance in embedding space is
:func:`evaluation.metrics.frechet_distance`, in raw space
:func:`evaluation.metrics.frechet_distance_of_samples`
(the same distance, computed from the samples for thousands of dimensions).
:func:`train_extractor` resumes an interrupted run from its last epoch and does nothing on a
complete directory with the same settings and data.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from data_processing.artifacts import config_path, read_config, write_config
from data_processing.body import TED_PARENTS, ted_joint_names
from data_processing.bvh import Skeleton
from data_processing.dataset import DatasetMeta
from data_processing.files import (
    PipelineError,
    atomic_path,
    load_array,
    read_json,
    save_array,
    write_json,
)
from data_processing.motion import Motion, load_split
from data_processing.representations import bone_directions, skeleton_bones
from evaluation import metrics

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

FEATURE = "bone_directions"
FEATURE_DEFINITION = (
    "per frame, for every bone [parent, child] in config.bones: the unit vector "
    "(p_child - p_parent) / |p_child - p_parent| of global joint positions, concatenated "
    "in bone order (3 values per bone), minus feature_mean.npy (training split)"
)
KIND = "fgd_extractor"
RUN_CONFIG = "run_config.json"
WEIGHTS = "extractor.weights.h5"
MEAN = "feature_mean.npy"
SKELETON = "skeleton.json"
TED_FEATURE = "ted_dir_vec"
TED_FEATURE_DEFINITION = (
    "HA2G/TED Gesture dir_vec: per frame, the unit vectors (p_child - p_parent) / "
    "|p_child - p_parent| of the 9 bones of the 10-joint TED layout (spine, neck, nose, head, "
    "left shoulder, elbow, wrist, right shoulder, elbow, wrist; config.joints, their dataset "
    "joints) in config.bones order, 27 values, minus feature_mean.npy (mean_dir_vec: the mean "
    "over the training split's frames)"
)
SETTINGS = ("clip_frames", "stride", "train_stride", "embedding_dim", "channels", "hidden",
            "seed", "epochs", "batch_size", "learning_rate", "beta_1", "patience",
            "drop_remainder")  # set by train flags; None = the protocol's default
PROTOCOLS = {
    "ours": {"fps": None, "clip_frames": 34, "stride": 10, "train_stride": 5,
             "embedding_dim": 32, "channels": [64, 128, 128], "hidden": 256, "epochs": 20,
             "batch_size": 64, "learning_rate": 1e-3, "beta_1": 0.9, "patience": 5,
             "drop_remainder": False, "architecture": "conv_ae", "loss": "mse",
             "feature": FEATURE, "feature_definition": FEATURE_DEFINITION},
    # HA2G config/gesture_autoencoder.yml + scripts/train_feature_extractor.py (Yoon et al.'s
    # scripts/model/embedding_net.py); channels and hidden do not apply to this architecture.
    "ted": {"fps": 15.0, "clip_frames": 34, "stride": 10, "train_stride": 10,
            "embedding_dim": 32, "channels": [], "hidden": 0, "epochs": 500,
            "batch_size": 128, "learning_rate": 5e-4, "beta_1": 0.5, "patience": None,
            "drop_remainder": True, "architecture": "pose_encoder_conv", "loss": "l1_velocity",
            "feature": TED_FEATURE, "feature_definition": TED_FEATURE_DEFINITION},
}
FLOOR_DEFINITION = ("the same distance between two disjoint halves of the real motions: "
                    "alternate files when there are two or more, else the first and second "
                    "half of the clips of the one file (each half has half the clips, so the "
                    "floor is a slight overestimate of the full set's sampling noise)")


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass
class ExtractorConfig:
    """Everything that defines a trained FGD feature extractor (``OUT_DIR/config.json``).

    Written with kind ``fgd_extractor`` by :func:`data_processing.artifacts.write_config`.

    Parameters
    ----------
    joints : list of str
        Joints the feature reads (names in the dataset skeleton).
    bones : list of [str, str]
        ``[parent, child]`` joint names of every bone; the feature is their unit directions.
    fps : float
        Frame rate of the clips; motions at another rate are resampled to it.
    clip_frames : int > 0
        Frames per clip (TED Gesture: 34).
    stride : int > 0
        Frames between clip starts when scoring (TED Gesture: 10).
    train_stride : int > 0
        Frames between clip starts of the training and dev clips (denser than ``stride``:
        more clip offsets per epoch, fewer epochs for the same number of steps).
    embedding_dim : int > 0
        Size of the embedding whose statistics FGD compares.
    channels : list of int
        Conv channels of the encoder, first at full rate, then one stride-2 conv per entry.
    hidden : int > 0
        Width of the dense layer between the convolutions and the embedding.
    seed : int
        Seeds weights initialisation and batch shuffling.
    epochs, batch_size, learning_rate, beta_1, patience
        Training budget: Adam (``beta_1``; ``beta_2`` 0.999), early stopping after
        ``patience`` epochs without a better dev loss (the best epoch's weights are kept;
        ``patience`` = ``epochs``: never stops early).
    drop_remainder : bool
        Drop each epoch's last partial batch (the official TED script's ``drop_last``).
    protocol : {"ours", "ted"}
        The protocol whose defaults the run took (:data:`PROTOCOLS`).
    architecture : {"conv_ae", "pose_encoder_conv"}
        The autoencoder (:func:`evaluation.fgd_model.build_model`).
    loss : {"mse", "l1_velocity"}
        Its reconstruction loss (decided by the architecture).
    feature, feature_definition : str
        Name and definition of the motion feature.
    data_dir : str
        Dataset the extractor was trained on (train split; dev for early stopping).
    data_fingerprint : dict
        SHA-256 of the training and dev clips exactly as the model saw them (float32 bytes,
        C order) and the sequence ids of each split: the same data gives the same fingerprint.
    versions : dict
        Python and library versions of the training run.
    training : dict
        What the run did: clips per split, epochs, best epoch and loss, seconds, machine.
    """

    joints: list
    bones: list
    fps: float
    clip_frames: int = 34
    stride: int = 10
    train_stride: int = 5
    embedding_dim: int = 32
    channels: list = field(default_factory=lambda: [64, 128, 128])
    hidden: int = 256
    seed: int = 0
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    patience: int = 5
    drop_remainder: bool = False
    protocol: str = "ours"
    architecture: str = "conv_ae"
    loss: str = "mse"
    feature: str = FEATURE
    feature_definition: str = FEATURE_DEFINITION
    data_dir: str = ""
    data_fingerprint: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    def settings(self) -> dict:
        """The fields that decide the trained weights (all but data, versions and outcomes)."""
        data = asdict(self)
        for key in ("data_fingerprint", "versions", "training"):
            del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict, path) -> ExtractorConfig:
        """Build from ``config.json`` content, with a one-line error naming ``path``."""
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as error:
            raise PipelineError(f"{path}: malformed extractor config ({error})") from None


def library_versions() -> dict:
    """Versions of Python and of the libraries that decide the extractor's numbers."""
    import keras
    import tensorflow as tf

    out = {"python": platform.python_version(), "tensorflow": tf.__version__,
           "keras": keras.__version__}
    for name in ("numpy", "scipy", "speech-gestures"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# --------------------------------------------------------------------------------------------
# The extractor


@dataclass
class FGDResult:
    """FGD values, their noise floor and what they were computed from.

    Parameters
    ----------
    fgd : float
        Fréchet distance between the Gaussians of real and generated embeddings.
    real_clips, generated_clips : int
        Clips embedded on each side.
    fgd_raw : float
        The same distance between the raw clip vectors (the extractor's input clips
        flattened, ``clip_frames x 3 B`` values: GENEA 2022's "FGD on raw data space").
    noise_floor, noise_floor_raw : float
        :attr:`fgd` and :attr:`fgd_raw` between two disjoint halves of the real motions
        (:data:`FLOOR_DEFINITION`); ``NaN`` when a half has fewer than 2 clips.
    floor_clips : tuple of int
        Clips in each half.
    protocol : str
        The extractor's protocol (``ours`` or ``ted``).
    """

    fgd: float
    real_clips: int
    generated_clips: int
    fgd_raw: float = math.nan
    noise_floor: float = math.nan
    noise_floor_raw: float = math.nan
    floor_clips: tuple = (0, 0)
    protocol: str = "ours"

    def row(self, prefix: str = "fgd") -> dict:
        """Named values for a table: ``{prefix}_{protocol}``, ``..._raw``, ``..._floor``..."""
        name = f"{prefix}_{self.protocol}"
        return {name: self.fgd, f"{name}_floor": self.noise_floor,
                f"{name}_raw": self.fgd_raw, f"{name}_raw_floor": self.noise_floor_raw}


class FeatureExtractor:
    """A trained extractor: the feature, the frozen encoder and their settings.

    Parameters
    ----------
    config : ExtractorConfig
    model : MotionAutoencoder or TEDAutoencoder
        Any :func:`evaluation.fgd_model.build_model` model (``embed(clips)``).
    feature_mean : np.ndarray [shape=(3 B,)]
    skeleton : Skeleton, optional
        The dataset skeleton (reads array files; arrays given to :meth:`embed` use its joint
        order).
    """

    def __init__(self, config: ExtractorConfig, model: keras.Model | None,
                 feature_mean: np.ndarray, skeleton: Skeleton | None = None):
        self.config = config
        self.model = model
        self.feature_mean = np.asarray(feature_mean, dtype=np.float32)
        self.skeleton = skeleton

    @classmethod
    def load(cls, directory) -> FeatureExtractor:
        """Rebuild a trained extractor from its directory (``config.json`` and weights)."""
        directory = Path(directory)
        path = config_path(directory)
        if not path.is_file():
            raise PipelineError(f"{path}: no such file (train the extractor with "
                                "evaluation/fgd.py train DATA_DIR OUT_DIR)")
        config = ExtractorConfig.from_dict(read_config(directory, [KIND]), path)
        from evaluation.fgd_model import build_model  # TensorFlow only once a model is needed

        model = build_model(config)
        try:
            model.load_weights(directory / WEIGHTS)
        except (OSError, ValueError) as error:
            raise PipelineError(f"{directory / WEIGHTS}: cannot load the weights "
                                f"({str(error).splitlines()[0]})") from None
        skeleton = Skeleton.load(directory / SKELETON) if (directory / SKELETON).is_file() else None
        mean = load_array(directory / MEAN, ndim=1)
        return cls(config, model, mean, skeleton)

    # -- inputs ----------------------------------------------------------------------------

    def as_motions(self, items, *, fps: float | None = None) -> list[Motion]:
        """Motions from :class:`Motion` objects or position arrays ``(T, J, 3)``/``(T, 3 J)``.

        Arrays are on the extractor's skeleton (its joint order) at ``fps`` (default: the
        extractor's).
        """
        if isinstance(items, (Motion, np.ndarray)):
            items = [items]
        out = []
        for i, item in enumerate(items):
            if isinstance(item, Motion):
                out.append(item)
                continue
            array = np.asarray(item, dtype=np.float64)
            array = array.reshape(len(array), -1, 3) if array.ndim == 2 else array
            if array.ndim != 3 or array.shape[-1] != 3:
                raise PipelineError(f"motion {i}: expected positions (T, J, 3) or (T, 3J), "
                                    f"found {np.shape(item)}")
            out.append(Motion(array, float(fps or self.config.fps), self.skeleton,
                              name=f"motion {i}"))
        if not out:
            raise PipelineError("no motions given")
        return out

    def features(self, motion: Motion) -> np.ndarray:
        """The extractor's input features ``(T, 3 B)`` of a motion, at the extractor's fps."""
        positions = Motion(motion.positions, motion.fps, motion.skeleton, name=motion.name)
        joints = self.config.joints
        index = {name: i for i, name in enumerate(joints)}
        selected = positions.resample(self.config.fps).select(joints)
        parents = np.array([index[p] for p, _ in self.config.bones])
        children = np.array([index[c] for _, c in self.config.bones])
        directions = bone_directions(selected, parents, children)
        return directions.reshape(len(directions), -1).astype(np.float32) - self.feature_mean

    def clips(self, motions, *, stride: int | None = None) -> np.ndarray:
        """Feature clips ``(N, clip_frames, 3 B)`` of motions, starting every ``stride`` frames.

        A motion shorter than one clip is an error naming it.
        """
        return np.concatenate(self.clips_per_motion(motions, stride=stride))

    def clips_per_motion(self, motions, *, stride: int | None = None) -> list[np.ndarray]:
        """:meth:`clips` of each motion ``[(N_i, clip_frames, 3 B), ...]``, in order."""
        stride = stride or self.config.stride
        out = []
        for motion in self.as_motions(motions):
            feats = self.features(motion)
            if len(feats) < self.config.clip_frames:
                raise PipelineError(
                    f"{motion.name}: {len(feats)} frames at {self.config.fps:g} fps, shorter "
                    f"than one clip of {self.config.clip_frames} frames"
                )
            windows = metrics.clips(feats.reshape(len(feats), -1, 3), self.config.clip_frames,
                                    stride)
            out.append(windows.reshape(len(windows), self.config.clip_frames,
                                       -1).astype(np.float32))
        return out

    # -- embeddings and FGD ----------------------------------------------------------------

    def embed_clips(self, clips: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Embeddings ``(N, embedding_dim)`` of feature clips (frozen encoder, no sampling)."""
        parts = [np.asarray(self.model.embed(clips[i : i + batch_size], training=False))
                 for i in range(0, len(clips), batch_size)]
        return np.concatenate(parts).astype(np.float64)

    def embed(self, motions, *, stride: int | None = None) -> np.ndarray:
        """Embeddings ``(N, embedding_dim)`` of every clip of the motions."""
        return self.embed_clips(self.clips(motions, stride=stride))


def _distances(real_clips, real_emb, gen_clips, gen_emb) -> tuple[float, float]:
    """(embedding-space, raw-space) Fréchet distances of two clip sets."""
    feature = metrics.frechet_distance(*metrics.gaussian_stats(real_emb),
                                       *metrics.gaussian_stats(gen_emb))
    raw = metrics.frechet_distance_of_samples(real_clips.reshape(len(real_clips), -1),
                                      gen_clips.reshape(len(gen_clips), -1))
    return feature, raw


def split_halves(per_motion: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves ``(indices_a, indices_b)`` of the clips of several motions.

    Alternate motions go to each half (0, 2, 4... and 1, 3, 5...) when there are two or more,
    so clips of one recording never fall on both sides; one motion is split in time, its first
    ``N // 2`` clips against the rest.

    Parameters
    ----------
    per_motion : list of np.ndarray [shape=(N_i, ...)]
        The clips of each motion.
    """
    starts = np.cumsum([0] + [len(c) for c in per_motion])
    if len(per_motion) >= 2:
        a = [np.arange(starts[i], starts[i + 1]) for i in range(0, len(per_motion), 2)]
        b = [np.arange(starts[i], starts[i + 1]) for i in range(1, len(per_motion), 2)]
        return np.concatenate(a), np.concatenate(b)
    n = int(starts[-1])
    return np.arange(n // 2), np.arange(n // 2, n)


def fgd(extractor, real, generated, *, fps: float | None = None, stride: int | None = None,
        floor: bool = True) -> FGDResult:
    """FGD between real and generated motions, in embedding and raw space, with the floor.

    Parameters
    ----------
    extractor : FeatureExtractor or path-like
        A loaded extractor or its directory.
    real, generated : list of Motion or of np.ndarray [shape=(T, J, 3)]
        Motions (arrays: positions on the extractor's skeleton, at ``fps``).
    fps : float, optional
        Frame rate of arrays (default: the extractor's).
    stride : int, optional
        Frames between clip starts (default: the extractor's).
    floor : bool
        Compute the noise floor (two disjoint halves of ``real``, :func:`split_halves`).

    Returns
    -------
    FGDResult
        ``fgd`` (embeddings), ``fgd_raw`` (flattened input clips, GENEA 2022), the floors of
        both and the clip counts.
    """
    if not isinstance(extractor, FeatureExtractor):
        extractor = FeatureExtractor.load(extractor)
    per_real, real_clips, real_emb = _embedded(extractor, real, fps, stride, "real")
    _, gen_clips, gen_emb = _embedded(extractor, generated, fps, stride, "generated")
    value, raw = _distances(real_clips, real_emb, gen_clips, gen_emb)
    result = FGDResult(value, len(real_clips), len(gen_clips), fgd_raw=raw,
                       protocol=extractor.config.protocol)
    if floor:
        result.noise_floor, result.noise_floor_raw, result.floor_clips = _floor(
            per_real, real_clips, real_emb)
    return result


def noise_floor(extractor, real, *, fps: float | None = None,
                stride: int | None = None) -> tuple[float, float, tuple[int, int]]:
    """The noise floor of FGD with ``real`` motions, as :func:`fgd` reports it beside FGD.

    Parameters
    ----------
    extractor : FeatureExtractor or path-like
    real : list of Motion or of np.ndarray [shape=(T, J, 3)]
    fps : float, optional
        Frame rate of arrays (default: the extractor's).
    stride : int, optional
        Frames between clip starts (default: the extractor's).

    Returns
    -------
    floor, floor_raw : float
        FGD in embedding and raw space between two disjoint halves of ``real``
        (:data:`FLOOR_DEFINITION`); ``NaN`` when a half has fewer than 2 clips.
    clips : tuple of int
        Clips in each half.
    """
    if not isinstance(extractor, FeatureExtractor):
        extractor = FeatureExtractor.load(extractor)
    return _floor(*_embedded(extractor, real, fps, stride, "real"))


def _embedded(extractor: FeatureExtractor, motions, fps, stride, side: str):
    """``(clips per motion, clips (N, F, 3B), embeddings (N, E))`` of one side of FGD."""
    per_motion = extractor.clips_per_motion(extractor.as_motions(motions, fps=fps),
                                            stride=stride)
    clips = np.concatenate(per_motion)
    if len(clips) < 2:
        raise PipelineError(f"{side} motions: {len(clips)} clip(s); FGD needs at least 2")
    return per_motion, clips, extractor.embed_clips(clips)


def _floor(per_motion, clips, emb) -> tuple[float, float, tuple[int, int]]:
    """Both distances between the halves of :func:`split_halves`, and the halves' sizes."""
    a, b = split_halves(per_motion)
    if min(len(a), len(b)) < 2:
        return math.nan, math.nan, (len(a), len(b))
    return (*_distances(clips[a], emb[a], clips[b], emb[b]), (len(a), len(b)))


# --------------------------------------------------------------------------------------------
# Training


def _prepare_out_dir(out_dir: Path, config: ExtractorConfig, overwrite: bool) -> bool:
    """Check ``OUT_DIR`` against the run; return ``True`` when it already holds this extractor.

    Other settings, or the same settings on other data (another fingerprint; directories
    written before fingerprints were recorded have none and are not checked), are an error
    unless ``overwrite``.
    """
    done, pending = config_path(out_dir), out_dir / RUN_CONFIG
    for path in (done, pending):
        if not path.is_file() or overwrite:
            continue
        previous = ExtractorConfig.from_dict(read_json(path), path)
        if previous.settings() != config.settings():
            old, new = previous.settings(), config.settings()
            changed = sorted(k for k in old if old[k] != new.get(k))
            raise PipelineError(f"{path}: {out_dir} holds an extractor with other settings "
                                f"({', '.join(changed)}); use another OUT_DIR or --overwrite")
        if previous.data_fingerprint and previous.data_fingerprint != config.data_fingerprint:
            raise PipelineError(f"{path}: {out_dir} holds an extractor trained on other data "
                                "(data_fingerprint differs); use another OUT_DIR or --overwrite")
        if path == done:
            return True
    if overwrite:
        for name in (done.name, RUN_CONFIG, WEIGHTS, MEAN, SKELETON, "best.weights.h5",
                     "history.csv", "loss_curve.png"):
            (out_dir / name).unlink(missing_ok=True)
        for name in ("checkpoints", "logs"):
            if (out_dir / name).is_dir():
                shutil.rmtree(out_dir / name)
    write_json(pending, asdict(config))
    return False


def protocol_features(skeleton: Skeleton, protocol: str, joints=None,
                      joint_map=None) -> tuple[list[str], list[list[str]]]:
    """Joints and bones ``[parent, child]`` of a protocol's feature on a dataset skeleton.

    Parameters
    ----------
    skeleton : Skeleton
        The dataset skeleton.
    protocol : {"ours", "ted"}
    joints : list of str, optional
        ``ours``: the joints to use (default all, :func:`skeleton_bones`).
    joint_map : sequence of str, optional
        ``ted``: the dataset joints of the 10 TED joints, in TED order (default: the first
        known map that fits, :func:`data_processing.body.ted_joint_names`).
    """
    if protocol == "ours":
        return skeleton_bones(skeleton, joints)
    if joints is not None:
        raise PipelineError("--joints applies to --protocol ours; the TED protocol uses the "
                            "10-joint TED layout (--joint-map names its joints)")
    names = list(ted_joint_names(skeleton, None if joint_map is None else tuple(joint_map),
                                 "dataset skeleton"))
    return names, [[names[p], names[c]] for c, p in enumerate(TED_PARENTS) if p >= 0]


def make_config(meta: DatasetMeta, data_dir: Path, *, protocol: str = "ours", joints=None,
                joint_map=None, **settings) -> ExtractorConfig:
    """The :class:`ExtractorConfig` of a training run: the protocol's defaults, then ``settings``.

    ``settings`` are fields of :data:`SETTINGS`; ``None`` values take the protocol's default.
    """
    if protocol not in PROTOCOLS:
        raise PipelineError(f"unknown FGD protocol {protocol!r} (use {', '.join(PROTOCOLS)})")
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"Expected settings among {SETTINGS}. Received: {sorted(unknown)}")
    values = {k: v for k, v in PROTOCOLS[protocol].items() if k != "fps"}
    values.update({k: v for k, v in settings.items() if v is not None})
    if values["patience"] is None:
        values["patience"] = values["epochs"]  # no early stopping
    used, bones = protocol_features(meta.skeleton, protocol, joints, joint_map)
    fps = PROTOCOLS[protocol]["fps"] or float(meta.fps)
    config = ExtractorConfig(used, bones, float(fps), protocol=protocol,
                             data_dir=str(data_dir.resolve()), versions=library_versions(),
                             **values)
    config.channels = [int(c) for c in config.channels]
    names = ["clip_frames", "stride", "train_stride", "epochs", "batch_size", "patience",
             "embedding_dim"] + (["hidden"] if config.architecture == "conv_ae" else [])
    for name in names:
        if getattr(config, name) < 1:
            raise PipelineError(f"--{name.replace('_', '-')} must be >= 1, "
                                f"got {getattr(config, name)}")
    if config.architecture == "pose_encoder_conv" and config.clip_frames not in (34, 64):
        raise PipelineError(f"--clip-frames {config.clip_frames}: the TED protocol's "
                            "PoseDecoderConv is defined for 34 and 64 frames only")
    return config


def data_fingerprint(ids: dict, clips: dict) -> dict:
    """SHA-256 of each split's clips (float32 bytes, C order, with the shape) and their ids."""
    out = {}
    for split, array in clips.items():
        digest = hashlib.sha256(str(tuple(array.shape)).encode())
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        out[split] = {"sha256": digest.hexdigest(), "ids": list(ids[split]),
                      "clips": int(len(array))}
    return out


def train_extractor(data_dir, out_dir, *, protocol: str = "ours", joints=None,
                    joint_map=None, overwrite: bool = False, **settings) -> FeatureExtractor:
    """Train an FGD feature extractor on a prepared dataset and save it in ``out_dir``.

    Clips of the training split train the autoencoder, clips of the dev split select the best
    epoch (and stop training early when ``patience`` < ``epochs``). Running it again on a
    complete ``out_dir`` with the same settings and data does nothing; an interrupted run
    resumes from its last epoch. The same seed gives the same weights on the same machine and
    library versions. ``config.json`` records the seed, the data fingerprint
    (:func:`data_fingerprint`) and, in ``training.noise_floor``, the FGD between the dev and
    test ground truth (or two halves of the training split without them).

    Parameters
    ----------
    data_dir : path-like
        A dataset prepared by ``create_vector.py`` (its ``positions`` are used).
    out_dir : path-like
        Where the extractor goes (see the module docstring).
    protocol : {"ours", "ted"}
        Whose feature, architecture and training defaults (:data:`PROTOCOLS`).
    joints : list of str, optional
        ``ours``: joints to use (default: all joints of the dataset skeleton).
    joint_map : sequence of str, optional
        ``ted``: the dataset joints of the 10 TED joints (default: a known map).
    overwrite : bool
        Replace an extractor with other settings in ``out_dir``.
    **settings
        Fields of :data:`SETTINGS` (``seed``, ``epochs``...); ``None`` or absent: the
        protocol's default.
    """
    import keras
    import tensorflow as tf

    from evaluation.fgd_model import build_model
    from training.data import shuffled_batches
    from training.loop import Trainer, set_seed

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    meta = DatasetMeta.load(data_dir)
    config = make_config(meta, data_dir, protocol=protocol, joints=joints, joint_map=joint_map,
                         **settings)
    started = time.perf_counter()
    set_seed(config.seed)
    bones = config.bones
    raw = FeatureExtractor(config, None, np.zeros(3 * len(bones), np.float32), meta.skeleton)
    splits = [s for s in ("train", "dev", "test") if meta.splits.get(s)]
    if "train" not in splits:
        raise PipelineError(f"{data_dir}:train: the split has no sequences")
    motions = {split: load_split(data_dir, split) for split in splits}
    mean = np.concatenate([raw.features(m) for m in motions["train"]]).mean(axis=0)
    extractor = FeatureExtractor(config, None, mean, meta.skeleton)
    train = extractor.clips(motions["train"], stride=config.train_stride)
    dev = (extractor.clips(motions["dev"], stride=config.train_stride) if "dev" in motions
           else np.zeros((0, *train.shape[1:]), np.float32))
    config.data_fingerprint = data_fingerprint(
        {s: meta.splits.get(s, []) for s in ("train", "dev")}, {"train": train, "dev": dev})
    if _prepare_out_dir(out_dir, config, overwrite):
        log.info("%s already holds this extractor; nothing to do", out_dir)
        return FeatureExtractor.load(out_dir)
    if config.drop_remainder and len(train) < config.batch_size:
        raise PipelineError(f"{data_dir}:train: {len(train)} training clips, fewer than one "
                            f"batch of {config.batch_size} (the last partial batch is dropped)")
    extractor.model = build_model(config)
    log.info("%d training clips, %d dev clips of %d frames x %d features", len(train),
             len(dev), config.clip_frames, train.shape[-1])
    train_ds = shuffled_batches(train, batch_size=config.batch_size, seed=config.seed,
                                drop_remainder=config.drop_remainder)
    dev_ds = tf.data.Dataset.from_tensor_slices(dev).batch(1024) if len(dev) else None
    optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, beta_2=0.999)
    trainer = Trainer(extractor.model, optimizer, out_dir)
    fit_start = time.perf_counter()
    result = trainer.fit(train_ds, epochs=config.epochs, dev_dataset=dev_ds,
                         patience=config.patience)
    fit_seconds = time.perf_counter() - fit_start

    save_array(out_dir / MEAN, mean.astype(np.float32))
    meta.skeleton.save(out_dir / SKELETON)
    with atomic_path(out_dir / WEIGHTS) as tmp:
        extractor.model.save_weights(tmp)
    best = result.history.iloc[result.best_epoch - 1]
    config.training = {
        "train_clips": len(train), "dev_clips": len(dev), "epochs_run": len(result.history),
        "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
        "best_train_loss": float(best["train_loss"]),
        "best_dev_loss": float(best["dev_loss"]) if "dev_loss" in best else None,
        "noise_floor": _training_floor(extractor, motions),
        "fit_seconds": round(fit_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "cpu_count": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "devices": sorted({d.device_type for d in tf.config.list_logical_devices()}),
    }
    write_config(out_dir, KIND, asdict(config))
    (out_dir / RUN_CONFIG).unlink(missing_ok=True)
    return extractor


def _training_floor(extractor: FeatureExtractor, motions: dict) -> dict:
    """The extractor's noise floor on its dataset: dev vs test ground truth, else train halves."""
    try:
        if "dev" in motions and "test" in motions:
            result = fgd(extractor, motions["dev"], motions["test"], floor=False)
            between, clips = "dev vs test ground truth", [result.real_clips,
                                                          result.generated_clips]
            values = result.fgd, result.fgd_raw
        else:
            result = fgd(extractor, motions["train"], motions["train"])
            between, clips = "halves of the training split", list(result.floor_clips)
            values = result.noise_floor, result.noise_floor_raw
    except PipelineError as error:  # a split shorter than one clip: no floor, say why
        return {"between": None, "reason": str(error)}
    return {"between": between, "clips": clips, "fgd": values[0], "fgd_raw": values[1]}
