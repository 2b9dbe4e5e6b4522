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

A trained model is a directory (:mod:`data_processing.artifacts`, kind ``iva19``)::

    MODEL/config.json     the model card (:class:`ModelCard`): what it predicts (motion or DIM
                          codes, and through which representation), and the dataset's feature
                          set, mel preset, fps, context and feature size
    MODEL/model.keras     the inference network (raw windows in, motion or codes out)
    MODEL/skeleton.json   the dataset's skeleton (BVH output)

besides the training loop's files (``checkpoints/``, ``history.csv``, ``logs/``, ...), so
``predict.py`` computes features for a new WAV and decodes codes back to motion without
asking for any flag. :class:`IVA19Model` is the family's :class:`helpers.families.GestureModel`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from data_processing.artifacts import read_config, write_config
from data_processing.bvh import Skeleton
from data_processing.dataset import DatasetMeta
from data_processing.files import (
    AUDIO_SUFFIXES,
    PipelineError,
    atomic_path,
    load_array,
    read_json,
)
from data_processing.motion import Motion, from_vectors
from motion_repr_learning.ae.representation import (
    ENCODING_INFO,
    Representation,
    load_representation,
    motion_fingerprint,
)
from speech_encoder.config import NetworkConfig

KIND = "iva19"
NETWORK_FILE = "model.keras"
EVAL_BATCH = 4096  # windows per batch when evaluating the dev split


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
    """The model card (``MODEL/config.json``): what a speech model predicts and expects.

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
    mfcc_rate : str
        The dataset's MFCC sample rate (``native`` or ``16k``,
        :data:`data_processing.audio.MFCC_RATES`); cards written before the option: ``16k``.
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
    mfcc_rate: str = "16k"  # cards made before the option

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
            mfcc_rate=meta.mfcc_rate,
        )

    @property
    def window(self) -> int:
        """Frames per input window."""
        return self.n_context + 1

    def save(self, directory) -> Path:
        """Write ``DIR/config.json``."""
        return write_config(directory, KIND, asdict(self))

    @classmethod
    def load(cls, directory) -> ModelCard:
        """Read ``DIR/config.json``."""
        check_model_dir(directory)
        data = read_config(directory, (KIND,))
        settings = {k: v for k, v in data.items() if k not in ("kind", "format")}
        try:
            return cls(**settings)
        except TypeError as error:
            raise PipelineError(f"{Path(directory) / 'config.json'}: not an IVA'19 model card "
                                f"({error})") from None


def check_model_dir(path) -> Path:
    """``path`` as a model directory; a one-line error for the old ``NAME.keras`` form."""
    path = Path(path)
    if path.suffix == ".keras":
        raise PipelineError(
            f"{path}: IVA'19 models are directories (MODEL/config.json, MODEL/{NETWORK_FILE}): "
            f"pass {path.with_suffix('')}; an older NAME.keras with NAME.json converts with "
            f"mkdir NAME && mv NAME.keras NAME/{NETWORK_FILE} && mv NAME.json NAME/config.json "
            "and adding \"kind\": \"iva19\", \"format\": 1 to config.json")
    return path


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


def window_dataset(windows: np.ndarray, targets: np.ndarray, *, batch_size: int,
                   shuffle: bool = False, seed: int = 0, epoch: int = 0):
    """Batches ``(windows, targets)`` gathered from (memory-mapped) arrays, bounded memory.

    Only indices go through ``tf.data``; each batch is copied from the arrays when needed, so a
    training set larger than memory works. With ``shuffle`` the order is epoch ``epoch``'s
    (0-based) of a run seeded with ``seed`` (:func:`training.data.epoch_order`, a pure function
    of both, so a resumed run sees the batches of an uninterrupted one) and the last partial
    batch is dropped (a different one each epoch), so the compiled training step sees one
    batch shape.

    Parameters
    ----------
    windows : np.ndarray or SequenceWindows [shape=(N, W, F)]
        Stored windows or those formed on the fly (:mod:`speech_encoder.windows`): anything
        with ``shape``, ``len`` and rows indexed by a sorted integer array.
    targets : np.ndarray [shape=(N, D)]
    batch_size : int
    shuffle : bool
    seed, epoch : int
        Select the order when shuffling.

    Returns
    -------
    tf.data.Dataset
        Batches ``((B, W, F), (B, D))``, float32.
    """
    import tensorflow as tf

    from training.data import epoch_order

    window_shape, target_width = windows.shape[1:], targets.shape[1]

    def gather(index):
        index = np.sort(index)
        return (np.asarray(windows[index], np.float32), np.asarray(targets[index], np.float32))

    def load(index):
        x, y = tf.numpy_function(gather, [index], (tf.float32, tf.float32), stateful=False)
        return tf.ensure_shape(x, (None, *window_shape)), tf.ensure_shape(y, (None, target_width))

    order = (epoch_order(len(windows), seed=seed, epoch=epoch) if shuffle
             else np.arange(len(windows)))
    index = tf.data.Dataset.from_tensor_slices(order.astype(np.int64))
    drop = shuffle and len(windows) >= batch_size
    return index.batch(batch_size, drop_remainder=drop).map(load).prefetch(2)


# --------------------------------------------------------------------------------------------
# Inference


class IVA19Model:
    """A saved speech model ready for inference: windows or features in, motion out.

    Parameters
    ----------
    path : path-like
        The model directory (``config.json``, ``model.keras``, ``skeleton.json``).
    """

    kind = KIND
    options = ("batch_size",)

    def __init__(self, path):
        self.path = check_model_dir(path)
        self.card = ModelCard.load(self.path)
        self.network = keras.models.load_model(self.path / NETWORK_FILE)
        self.skeleton = Skeleton.load(self.path / "skeleton.json")
        self.representation = self.card.motion
        self.motion_representation = self._representation()

    @classmethod
    def load(cls, path) -> IVA19Model:
        """The model of a directory written by ``train.py``."""
        return cls(path)

    @property
    def fps(self) -> float:
        """Frame rate of the features and of the motion."""
        return self.card.fps

    def features(self, wav) -> np.ndarray:
        """Raw speech features ``(T, F)`` of an audio file, as the training data had them."""
        from data_processing.audio import file_features

        card = self.card
        return file_features(wav, card.features, fps=card.fps, mel_preset=card.mel_preset,
                             mfcc_rate=card.mfcc_rate)

    def _representation(self) -> Representation | None:
        card = self.card
        if card.predicts == "motion":
            return None
        if not card.representation or not Path(card.representation).is_dir():
            raise PipelineError(
                f"{self.path / 'config.json'}: the model predicts DIM-{card.dim} codes of the "
                f"{card.representation_kind} representation {card.representation}, which is "
                "missing (expected a directory written by learn_dataset_encoding.py)"
            )
        representation = load_representation(card.representation)
        if representation.dim != card.dim:
            raise PipelineError(f"{representation.path}: representation of DIM "
                                f"{representation.dim}, the model predicts DIM {card.dim}")
        return representation

    def generate(self, speech, *, samples: int = 1, seed: int = 0,
                 batch_size: int = 1024) -> list[Motion]:
        """The motion for an audio file, its features ``(T, F)`` or ``X_test_*.npy`` windows.

        The family contract of :class:`helpers.families.GestureModel`. The model is
        deterministic: one motion (``samples`` must be 1; ``seed`` changes nothing).
        """
        if samples != 1:
            raise PipelineError(f"{self.path}: an IVA'19 model gives one motion per input "
                                f"(--samples 1, not {samples})")
        if isinstance(speech, np.ndarray):
            vectors = self.from_features(speech, batch_size=batch_size)
        elif Path(speech).suffix.lower() == ".npy":
            vectors = self.from_windows(self._windows(Path(speech)), batch_size=batch_size)
        elif Path(speech).suffix.lower() in AUDIO_SUFFIXES:
            vectors = self.from_features(self.features(speech), batch_size=batch_size)
        else:
            raise PipelineError(f"{speech}: expected X_test_*.npy windows or an audio file "
                                f"({', '.join(AUDIO_SUFFIXES)})")
        return [from_vectors(vectors, self.skeleton, self.fps, kind=self.card.motion,
                             name=str(speech) if not isinstance(speech, np.ndarray) else "motion")]

    def _windows(self, path: Path) -> np.ndarray:
        """The windows of an ``X_test_*.npy`` file, checked against the model's features."""
        if not path.is_file():
            raise PipelineError(f"{path}: no such file")
        meta_path = path.parent.parent / "meta.json"
        if path.parent.name == "test_inputs" and meta_path.is_file():
            meta, card = DatasetMeta.load(meta_path.parent), self.card
            found = (meta.features, meta.mel_preset, meta.fps, meta.n_context, meta.mfcc_rate)
            expected = (card.features, card.mel_preset, card.fps, card.n_context, card.mfcc_rate)
            if found != expected:
                raise PipelineError(
                    f"{path}: windows of {found[0]} features (mel preset {found[1]}, "
                    f"{found[2]:g} fps, n_context {found[3]}, MFCC rate {found[4]}), but the "
                    f"model expects {expected[0]} (mel preset {expected[1]}, {expected[2]:g} "
                    f"fps, n_context {expected[3]}, MFCC rate {expected[4]})")
        try:
            return np.load(path, mmap_mode="r")
        except ValueError as error:
            raise PipelineError(f"{path}: not a readable .npy array ({error})") from None

    def from_windows(self, windows: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
        """Motion vectors ``(T, D)`` of windows ``(T, W, F)``, one batch in memory at a time."""
        expected = (self.card.window, self.card.feature_size)
        if windows.ndim != 3 or windows.shape[1:] != expected:
            raise PipelineError(
                f"{self.path}: expects windows (T, {expected[0]}, {expected[1]}) of "
                f"{self.card.features} features (n_context {self.card.n_context}), found shape "
                f"{windows.shape}"
            )
        if batch_size < 1:
            raise PipelineError(f"--batch-size must be >= 1, got {batch_size}")
        out = np.empty((len(windows), self.card.motion_size), np.float32)
        for start, batch in _batches(windows, batch_size):
            predicted = keras.ops.convert_to_numpy(self.network(batch, training=False))
            if self.motion_representation is not None:
                predicted = self.motion_representation.decode(predicted)
            out[start : start + len(batch)] = predicted
        if not np.isfinite(out).all():
            raise PipelineError(f"{self.path}: the model predicts NaN or infinite values "
                                "(was its training diverged?)")
        return out

    def from_features(self, features: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
        """Motion vectors ``(T, D)`` of features ``(T, F)``: silence-padded centred windows."""
        from data_processing.audio import context_window_view, silence_frame

        silence = silence_frame(self.card.features, fps=self.card.fps,
                                mel_preset=self.card.mel_preset)
        windows = context_window_view(features, silence, self.card.n_context)
        return self.from_windows(windows, batch_size=batch_size)


def _batches(array: np.ndarray, size: int) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, len(array), size):
        yield start, np.ascontiguousarray(array[start : start + size], dtype=np.float32)


def save_model(model: SpeechToMotion, card: ModelCard, directory,
               skeleton: Skeleton) -> Path:
    """Save the inference model, the skeleton and the card (``config.json``, written last)."""
    directory = check_model_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / NETWORK_FILE) as tmp:
        model.inference_model().save(tmp)
    skeleton.save(directory / "skeleton.json")
    card.save(directory)
    return directory
