"""FGD: the Fréchet Gesture Distance, with a feature extractor whose training we ship.

FGD (Yoon et al. 2020, used by HA2G) embeds clips of real and of generated motion with the
frozen encoder of a motion autoencoder and measures the Fréchet distance between the two
Gaussians fitted to the embeddings (:func:`evaluation.metrics.frechet_distance`). Papers'
FGD numbers cannot be reproduced because their autoencoder, its training script and seed
were never published; here all three are: ``train`` is this script, the seed is a flag, and
``OUT_DIR`` holds the weights with a ``config.json`` that says everything needed to rebuild
and reload them. Our numbers are therefore comparable with each other, never with papers'.

Usage::

    python evaluation/fgd.py train DATA_DIR OUT_DIR [--seed 0] [--clip-frames 34]
        [--stride 10] [--epochs 20] [--patience 5] [--joints NAME,NAME,...]
    python evaluation/fgd.py score EXTRACTOR_DIR --real SRC [SRC ...] --generated SRC [...]
        [--fps F] [--representation positions|pos_vel|rot6d] [--name NAME] [--out CSV]

A ``SRC`` is a motion file, a directory of them or ``DATA_DIR:SPLIT``
(:mod:`evaluation.motion_inputs`). From Python::

    from evaluation import fgd
    extractor = fgd.FeatureExtractor.load("demo/fgd_extractor")
    result = fgd.score(extractor, real_positions, generated_positions)   # FGDResult
    result.fgd

The motion feature
    Per frame, the unit direction ``(p_child - p_parent) / |p_child - p_parent|`` of every
    bone, from global joint positions (TED Gesture's direction vectors, generalised to any
    skeleton): invariant to bone lengths (speaker size, units) and to where the speaker
    stands, sensitive to everything a gesture is made of. A bone joins a selected joint to
    its nearest selected ancestor, so a joint subset (``--joints``) still gives a chain; bones
    of zero rest length are left out. The training split's mean feature is subtracted.

The extractor
    A 1-D convolutional autoencoder over clips of ``clip_frames`` frames: encoder
    ``Conv1D(c0, 3)`` then ``Conv1D(c, 4, stride 2)`` per further channel count, flatten,
    ``Dense(hidden)``, ``Dense(embedding_dim)``; the decoder mirrors it with upsampling. It is
    deterministic (no sampling): the embedding is the encoder's output, the "mean" in VAE
    terms. Loss: mean squared reconstruction error; Adam; early stopping on the dev split
    through :class:`helpers.training.Trainer`.

Frame rate
    The extractor works at the frame rate of its training data (``config.fps``). Motions at
    another rate are resampled to it by interpolation when they are read (BVH and dataset
    sequences by slerp, arrays linearly; see :mod:`evaluation.motion_inputs`), so FGD can
    compare a 30 fps model with 20 fps ground truth. A motion shorter than one clip is an
    error naming it.

``OUT_DIR`` after ``train``::

    config.json             ExtractorConfig (written last: its presence means complete)
    extractor.weights.h5    the autoencoder's weights (best dev epoch)
    feature_mean.npy        mean feature of the training split (subtracted from inputs)
    skeleton.json           the dataset skeleton (to read array files of motion)
    history.csv, loss_curve.png, logs/, checkpoints/, best.weights.h5   from the Trainer
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from data_processing.bvh import Skeleton
from data_processing.dataset import DatasetMeta
from data_processing.files import (
    PipelineError,
    atomic_path,
    load_array,
    read_json,
    run_cli,
    save_array,
    write_json,
)
from data_processing.kinematics import forward_kinematics, resample_linear
from data_processing.representations import ARRAY_KINDS
from evaluation import metrics
from evaluation.motion_inputs import Motion, load_sources, load_split
from evaluation.tables import append_csv
from helpers.training import Trainer, set_seed

log = logging.getLogger(__name__)

FEATURE = "bone_directions"
FEATURE_DEFINITION = (
    "per frame, for every bone [parent, child] in config.bones: the unit vector "
    "(p_child - p_parent) / |p_child - p_parent| of global joint positions, concatenated "
    "in bone order (3 values per bone), minus feature_mean.npy (training split)"
)
FORMAT_VERSION = 1
CONFIG = "config.json"
RUN_CONFIG = "run_config.json"
WEIGHTS = "extractor.weights.h5"
MEAN = "feature_mean.npy"
SKELETON = "skeleton.json"
SETTINGS = ("clip_frames", "stride", "train_stride", "embedding_dim", "channels", "hidden",
            "seed", "epochs", "batch_size", "learning_rate", "patience")  # set by train flags
MIN_BONE_LENGTH = 1e-6  # rest length (file units) below which a bone has no direction


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass
class ExtractorConfig:
    """Everything that defines a trained FGD feature extractor (``OUT_DIR/config.json``).

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
    format : int
        Version of this file's layout.
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
    format: int = FORMAT_VERSION

    def settings(self) -> dict:
        """The fields that decide the trained weights (all but versions and outcomes)."""
        data = asdict(self)
        for key in ("versions", "training"):
            del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict, path) -> ExtractorConfig:
        """Build from ``config.json`` content, with a one-line error naming ``path``."""
        if data.get("format") != FORMAT_VERSION:
            raise PipelineError(f"{path}: extractor format {data.get('format')}, expected "
                                f"{FORMAT_VERSION} (retrain it with evaluation/fgd.py train)")
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
# The motion feature


def skeleton_bones(skeleton: Skeleton, joints=None) -> tuple[list[str], list[list[str]]]:
    """Joints and bones of the feature on a skeleton.

    Parameters
    ----------
    skeleton : Skeleton
    joints : list of str, optional
        Joints to use (default: all). Each joint is joined to its nearest used ancestor;
        bones whose rest length is below :data:`MIN_BONE_LENGTH` are left out.

    Returns
    -------
    joints : list of str
        The joints, in skeleton order.
    bones : list of [str, str]
        ``[parent, child]`` names.
    """
    names = list(skeleton.names)
    wanted = names if joints is None else list(joints)
    unknown = [j for j in wanted if j not in names]
    if unknown:
        raise PipelineError(f"no joint(s) {', '.join(unknown)} in the skeleton "
                            f"(it has {', '.join(names)})")
    used = [n for n in names if n in set(wanted)]
    rest = forward_kinematics(skeleton.parents, np.broadcast_to(np.eye(3), (len(names), 3, 3)),
                              skeleton.offsets)
    bones = []
    for child in used:
        parent = skeleton.parents[names.index(child)]
        while parent >= 0 and names[parent] not in used:
            parent = skeleton.parents[parent]
        c = names.index(child)
        if parent >= 0 and np.linalg.norm(rest[c] - rest[parent]) > MIN_BONE_LENGTH:
            bones.append([names[parent], child])
    if not bones:
        raise PipelineError(f"no bones between the joints {', '.join(used)}")
    return used, bones


def bone_directions(positions: np.ndarray, parents: np.ndarray, children: np.ndarray,
                    eps: float = 1e-8) -> np.ndarray:
    """Unit direction of every bone ``(..., B, 3)`` from positions ``(..., J, 3)``.

    ``parents`` and ``children`` index the joints of each bone; a bone of zero length in a
    frame gets the zero vector.
    """
    vectors = positions[..., children, :] - positions[..., parents, :]
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, eps)


# --------------------------------------------------------------------------------------------
# The autoencoder


def build_encoder(clip_frames: int, n_features: int, *, channels, hidden: int,
                  embedding_dim: int) -> keras.Model:
    """Clips ``(B, clip_frames, n_features)`` -> embeddings ``(B, embedding_dim)``."""
    clips = keras.Input((clip_frames, n_features), name="clips")
    h = keras.layers.Conv1D(channels[0], 3, padding="same", name="conv0")(clips)
    h = keras.layers.LeakyReLU(0.2)(h)
    for i, width in enumerate(channels[1:], start=1):
        h = keras.layers.Conv1D(width, 4, strides=2, padding="same", name=f"conv{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(hidden, name="hidden")(h))
    embedding = keras.layers.Dense(embedding_dim, name="embedding")(h)
    return keras.Model(clips, embedding, name="encoder")


def build_decoder(clip_frames: int, n_features: int, *, channels, hidden: int,
                  embedding_dim: int) -> keras.Model:
    """Embeddings ``(B, embedding_dim)`` -> clips ``(B, clip_frames, n_features)``."""
    steps = len(channels) - 1
    reduced = math.ceil(clip_frames / 2**steps)
    z = keras.Input((embedding_dim,), name="embedding")
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(hidden, name="hidden")(z))
    h = keras.layers.Dense(reduced * channels[-1], name="expand")(h)
    h = keras.layers.Reshape((reduced, channels[-1]))(keras.layers.LeakyReLU(0.2)(h))
    for i, width in enumerate(reversed(channels[:-1])):
        h = keras.layers.UpSampling1D(2)(h)
        h = keras.layers.Conv1D(width, 3, padding="same", name=f"deconv{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Cropping1D((0, reduced * 2**steps - clip_frames))(h)
    out = keras.layers.Conv1D(n_features, 3, padding="same", name="out")(h)
    return keras.Model(z, out, name="decoder")


class MotionAutoencoder(keras.Model):
    """Convolutional autoencoder of feature clips; its encoder is the FGD extractor.

    Parameters
    ----------
    clip_frames : int > 0
        Frames per clip.
    n_features : int > 0
        Feature values per frame (3 per bone).
    embedding_dim : int > 0
    channels : sequence of int > 0
        Encoder conv channels (the decoder mirrors them).
    hidden : int > 0
        Dense width around the embedding.
    """

    def __init__(self, clip_frames: int, n_features: int, *, embedding_dim: int = 32,
                 channels=(64, 128, 128), hidden: int = 256, **kwargs):
        super().__init__(**kwargs)
        channels = [int(c) for c in channels]
        sizes = {"clip_frames": clip_frames, "n_features": n_features,
                 "embedding_dim": embedding_dim, "hidden": hidden}
        bad = {k: v for k, v in sizes.items() if not (isinstance(v, int) and v > 0)}
        if bad or not channels or min(channels) < 1:
            raise ValueError(f"Expected positive sizes and channels. Received: {bad or ''} "
                             f"channels={channels}")
        self.clip_frames, self.n_features = clip_frames, n_features
        self.embedding_dim, self.channels, self.hidden = embedding_dim, channels, hidden
        shape = {"channels": channels, "hidden": hidden, "embedding_dim": embedding_dim}
        self.encoder = build_encoder(clip_frames, n_features, **shape)
        self.decoder = build_decoder(clip_frames, n_features, **shape)

    def call(self, clips, training=False):
        """Reconstruct clips ``(B, clip_frames, n_features)``."""
        return self.decoder(self.encoder(clips, training=training), training=training)

    def compute_losses(self, batch, training=False) -> dict:
        """Mean squared reconstruction error of a batch of clips."""
        error = keras.ops.mean(keras.ops.square(self(batch, training=training) - batch))
        return {"loss": error}

    def get_config(self) -> dict:
        """Constructor arguments, for saving and reloading."""
        return {**super().get_config(), "clip_frames": self.clip_frames,
                "n_features": self.n_features, "embedding_dim": self.embedding_dim,
                "channels": self.channels, "hidden": self.hidden}


def build_model(config: ExtractorConfig) -> MotionAutoencoder:
    """The (built, untrained) autoencoder of a configuration."""
    model = MotionAutoencoder(config.clip_frames, 3 * len(config.bones),
                              embedding_dim=config.embedding_dim, channels=config.channels,
                              hidden=config.hidden)
    model(np.zeros((1, config.clip_frames, 3 * len(config.bones)), np.float32))
    return model


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
        path = directory / CONFIG
        if not path.is_file():
            raise PipelineError(f"{path}: no such file (train the extractor with "
                                "evaluation/fgd.py train DATA_DIR OUT_DIR)")
        config = ExtractorConfig.from_dict(read_json(path), path)
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
            names = self.skeleton.names if self.skeleton is not None else None
            if names is not None and len(names) != array.shape[1]:
                raise PipelineError(f"motion {i}: {array.shape[1]} joints, the extractor's "
                                    f"skeleton has {len(names)}")
            out.append(Motion(f"motion {i}", array, float(fps or self.config.fps), names))
        if not out:
            raise PipelineError("no motions given")
        return out

    def features(self, motion: Motion) -> np.ndarray:
        """The extractor's input features ``(T, 3 B)`` of a motion, at the extractor's fps."""
        positions = motion.positions
        if not np.isclose(motion.fps, self.config.fps, rtol=1e-4):
            positions = resample_linear(positions, motion.fps, self.config.fps)
        joints = self.config.joints
        index = {name: i for i, name in enumerate(joints)}
        resampled = Motion(motion.name, positions, self.config.fps, motion.joint_names)
        selected = resampled.select(joints)
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


def score(extractor, real, generated, *, fps: float | None = None,
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
    done, pending = out_dir / CONFIG, out_dir / RUN_CONFIG
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
        for name in (CONFIG, RUN_CONFIG, WEIGHTS, MEAN, SKELETON, "best.weights.h5",
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
    train_ds = (tf.data.Dataset.from_tensor_slices(train)
                .shuffle(len(train), seed=config.seed, reshuffle_each_iteration=True)
                .batch(config.batch_size))
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
    write_json(out_dir / CONFIG, asdict(config))
    (out_dir / RUN_CONFIG).unlink(missing_ok=True)
    return extractor


# --------------------------------------------------------------------------------------------
# Command line


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments of ``train`` and ``score``."""
    parser = argparse.ArgumentParser(
        description="Train the FGD feature extractor, or score generated motion with it.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train the feature extractor on a prepared dataset")
    train.add_argument("data_dir", type=Path, help="dataset made by create_vector.py")
    train.add_argument("out_dir", type=Path, help="where the extractor is saved")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--clip-frames", type=int, default=34,
                       help="frames per clip (default: 34, as TED Gesture)")
    train.add_argument("--stride", type=int, default=10,
                       help="frames between clip starts when scoring (default: 10, as TED "
                            "Gesture)")
    train.add_argument("--train-stride", type=int, default=5,
                       help="frames between training and dev clip starts (default: 5)")
    train.add_argument("--epochs", type=int, default=20, help="most epochs (default: 20)")
    train.add_argument("--patience", type=int, default=5,
                       help="stop after this many epochs without a better dev loss (default: 5)")
    train.add_argument("--batch-size", type=int, default=64, help="clips per batch (default: 64)")
    train.add_argument("--learning-rate", type=float, default=1e-3,
                       help="Adam learning rate (default: 1e-3)")
    train.add_argument("--embedding-dim", type=int, default=32,
                       help="embedding size (default: 32)")
    train.add_argument("--channels", type=int, nargs="+", default=[64, 128, 128],
                       help="encoder conv channels (default: 64 128 128)")
    train.add_argument("--hidden", type=int, default=256, help="dense width (default: 256)")
    train.add_argument("--joints", type=lambda s: [j for j in s.split(",") if j],
                       help="comma-separated joints to use (default: all)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace an extractor with other settings in OUT_DIR")
    train.add_argument("--deterministic", action="store_true",
                       help="enable TensorFlow op determinism (bitwise-equal weights on GPU "
                            "too; CPU runs are reproducible without it)")

    score_ = sub.add_parser("score", help="FGD between real and generated motion")
    score_.add_argument("extractor_dir", type=Path, help="OUT_DIR of fgd.py train")
    score_.add_argument("--real", nargs="+", required=True,
                        help="real motion: files, directories or DATA_DIR:SPLIT")
    score_.add_argument("--generated", nargs="+", required=True,
                        help="generated motion: files, directories or DATA_DIR:SPLIT")
    score_.add_argument("--fps", type=float,
                        help="frame rate of array files (default: the extractor's); "
                             "motions are resampled to the extractor's frame rate")
    score_.add_argument("--representation", choices=ARRAY_KINDS,
                        help="kind of array files when their width fits several")
    score_.add_argument("--stride", type=int,
                        help="frames between clip starts (default: the extractor's)")
    score_.add_argument("--name", default="", help="label of the row in --out")
    score_.add_argument("--out", type=Path, help="append a row to this CSV table")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run ``train`` or ``score``."""
    args = parse_args(argv)
    if args.command == "train":
        if args.deterministic:
            tf.config.experimental.enable_op_determinism()
        settings = {k: v for k, v in vars(args).items() if k in SETTINGS}
        extractor = train_extractor(args.data_dir, args.out_dir, joints=args.joints,
                                    overwrite=args.overwrite, **settings)
        t = extractor.config.training
        print(f"extractor -> {args.out_dir} (best epoch {t.get('best_epoch')} of "
              f"{t.get('epochs_run')}, {t.get('fit_seconds')} s of training)")
        return 0

    if args.stride is not None and args.stride < 1:
        raise PipelineError(f"--stride must be >= 1, got {args.stride}")
    extractor = FeatureExtractor.load(args.extractor_dir)
    fps = args.fps or extractor.config.fps
    sides = {side: load_sources(getattr(args, side), skeleton=extractor.skeleton, fps=fps,
                                target_fps=extractor.config.fps,
                                representation=args.representation)
             for side in ("real", "generated")}
    result = score(extractor, sides["real"], sides["generated"], stride=args.stride)
    print(f"FGD: {result.fgd:.3f}")
    print(f"({result.real_clips} real and {result.generated_clips} generated clips of "
          f"{extractor.config.clip_frames} frames at {extractor.config.fps:g} fps)",
          file=sys.stderr)
    if args.out:
        append_csv(args.out, {
            "name": args.name, "fgd": f"{result.fgd:.6f}", "real_clips": result.real_clips,
            "generated_clips": result.generated_clips,
            "clip_frames": extractor.config.clip_frames,
            "stride": args.stride or extractor.config.stride, "fps": extractor.config.fps,
            "extractor": str(args.extractor_dir), "real": " ".join(args.real),
            "generated": " ".join(args.generated)})
    return 0


if __name__ == "__main__":
    run_cli(main)
