"""The FGD feature extractor: its configuration, feature clips, embeddings, FGD and training.

A trained extractor is a directory (kind ``fgd_extractor``, :mod:`data_processing.artifacts`)::

    config.json             ExtractorConfig (written last: its presence means complete)
    extractor.weights.h5    the autoencoder's weights (best dev epoch)
    feature_mean.npy        mean feature of the training split (subtracted from inputs)
    skeleton.json           the dataset skeleton (to read array files of motion)
    history.csv, loss_curve.png, logs/, checkpoints/, best.weights.h5   from the Trainer

The feature is :func:`data_processing.representations.bone_directions` of the bones
:func:`data_processing.representations.skeleton_bones` gives; the model is
:class:`evaluation.fgd_model.MotionAutoencoder`; the distance is
:func:`evaluation.metrics.frechet_distance`. :func:`train_extractor` resumes an interrupted run
from its last epoch and does nothing on a complete directory with the same settings.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from data_processing.artifacts import config_path, read_config, write_config
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
from evaluation.fgd_model import MotionAutoencoder, build_model
from training.data import shuffled_batches
from training.loop import Trainer, set_seed

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
SETTINGS = ("clip_frames", "stride", "train_stride", "embedding_dim", "channels", "hidden",
            "seed", "epochs", "batch_size", "learning_rate", "patience")  # set by train flags


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
    epochs, batch_size, learning_rate, patience
        Training budget: Adam, early stopping after ``patience`` epochs without a better dev
        loss (the best epoch's weights are kept).
    feature, feature_definition : str
        Name and definition of the motion feature.
    data_dir : str
        Dataset the extractor was trained on (train split; dev for early stopping).
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
    patience: int = 5
    feature: str = FEATURE
    feature_definition: str = FEATURE_DEFINITION
    data_dir: str = ""
    versions: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    def settings(self) -> dict:
        """The fields that decide the trained weights (all but versions and outcomes)."""
        data = asdict(self)
        for key in ("versions", "training"):
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
    """An FGD value and what it was computed from.

    Parameters
    ----------
    fgd : float
        Fréchet distance between the Gaussians of real and generated embeddings.
    real_clips, generated_clips : int
        Clips embedded on each side.
    """

    fgd: float
    real_clips: int
    generated_clips: int


class FeatureExtractor:
    """A trained extractor: the feature, the frozen encoder and their settings.

    Parameters
    ----------
    config : ExtractorConfig
    model : MotionAutoencoder
    feature_mean : np.ndarray [shape=(3 B,)]
    skeleton : Skeleton, optional
        The dataset skeleton (reads array files; arrays given to :meth:`embed` use its joint
        order).
    """

    def __init__(self, config: ExtractorConfig, model: MotionAutoencoder,
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
            out.append(windows.reshape(len(windows), self.config.clip_frames, -1))
        return np.concatenate(out).astype(np.float32)

    # -- embeddings and FGD ----------------------------------------------------------------

    def embed_clips(self, clips: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Embeddings ``(N, embedding_dim)`` of feature clips (frozen encoder, no sampling)."""
        parts = [np.asarray(self.model.encoder(clips[i : i + batch_size], training=False))
                 for i in range(0, len(clips), batch_size)]
        return np.concatenate(parts).astype(np.float64)

    def embed(self, motions, *, stride: int | None = None) -> np.ndarray:
        """Embeddings ``(N, embedding_dim)`` of every clip of the motions."""
        return self.embed_clips(self.clips(motions, stride=stride))


def fgd(extractor, real, generated, *, fps: float | None = None,
          stride: int | None = None) -> FGDResult:
    """FGD between real and generated motions.

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
    """
    if not isinstance(extractor, FeatureExtractor):
        extractor = FeatureExtractor.load(extractor)
    embeddings = []
    for side, motions in (("real", real), ("generated", generated)):
        emb = extractor.embed(extractor.as_motions(motions, fps=fps), stride=stride)
        if len(emb) < 2:
            raise PipelineError(f"{side} motions: {len(emb)} clip(s); FGD needs at least 2")
        embeddings.append(emb)
    value = metrics.frechet_distance(*metrics.gaussian_stats(embeddings[0]),
                                     *metrics.gaussian_stats(embeddings[1]))
    return FGDResult(value, len(embeddings[0]), len(embeddings[1]))


# --------------------------------------------------------------------------------------------
# Training


def _prepare_out_dir(out_dir: Path, config: ExtractorConfig, overwrite: bool) -> bool:
    """Check ``OUT_DIR`` against the run; return ``True`` when it already holds this extractor."""
    done, pending = config_path(out_dir), out_dir / RUN_CONFIG
    for path in (done, pending):
        if not path.is_file() or overwrite:
            continue
        previous = ExtractorConfig.from_dict(read_json(path), path).settings()
        if previous != config.settings():
            changed = sorted(k for k in previous if previous[k] != config.settings().get(k))
            raise PipelineError(f"{path}: {out_dir} holds an extractor with other settings "
                                f"({', '.join(changed)}); use another OUT_DIR or --overwrite")
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


def train_extractor(data_dir, out_dir, *, joints=None, overwrite: bool = False,
                    **settings) -> FeatureExtractor:
    """Train the FGD feature extractor on a prepared dataset and save it in ``out_dir``.

    Clips of the training split train the autoencoder, clips of the dev split select the best
    epoch and stop training early. Running it again on a complete ``out_dir`` with the same
    settings does nothing; an interrupted run resumes from its last epoch. The same seed gives
    the same weights on the same machine and library versions.

    Parameters
    ----------
    data_dir : path-like
        A dataset prepared by ``create_vector.py`` (its ``positions`` are used).
    out_dir : path-like
        Where the extractor goes (see the module docstring).
    joints : list of str, optional
        Joints to use (default: all joints of the dataset skeleton).
    overwrite : bool
        Replace an extractor with other settings in ``out_dir``.
    **settings
        Any field of :class:`ExtractorConfig` from ``clip_frames`` to ``patience`` (``seed``,
        ``epochs``...); the others take their defaults.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    meta = DatasetMeta.load(data_dir)
    used, bones = skeleton_bones(meta.skeleton, joints)
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"Expected settings among {SETTINGS}. Received: {sorted(unknown)}")
    config = ExtractorConfig(used, bones, float(meta.fps), **settings,
                             data_dir=str(data_dir.resolve()), versions=library_versions())
    config.channels = [int(c) for c in config.channels]
    for name in ("clip_frames", "stride", "train_stride", "epochs", "batch_size", "patience",
                 "embedding_dim", "hidden"):
        if getattr(config, name) < 1:
            raise PipelineError(f"--{name.replace('_', '-')} must be >= 1, "
                                f"got {getattr(config, name)}")
    if _prepare_out_dir(out_dir, config, overwrite):
        log.info("%s already holds this extractor; nothing to do", out_dir)
        return FeatureExtractor.load(out_dir)

    started = time.perf_counter()
    set_seed(config.seed)
    raw = FeatureExtractor(config, None, np.zeros(3 * len(bones), np.float32), meta.skeleton)
    motions = {split: load_split(data_dir, split) if meta.splits.get(split) else []
               for split in ("train", "dev")}
    if not motions["train"]:
        raise PipelineError(f"{data_dir}:train: the split has no sequences")
    mean = np.concatenate([raw.features(m) for m in motions["train"]]).mean(axis=0)
    extractor = FeatureExtractor(config, build_model(config), mean, meta.skeleton)
    train = extractor.clips(motions["train"], stride=config.train_stride)
    dev = extractor.clips(motions["dev"], stride=config.train_stride) if motions["dev"] else []
    log.info("%d training clips, %d dev clips of %d frames x %d features", len(train),
             len(dev), config.clip_frames, train.shape[-1])
    train_ds = shuffled_batches(train, batch_size=config.batch_size, seed=config.seed)
    dev_ds = tf.data.Dataset.from_tensor_slices(dev).batch(1024) if len(dev) else None
    trainer = Trainer(extractor.model, keras.optimizers.Adam(config.learning_rate), out_dir)
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
        "fit_seconds": round(fit_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "cpu_count": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "devices": sorted({d.device_type for d in tf.config.list_logical_devices()}),
    }
    write_config(out_dir, KIND, asdict(config))
    (out_dir / RUN_CONFIG).unlink(missing_ok=True)
    return extractor
