"""Learned motion representations of IVA'19: the denoising autoencoder (DAE) or a PCA reference.

A *representation* maps motion vectors ``Y`` ``(N, D)`` to codes ``Z`` ``(N, DIM)`` and back,
one row per frame. Both kinds share one interface (:class:`Representation`) and one on-disk
layout, so ``encode_dataset.py``, ``decode.py`` and ``predict.py`` work with either::

    CHKPT_DIR/config.json           kind (dae or pca, :mod:`data_processing.artifacts`), DIM, D,
                                    settings; "complete" once training ended
    CHKPT_DIR/norm_mean.npy         the dataset's motion_mean (copied: the directory is
    CHKPT_DIR/norm_scale.npy        self-contained) and motion_absmax
    CHKPT_DIR/best.weights.h5       DAE weights (best dev epoch)        [dae]
    CHKPT_DIR/checkpoints/ logs/ history.csv loss_curve.png   training  [dae]
    CHKPT_DIR/pca_components.npy    (DIM, D) principal axes             [pca]
    CHKPT_DIR/pca_mean.npy          (D,) mean of the normalised data    [pca]

Normalisation ``(Y - mean) / scale``, per column, from the training split, computed once
when the representation is learned and saved in its directory (never recomputed), by name
(:data:`NORMALISATIONS`, the ``normalisation`` setting in ``config.json``):

``iva19`` (the DAE's default: the original recipe)
    ``mean = motion_mean``, ``scale = max|Y_train|`` of the *uncentred* training motion, as the
    original ``utils.prepare_motion_data`` (``max_val = np.amax(np.absolute(Y_train), axis=0)``);
    the DAE's loss is then in the data's units (the error times ``scale``, as
    ``utils.loss_reconstruction``) plus weight decay.
``centred`` (this project's choice; the PCA's default)
    ``mean = motion_mean``, ``scale = motion_absmax = max|Y_train - mean|`` (the statistic
    ``create_vector.py`` saved), so every normalised training value lies in ``[-1, 1]``, the
    range of the decoder's tanh; the DAE's loss is in normalised units.

A column whose scale is 0 (a pinned root) gets scale 1 (its values are 0 either way).

The DAE (:mod:`motion_repr_learning.ae.dae`) is trained here with Gaussian input noise whose
standard deviation is ``noise_ratio`` times the scalar standard deviation of the normalised
training data (0.05 in IVA'19). Keras is imported only for the DAE, so the PCA reference and
the normalisation need no TensorFlow.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from data_processing.artifacts import CONFIG, read_config, write_config
from data_processing.dataset import SPLITS, DatasetMeta
from data_processing.files import PipelineError, load_array, save_array
from data_processing.representations import to_positions
from evaluation.metrics import ape

KINDS = ("dae", "pca")
INFO = CONFIG
ENCODING_INFO = "encoding.json"
CHUNK = 65536  # rows per forward pass when encoding or decoding long arrays

NORMALISATIONS = ("iva19", "centred")
"""Named motion normalisations (see the module docstring)."""

ORIGINAL_WEIGHT_DECAY = 0.25
"""The original's weight decay in Keras' convention (``l2 * sum(W ** 2)`` per weight matrix).

IVA'19 ``DAE._create_variables`` adds ``weight_decay * tf.nn.l2_loss(W)`` with
``weight_decay = 0.5`` (``utils/flags.py``); ``tf.nn.l2_loss(W) = sum(W ** 2) / 2``.
"""

CENTRED_WEIGHT_DECAY = 1e-6
"""This project's weight decay with the ``centred`` normalisation (loss in normalised units)."""


@dataclass
class DAESettings:
    """Training settings of the denoising autoencoder (IVA'19 defaults).

    Parameters
    ----------
    epochs : int > 0
        Most epochs (20 in IVA'19).
    batch_size : int > 0
    learning_rate : float > 0
        Adam learning rate (1e-4).
    dropout : float in [0, 1)
        Dropout rate before each layer (keep probability 0.9 in IVA'19).
    noise_ratio : float >= 0
        Input noise std as a fraction of the normalised data's std (0.05).
    l2 : float >= 0, optional
        L2 penalty on both weight matrices, ``l2 * sum(W ** 2)`` each; ``None``: the
        normalisation's own (:meth:`resolved`).
    patience : int > 0, optional
        Early stopping on the dev loss after this many epochs without improvement.
    seed : int
        Seed of initialisation, shuffling, dropout and noise.
    normalisation : str
        ``iva19`` (the original: scale ``max|Y_train|``, loss in the data's units) or
        ``centred`` (ours: scale ``max|Y_train - mean|``, loss in normalised units); see
        :data:`NORMALISATIONS`.
    """

    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-4
    dropout: float = 0.1
    noise_ratio: float = 0.05
    l2: float | None = None
    patience: int | None = 5
    seed: int = 0
    normalisation: str = "iva19"

    def resolved(self) -> DAESettings:
        """These settings with ``l2`` filled in (``None``: the normalisation's own).

        :data:`ORIGINAL_WEIGHT_DECAY` with ``iva19`` (0.5 x ``tf.nn.l2_loss``),
        :data:`CENTRED_WEIGHT_DECAY` with ``centred``.
        """
        check_normalisation(self.normalisation)
        if self.l2 is not None:
            return self
        l2 = ORIGINAL_WEIGHT_DECAY if self.normalisation == "iva19" else CENTRED_WEIGHT_DECAY
        return replace(self, l2=l2)


def check_normalisation(name: str) -> str:
    """``name`` if it is one of :data:`NORMALISATIONS`, else a one-line error."""
    if name not in NORMALISATIONS:
        raise PipelineError(f"--normalisation {name!r}: expected one of "
                            f"{', '.join(NORMALISATIONS)}")
    return name


# --------------------------------------------------------------------------------------------
# The representation interface


@dataclass
class Normaliser:
    """Motion normalisation ``(Y - mean) / scale`` (see the module docstring).

    Parameters
    ----------
    mean, scale : np.ndarray [shape=(D,)]
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_dataset(cls, meta: DatasetMeta, normalisation: str) -> Normaliser:
        """The named normalisation of ``meta``'s training split.

        ``centred``: the ``motion_mean`` and ``motion_absmax`` that ``create_vector.py`` saved;
        ``iva19``: ``motion_mean`` and ``max|Y_train|`` of ``Y_train.npy`` (uncentred).
        """
        mean = meta.stat("motion_mean").astype(np.float32)
        if check_normalisation(normalisation) == "centred":
            return cls(mean, meta.stat("motion_absmax").astype(np.float32))
        absmax = np.abs(_split_motion(meta, "train")).max(axis=0)
        return cls(mean, np.where(absmax > 1e-6, absmax, 1.0).astype(np.float32))

    @classmethod
    def load(cls, path) -> Normaliser:
        """Read ``norm_{mean,scale}.npy`` from a representation directory."""
        return cls(load_array(Path(path) / "norm_mean.npy").astype(np.float32),
                   load_array(Path(path) / "norm_scale.npy").astype(np.float32))

    def save(self, path) -> None:
        """Write ``norm_{mean,scale}.npy`` into a representation directory."""
        save_array(Path(path) / "norm_mean.npy", self.mean)
        save_array(Path(path) / "norm_scale.npy", self.scale)

    def forward(self, motion: np.ndarray) -> np.ndarray:
        """Normalise motion vectors ``(..., D)``."""
        return (np.asarray(motion, np.float32) - self.mean) / self.scale

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Motion vectors from normalised values ``(..., D)``."""
        return np.asarray(values, np.float32) * self.scale + self.mean


class Representation:
    """A trained representation: ``encode`` motion ``(N, D)`` to codes ``(N, DIM)`` and back.

    Parameters
    ----------
    path : Path
        Its directory.
    info : dict
        Contents of ``config.json``.
    """

    def __init__(self, path: Path, info: dict):
        self.path = Path(path)
        self.info = info
        self.kind: str = info["kind"]
        self.dim: int = int(info["dim"])
        self.output_size: int = int(info["output_size"])
        self.normaliser = Normaliser.load(self.path)

    def encode(self, motion: np.ndarray) -> np.ndarray:
        """Codes ``(N, DIM)`` of motion vectors ``(N, D)``: exactly one row per input row."""
        motion = self._check(motion, self.output_size, "motion vectors")
        return self._chunked(self._encode, self.normaliser.forward(motion), self.dim)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Motion vectors ``(N, D)`` of codes ``(N, DIM)``: exactly one row per input row."""
        codes = self._check(codes, self.dim, "codes")
        return self.normaliser.inverse(self._chunked(self._decode, codes, self.output_size))

    def _check(self, array: np.ndarray, width: int, what: str) -> np.ndarray:
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != width:
            raise PipelineError(
                f"{self.path}: this {self.kind} representation (DIM {self.dim}, D "
                f"{self.output_size}) expects {what} of shape (N, {width}), found {array.shape}"
            )
        return array

    @staticmethod
    def _chunked(function, values: np.ndarray, width: int) -> np.ndarray:
        out = np.empty((len(values), width), np.float32)
        for start in range(0, len(values), CHUNK):
            out[start : start + CHUNK] = function(values[start : start + CHUNK])
        return out

    def _encode(self, normalised: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _decode(self, codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class DAERepresentation(Representation):
    """The DAE's encoder and decoder, dropout and noise off."""

    def __init__(self, path: Path, info: dict):
        from motion_repr_learning.ae.dae import DenoisingAutoencoder

        super().__init__(path, info)
        settings = info["settings"]
        self.model = DenoisingAutoencoder(self.output_size, self.dim, dropout=settings["dropout"])
        self.model.load_weights(self.path / "best.weights.h5")

    def _encode(self, normalised):
        return np.asarray(self.model.encoder(normalised, training=False))

    def _decode(self, codes):
        return np.asarray(self.model.decoder(codes, training=False))


class PCARepresentation(Representation):
    """Projection on the first DIM principal axes of the normalised training motion."""

    def __init__(self, path: Path, info: dict):
        super().__init__(path, info)
        self.components = load_array(self.path / "pca_components.npy").astype(np.float32)
        self.centre = load_array(self.path / "pca_mean.npy").astype(np.float32)

    def _encode(self, normalised):
        return (normalised - self.centre) @ self.components.T

    def _decode(self, codes):
        return codes @ self.components + self.centre


def load_representation(path) -> Representation:
    """Open a trained representation directory (one-line error when missing or incomplete)."""
    path = Path(path)
    if not (path / INFO).is_file():
        raise PipelineError(f"{path}: no trained representation here (no {INFO}; run "
                            "motion_repr_learning/ae/learn_dataset_encoding.py first)")
    info = read_config(path, KINDS)
    if not info.get("complete"):
        raise PipelineError(f"{path}: representation training did not finish (rerun "
                            "learn_dataset_encoding.py with the same arguments to resume)")
    return (DAERepresentation if info["kind"] == "dae" else PCARepresentation)(path, info)


def _write_info(chkpt_dir: Path, info: dict) -> None:
    settings = {k: v for k, v in info.items() if k not in ("kind", "format")}
    write_config(chkpt_dir, info["kind"], settings)


def check_compatible(representation: Representation, meta: DatasetMeta) -> None:
    """Fail unless the representation encodes this dataset's motion vectors."""
    info = representation.info
    if (info["output_size"], info["motion"]) != (meta.output_size, meta.motion):
        raise PipelineError(
            f"{representation.path}: representation of {info['motion']} vectors of width "
            f"{info['output_size']}, but {meta.root} holds {meta.motion} vectors of width "
            f"{meta.output_size}"
        )


# --------------------------------------------------------------------------------------------
# Learning


def _start(chkpt_dir: Path, meta: DatasetMeta, kind: str, dim: int, settings: dict) -> dict:
    """Write the run description (or check that a resumed run has the same one)."""
    info = {"kind": kind, "dim": dim, "output_size": meta.output_size, "motion": meta.motion,
            "dataset": str(Path(meta.root).resolve()), "settings": settings, "complete": False}
    path = chkpt_dir / INFO
    if path.is_file():
        old = read_config(chkpt_dir)
        same = ("kind", "dim", "output_size", "motion")
        if any(old.get(k) != info[k] for k in same):
            raise PipelineError(
                f"{path}: this directory holds a {old.get('kind')} of DIM {old.get('dim')} for "
                f"D {old.get('output_size')}, not a {kind} of DIM {dim} for D "
                f"{meta.output_size}; use another --chkpt-dir"
            )
        changed = _changed_settings(old, info)
        if changed:
            raise PipelineError(f"{path}: this directory holds a run with another "
                                f"{', '.join(changed)}; use another --chkpt-dir or delete it "
                                "(only --epochs may change, to train on)")
    if not 0 < dim <= meta.output_size:
        raise PipelineError(f"--dim must be in [1, {meta.output_size}] (D), got {dim}")
    Normaliser.from_dataset(meta, settings["normalisation"]).save(chkpt_dir)
    _write_info(chkpt_dir, info)
    return info


def _changed_settings(old: dict, new: dict) -> list[str]:
    """What differs between a saved run and a new one, other than the epochs to train."""
    changed = ["dataset"] if old.get("dataset") != new["dataset"] else []
    settings = old.get("settings", {})
    return changed + [k for k, v in new["settings"].items()
                      if k != "epochs" and settings.get(k) != v]


def _finish(chkpt_dir: Path, info: dict, **results) -> Representation:
    _write_info(chkpt_dir, {**info, **results, "complete": True})
    return load_representation(chkpt_dir)


def _split_motion(meta: DatasetMeta, split: str) -> np.ndarray:
    return load_array(Path(meta.root) / f"Y_{split}.npy", ndim=2).astype(np.float32)


def learn_dae(meta: DatasetMeta, chkpt_dir, dim: int, settings: DAESettings) -> Representation:
    """Train (or resume training) the DAE on ``Y_train`` with early stopping on ``Y_dev``.

    Seeded by ``settings.seed`` (:func:`training.loop.set_seed`: initialisation, op
    determinism; the shuffling order of :func:`training.data.shuffled_batches`; the dropout
    and noise generators, checkpointed by the Trainer), so two runs with one seed on one
    machine give identical weights. ``config.json`` records the resolved settings.
    """
    import keras
    import tensorflow as tf

    from motion_repr_learning.ae.dae import DenoisingAutoencoder
    from training.data import shuffled_batches
    from training.loop import Trainer, set_seed

    chkpt_dir = Path(chkpt_dir)
    settings = settings.resolved()
    info = _start(chkpt_dir, meta, "dae", dim, asdict(settings))
    normaliser = Normaliser.load(chkpt_dir)
    train = normaliser.forward(_split_motion(meta, "train"))
    dev = normaliser.forward(_split_motion(meta, "dev"))
    noise_std = settings.noise_ratio * float(train.std())
    error_scale = normaliser.scale if settings.normalisation == "iva19" else None
    set_seed(settings.seed)
    model = DenoisingAutoencoder(meta.output_size, dim, noise_std=noise_std,
                                 dropout=settings.dropout, l2=settings.l2, seed=settings.seed,
                                 error_scale=error_scale)
    trainer = Trainer(model, keras.optimizers.Adam(settings.learning_rate), chkpt_dir)
    batches = shuffled_batches(train, batch_size=settings.batch_size, seed=settings.seed,
                               drop_remainder=len(train) >= settings.batch_size)
    dev_batches = tf.data.Dataset.from_tensor_slices(dev).batch(4096) if len(dev) else None
    result = trainer.fit(batches, epochs=settings.epochs, dev_dataset=dev_batches,
                         patience=settings.patience)
    return _finish(chkpt_dir, info, noise_std=noise_std, best_epoch=result.best_epoch)


def fit_pca(meta: DatasetMeta, chkpt_dir, dim: int, *, seed: int = 0,
            normalisation: str = "centred") -> Representation:
    """Fit the PCA reference representation (scikit-learn) on the normalised ``Y_train``.

    Its default normalisation is ``centred``: the PCA minimises the error in normalised units,
    which the uncentred ``iva19`` scale would weight towards joints near the origin.
    """
    from sklearn.decomposition import PCA

    chkpt_dir = Path(chkpt_dir)
    info = _start(chkpt_dir, meta, "pca", dim, {"seed": seed, "normalisation": normalisation})
    train = Normaliser.load(chkpt_dir).forward(_split_motion(meta, "train"))
    pca = PCA(n_components=dim, svd_solver="full", random_state=seed).fit(train)
    save_array(chkpt_dir / "pca_components.npy", pca.components_.astype(np.float32))
    save_array(chkpt_dir / "pca_mean.npy", pca.mean_.astype(np.float32))
    return _finish(chkpt_dir, info,
                   explained_variance=float(pca.explained_variance_ratio_.sum()))


def reconstruction_errors(representation: Representation, meta: DatasetMeta,
                          split: str = "dev") -> dict[str, float]:
    """APE (dataset units) of the encode -> decode reconstruction and of the mean pose.

    Parameters
    ----------
    representation : Representation
    meta : DatasetMeta
        Dataset whose ``Y_<split>.npy`` is reconstructed.
    split : str
        ``train``, ``dev`` or ``test``.
    """
    motion = _split_motion(meta, split)
    if not len(motion):
        raise PipelineError(f"{meta.root}: the {split} split is empty")
    skeleton = meta.skeleton

    def error(vectors: np.ndarray) -> float:
        predicted = to_positions(vectors, skeleton, meta.motion)
        return float(ape(predicted, to_positions(motion, skeleton, meta.motion)).mean())

    mean_pose = np.broadcast_to(representation.normaliser.mean, motion.shape)
    return {"reconstruction": error(representation.decode(representation.encode(motion))),
            "mean_pose": error(mean_pose)}


def motion_fingerprint(data_dir) -> str:
    """SHA-1 of a dataset's ``Y_{train,dev,test}.npy``: codes of one dataset fit another iff equal.

    Datasets built from the same recordings and split (e.g. one per feature set) share it.
    """
    digest = hashlib.sha1()
    for split in SPLITS:
        path = Path(data_dir) / f"Y_{split}.npy"
        if not path.is_file():
            raise PipelineError(f"{path}: no such file")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def add_representation_args(parser: argparse.ArgumentParser) -> None:
    """The ``DATA_DIR`` and ``--chkpt-dir`` arguments shared by the three AE steps."""
    parser.add_argument("data_dir", help="dataset directory written by create_vector.py")
    parser.add_argument("--chkpt-dir", "-chkpt_dir", required=True,
                        help="directory of the representation (checkpoints, weights, stats)")
