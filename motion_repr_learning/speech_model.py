"""The IVA'19 speech encoder and its builders, shared by ``train.py`` and ``predict.py``.

The network (Kucherenko et al. 2019) maps a window of ``n_context + 1`` speech feature frames to
the motion vector of its centre frame, or to its code in a learned motion representation::

    windows (N, W, F) -> Normalization (audio_mean, audio_std of the training split)
        -> 3 x [TimeDistributed Dense 256 -> BatchNorm -> ReLU -> Dropout 0.1]
        -> GRU 256 (last output) -> BatchNorm -> ReLU -> Dropout 0.1
        -> Dense (D or DIM), linear, in normalised target units

Normalisation lives inside the model so the ``X`` files stay raw and a saved model is
self-contained. The target is normalised too (per column: ``motion_mean``/``motion_std`` for
motion, the training codes' mean/std for codes): the network learns ``(y - mean) / std`` and
the saved inference model ends with the inverse (``Normalization(invert=True)``), so it outputs
motion vectors (or codes) in the dataset's units. The original regressed raw centimetres,
which needs tens of thousands of steps to converge.

A trained model is ``NAME.keras`` plus the sidecar ``NAME.json`` (:class:`ModelCard`): what
it predicts (motion or DIM codes, and through which representation), and the dataset's
feature set, mel preset, fps, context and feature size, so ``predict.py`` can compute
features for a new WAV and decode codes back to motion without asking for any flag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, atomic_path, load_array, read_json, write_json
from motion_repr_learning.ae.representation import (
    ENCODING_INFO,
    Representation,
    load_representation,
    motion_fingerprint,
)

KIND = "iva19"
EVAL_BATCH = 4096  # windows per batch when evaluating the dev split


@dataclass
class NetworkConfig:
    """Sizes of the IVA'19 speech network.

    Parameters
    ----------
    units : int > 0
        Width of the time-distributed dense layers (256).
    blocks : int > 0
        Number of dense blocks (3).
    gru_units : int > 0
        GRU width (256).
    dropout : float in [0, 1)
        Dropout rate after every block (0.1).
    """

    units: int = 256
    blocks: int = 3
    gru_units: int = 256
    dropout: float = 0.1


@dataclass
class TrainSettings:
    """Optimisation settings (IVA'19 defaults: Adam 1e-3, batch 2056, MSE).

    Parameters
    ----------
    epochs : int > 0
    batch_size : int > 0
    learning_rate : float > 0
    patience : int > 0, optional
        Early stopping on the dev loss; ``None`` trains all epochs (best dev epoch kept).
    seed : int
    """

    epochs: int = 100
    batch_size: int = 2056
    learning_rate: float = 1e-3
    patience: int | None = None
    seed: int = 0


@dataclass
class Targets:
    """Regression targets of a run: arrays per split and their normalisation.

    Parameters
    ----------
    train, dev : np.ndarray [shape=(N, output_size)]
    mean, std : np.ndarray [shape=(output_size,)]
        Normalisation (training split).
    representation : Representation, optional
        The representation that produced codes (``None`` for motion targets).
    """

    train: np.ndarray
    dev: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    representation: Representation | None = None


@dataclass
class ModelCard:
    """The JSON sidecar of a saved speech model: what it predicts and what it expects.

    Parameters
    ----------
    predicts : str
        ``motion`` (motion vectors, width ``motion_size``) or ``encoding`` (codes of width
        ``dim``, decoded through ``representation``).
    output_size : int
        Width of the network output (``motion_size`` or ``dim``).
    motion, motion_size : str, int
        Motion representation and width ``D`` of the dataset's ``Y``.
    features, mel_preset, fps, n_context, feature_size
        The dataset's speech features (``meta.json``).
    dataset : str
        The dataset the model was trained on.
    representation, representation_kind, dim : str, str, int, optional
        The motion representation (directory, ``dae`` or ``pca``, DIM) of an ``encoding`` model.
    network, training : dict
        :class:`NetworkConfig` and :class:`TrainSettings` (+ ``best_epoch``) of the run.
    kind : str
        Model family, for ``predict.py``'s dispatch.
    """

    predicts: str
    output_size: int
    motion: str
    motion_size: int
    features: str
    mel_preset: str
    fps: float
    n_context: int
    feature_size: int
    dataset: str
    representation: str | None = None
    representation_kind: str | None = None
    dim: int | None = None
    network: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    kind: str = KIND

    @classmethod
    def describe(cls, meta: DatasetMeta, targets: Targets, *, network: NetworkConfig,
                 training: dict) -> ModelCard:
        """The card of a model trained on ``meta``'s windows to ``targets``."""
        representation = targets.representation
        return cls(
            predicts="encoding" if representation else "motion",
            output_size=int(targets.train.shape[1]), motion=meta.motion,
            motion_size=meta.output_size, features=meta.features, mel_preset=meta.mel_preset,
            fps=meta.fps, n_context=meta.n_context, feature_size=meta.feature_size,
            dataset=str(Path(meta.root).resolve()),
            representation=str(representation.path.resolve()) if representation else None,
            representation_kind=representation.kind if representation else None,
            dim=representation.dim if representation else None,
            network=asdict(network), training=training,
        )

    @property
    def window(self) -> int:
        """Frames per input window."""
        return self.n_context + 1

    def save(self, model_path) -> Path:
        """Write the sidecar of ``model_path``."""
        return write_json(sidecar_path(model_path), asdict(self))

    @classmethod
    def load(cls, model_path) -> ModelCard:
        """Read the sidecar of ``model_path``."""
        data = read_json(sidecar_path(model_path))
        try:
            return cls(**data)
        except TypeError as error:
            raise PipelineError(f"{sidecar_path(model_path)}: not an IVA'19 model card "
                                f"({error})") from None


def sidecar_path(model_path) -> Path:
    """``NAME.json`` beside ``NAME.keras`` (``DIR/model.json`` for a model directory)."""
    model_path = Path(model_path)
    return model_path / "model.json" if model_path.is_dir() else model_path.with_suffix(".json")


# --------------------------------------------------------------------------------------------
# Model


def build_network(*, window: int, feature_size: int, output_size: int,
                  audio_mean: np.ndarray, audio_std: np.ndarray,
                  config: NetworkConfig | None = None, seed: int | None = None) -> keras.Model:
    """The IVA'19 network: raw windows ``(N, W, F)`` to normalised targets ``(N, output_size)``."""
    config = config or NetworkConfig()
    inputs = keras.Input((window, feature_size), name="speech_windows")
    x = keras.layers.Normalization(mean=audio_mean, variance=np.square(audio_std),
                                   name="speech_normalization")(inputs)
    for i in range(config.blocks):
        dense = keras.layers.Dense(config.units)
        x = keras.layers.TimeDistributed(dense, name=f"frame_dense{i}")(x)
        x = _norm_relu_dropout(x, config.dropout, None if seed is None else seed + i, f"block{i}")
    x = keras.layers.GRU(config.gru_units, name="gru")(x)
    x = _norm_relu_dropout(x, config.dropout, None if seed is None else seed + config.blocks,
                           "gru")
    outputs = keras.layers.Dense(output_size, name="output")(x)
    return keras.Model(inputs, outputs, name="iva19_speech_network")


def _norm_relu_dropout(x, rate: float, seed: int | None, name: str):
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.Dropout(rate, seed=seed, name=f"{name}_dropout")(x)


class SpeechToMotion(keras.Model):
    """Training wrapper: the network learns targets normalised by ``target_mean``/``target_std``.

    Parameters
    ----------
    network : keras.Model
        From :func:`build_network`.
    target_mean, target_std : np.ndarray [shape=(output_size,)]
        Normalisation of the regression target.
    """

    def __init__(self, network: keras.Model, target_mean: np.ndarray, target_std: np.ndarray,
                 **kwargs):
        super().__init__(**kwargs)
        if np.shape(target_mean) != network.output_shape[1:]:
            raise ValueError(f"Expected target statistics of shape {network.output_shape[1:]}. "
                             f"Received: {np.shape(target_mean)}")
        self.network = network
        self.target_mean = np.asarray(target_mean, np.float32)
        self.target_std = np.asarray(target_std, np.float32)
        self.build(network.input_shape)

    def build(self, input_shape):
        """Nothing to create: the wrapped network is built (needed to restore weights)."""

    def call(self, windows, training=False):
        """Normalised predictions ``(N, output_size)``."""
        return self.network(windows, training=training)

    def compute_losses(self, batch, training=False) -> dict:
        """Mean squared error on the normalised target."""
        windows, target = batch
        error = self(windows, training=training) - (target - self.target_mean) / self.target_std
        return {"loss": keras.ops.mean(keras.ops.square(error))}

    def inference_model(self) -> keras.Model:
        """Raw windows to de-normalised outputs (motion vectors or codes): the saved model."""
        inputs = keras.Input(self.network.input_shape[1:], name="speech_windows")
        outputs = keras.layers.Normalization(
            mean=self.target_mean, variance=np.square(self.target_std), invert=True,
            name="target_denormalization")(self.network(inputs, training=False))
        return keras.Model(inputs, outputs, name="iva19_speech_model")


def build_model(meta: DatasetMeta, targets: Targets, *, config: NetworkConfig | None = None,
                seed: int | None = None) -> SpeechToMotion:
    """The network for ``meta``'s windows and ``targets``, inputs normalised by the saved stats."""
    network = build_network(window=meta.window, feature_size=meta.feature_size,
                            output_size=targets.train.shape[1], audio_mean=meta.stat("audio_mean"),
                            audio_std=meta.stat("audio_std"), config=config, seed=seed)
    return SpeechToMotion(network, targets.mean, targets.std)


# --------------------------------------------------------------------------------------------
# Data


def motion_targets(meta: DatasetMeta) -> Targets:
    """``Y_{train,dev}.npy`` with the saved ``motion_mean``/``motion_std``."""
    root = Path(meta.root)
    return Targets(load_array(root / "Y_train.npy", ndim=2), load_array(root / "Y_dev.npy", ndim=2),
                   meta.stat("motion_mean"), meta.stat("motion_std"))


def encoded_targets(meta: DatasetMeta, encoded_dir, dim: int) -> Targets:
    """``Y_{train,dev}_encoded.npy`` from ``encode_dataset.py``, with the training codes' stats.

    The encoding must come from this dataset's motion (same fingerprint), not just have as
    many rows.
    """
    encoded_dir = Path(encoded_dir)
    info_path = encoded_dir / ENCODING_INFO
    info = read_json(info_path)
    if info.get("dim") != dim:
        raise PipelineError(f"{info_path}: codes of DIM {info.get('dim')}, but DIM {dim} was given")
    if info.get("motion_fingerprint") != motion_fingerprint(meta.root):
        raise PipelineError(f"{info_path}: codes of the motion of {info.get('dataset')}, which "
                            f"differs from the motion of {meta.root}; run encode_dataset.py on it")
    representation = load_representation(info["representation"])
    train = load_array(encoded_dir / "Y_train_encoded.npy", ndim=2)
    dev = load_array(encoded_dir / "Y_dev_encoded.npy", ndim=2)
    std = train.std(axis=0)
    return Targets(train, dev, train.mean(axis=0), np.where(std > 1e-6, std, 1.0),
                   representation)


def load_windows(meta: DatasetMeta, split: str, n_rows: int) -> np.ndarray:
    """``X_<split>.npy`` memory-mapped, checked against ``meta.json`` and the targets."""
    path = Path(meta.root) / f"X_{split}.npy"
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    windows = np.load(path, mmap_mode="r")
    expected = (n_rows, meta.window, meta.feature_size)
    if windows.shape != expected:
        raise PipelineError(f"{path}: expected windows of shape {expected} (meta.json and the "
                            f"targets), found {windows.shape}")
    return windows


def window_dataset(windows: np.ndarray, targets: np.ndarray, *, batch_size: int,
                   shuffle: bool = False, seed: int = 0):
    """Batches ``(windows, targets)`` gathered from (memory-mapped) arrays, bounded memory.

    Only indices go through ``tf.data``; each batch is copied from the arrays when needed, so a
    training set larger than memory works. With ``shuffle`` the order is drawn anew each epoch
    from ``seed`` and the last partial batch is dropped (a different one each epoch), so the
    compiled training step sees one batch shape.
    """
    import tensorflow as tf

    window_shape, target_width = windows.shape[1:], targets.shape[1]

    def gather(index):
        index = np.sort(index)
        return (np.asarray(windows[index], np.float32), np.asarray(targets[index], np.float32))

    def load(index):
        x, y = tf.numpy_function(gather, [index], (tf.float32, tf.float32), stateful=False)
        return tf.ensure_shape(x, (None, *window_shape)), tf.ensure_shape(y, (None, target_width))

    index = tf.data.Dataset.range(len(windows))
    if shuffle:
        index = index.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
    drop = shuffle and len(windows) >= batch_size
    return index.batch(batch_size, drop_remainder=drop).map(load).prefetch(2)


# --------------------------------------------------------------------------------------------
# Inference


class IVA19Model:
    """A saved speech model ready for inference: windows or features in, motion vectors out.

    Parameters
    ----------
    path : path-like
        The ``.keras`` file (its sidecar ``.json`` beside it).
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise PipelineError(f"{self.path}: no such file")
        self.card = ModelCard.load(self.path)
        self.network = keras.models.load_model(self.path)
        self.representation = self._representation()

    def _representation(self) -> Representation | None:
        card = self.card
        if card.predicts == "motion":
            return None
        if not card.representation or not Path(card.representation).is_dir():
            raise PipelineError(
                f"{sidecar_path(self.path)}: the model predicts DIM-{card.dim} codes of the "
                f"{card.representation_kind} representation {card.representation}, which is "
                "missing (expected a directory written by learn_dataset_encoding.py)"
            )
        representation = load_representation(card.representation)
        if representation.dim != card.dim:
            raise PipelineError(f"{representation.path}: representation of DIM "
                                f"{representation.dim}, the model predicts DIM {card.dim}")
        return representation

    def from_windows(self, windows: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
        """Motion vectors ``(T, D)`` of windows ``(T, W, F)``, one batch in memory at a time."""
        expected = (self.card.window, self.card.feature_size)
        if windows.ndim != 3 or windows.shape[1:] != expected:
            raise PipelineError(
                f"{self.path}: expects windows (T, {expected[0]}, {expected[1]}) of "
                f"{self.card.features} features (n_context {self.card.n_context}), found shape "
                f"{windows.shape}"
            )
        out = np.empty((len(windows), self.card.motion_size), np.float32)
        for start, batch in _batches(windows, batch_size):
            predicted = keras.ops.convert_to_numpy(self.network(batch, training=False))
            if self.representation is not None:
                predicted = self.representation.decode(predicted)
            out[start : start + len(batch)] = predicted
        return out

    def from_features(self, features: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
        """Motion vectors ``(T, D)`` of features ``(T, F)``: silence-padded centred windows."""
        from data_processing.audio import silence_frame
        from data_processing.create_vector import context_window_view

        silence = silence_frame(self.card.features, fps=self.card.fps,
                                mel_preset=self.card.mel_preset)
        windows = context_window_view(features, silence, self.card.n_context)
        return self.from_windows(windows, batch_size=batch_size)


def _batches(array: np.ndarray, size: int) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, len(array), size):
        yield start, np.ascontiguousarray(array[start : start + size], dtype=np.float32)


def save_model(model: SpeechToMotion, card: ModelCard, path) -> Path:
    """Save the inference model as ``.keras`` and its sidecar (both atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        model.inference_model().save(tmp)
    card.save(path)
    return path
