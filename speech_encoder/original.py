"""The published IVA'19 model, imported: the authors' trained English model, run as they ran it.

The authors' demo repository (``Svito-zar/speech-driven-hand-gesture-generation-demo`` on
GitHub, for Kucherenko et al. 2019, "Analyzing input and output representations for
speech-driven gesture generation") publishes a speech encoder trained on the Trinity
Speech-Gesture dataset, ``models/Model_MFCC_Pros_Best.hdf5`` (Keras 2.2.4), the decoder of its
motion autoencoder, ``models/DAE_checkpoints/chkpt-final`` (TensorFlow 1), and the
normalisation of the motion, ``models/max_val.npy`` and ``models/mean_pose.npy``.
:func:`import_original` turns the four into a model directory of kind ``iva19_original``
(:mod:`data_processing.artifacts`)::

    OUT/config.json     kind, the card (:class:`OriginalCard`): fps, context, feature recipe,
                        code width, smoothing, the layers, the source files (SHA-256)
    OUT/model.keras     the speech network on Keras 3: windows (T, 61, 30) -> codes (T, 112)
    OUT/decoder.npz     the autoencoder's decoder: kernel (112, 138), bias (138,), max_val,
                        mean_pose (138,)
    OUT/silence.npy     the feature frame that pads the context (30,)
    OUT/skeleton.json   the 46-joint skeleton, rest offsets from the mean pose

and :class:`IVA19OriginalModel` is its :class:`helpers.families.GestureModel`, so
``predict.py OUT speech.wav out.bvh`` runs it. Inference follows the original chain:

features (:func:`original_features`)
    python_speech_features MFCC (26) at the file's own sample rate with the original's window
    ``0.06666666666`` s, step ``0.0166666666`` s, 26 filters, ``nfft`` 512 (longer frames are
    truncated to 512 samples, as python_speech_features does), samples at int16 scale, every
    3rd frame (60 -> 20 fps); then the prosody (4) of its Praat recipe: pitch and intensity
    (parselmouth defaults) every ``5.555555555`` ms, ``pitch = max(log(f0 + 1) - 4, 0)``,
    ``energy = max(log(dB) - 3, 0)``, their first differences per millisecond, averaged by 9;
    columns ``[mfcc, energy, d energy, pitch, d pitch]``, cut to the shorter of the two.
context
    30 frames of padding on each side, the first MFCC frame of digital silence (the original's
    ``helpers/silence.wav``, 44.1 kHz zeros) with zeros for the prosody; centred windows of 61.
network
    2 x [TimeDistributed Dense 256 -> BatchNorm -> ReLU] -> GRU 128 (``reset_after=False``,
    recurrent activation Keras 2's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)``; Keras 3's
    ``hard_sigmoid`` is ``clip(x / 6 + 0.5, 0, 1)`` and would move the output by tens of
    centimetres) -> BatchNorm -> ReLU -> Dense 112, read layer by layer from the HDF5 file;
    dropout is left out (inference).
decoder
    ``tanh(z @ matrix2 + bias2) * (max_val + 1e-15) + mean_pose`` with the TF1 variables
    ``AE_Variables/Variables/{matrix2,bias2}``, read with ``tf.train.load_checkpoint`` from the
    explicit prefix (the published ``checkpoint`` file names a path on the authors' machine);
    no dropout (the demo's ``decode_motion.py`` left the DAE's dropout on, keep probability
    0.8, so its output was random).
smoothing
    Savitzky-Golay, window 7, order 3, per column, as the demo's ``decode_motion.py``
    (optional at import).

Fixed bug: the original mixed stereo files to mono by adding the two int16 channels in int16,
which wraps around for loud speech (``30000 + 30000`` becomes ``-5536``); here the channels
are averaged in floating point. Praat gets the channels as the file has them, as the original
gave it the file.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from data_processing.artifacts import is_artifact, read_config, write_config
from data_processing.bvh import Skeleton
from data_processing.files import (
    AUDIO_SUFFIXES,
    PipelineError,
    atomic_path,
    file_sha256,
    load_array,
    save_array,
)
from data_processing.motion import Motion, from_vectors

log = logging.getLogger(__name__)

KIND = "iva19_original"
NETWORK_FILE = "model.keras"
DECODER_FILE = "decoder.npz"
SILENCE_FILE = "silence.npy"
SKELETON_FILE = "skeleton.json"
DAE_VARIABLES = "AE_Variables/Variables/"
SCALE_EPS = 1e-15  # the original's max_val + 1e-15
FPS = 20.0

JOINT_NAMES = (
    "Hips", "Spine", "Spine1", "Spine2", "Spine3", "Neck", "Neck1", "Head",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand",
    "RightHandThumb1", "RightHandThumb2", "RightHandThumb3",
    "RightHandIndex1", "RightHandIndex2", "RightHandIndex3",
    "RightHandMiddle1", "RightHandMiddle2", "RightHandMiddle3",
    "RightHandRing1", "RightHandRing2", "RightHandRing3",
    "RightHandPinky1", "RightHandPinky2", "RightHandPinky3",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
    "LeftHandThumb1", "LeftHandThumb2", "LeftHandThumb3",
    "LeftHandIndex1", "LeftHandIndex2", "LeftHandIndex3",
    "LeftHandMiddle1", "LeftHandMiddle2", "LeftHandMiddle3",
    "LeftHandRing1", "LeftHandRing2", "LeftHandRing3",
    "LeftHandPinky1", "LeftHandPinky2", "LeftHandPinky3",
)
"""The 46 joints of the published model's output, in its column order (the demo repository's
``visualization/model_animator.py``)."""

JOINT_PARENTS = (
    -1, 0, 1, 2, 3, 4, 5, 6,
    4, 8, 9, 10,
    11, 12, 13,
    11, 15, 16,
    11, 18, 19,
    11, 21, 22,
    11, 24, 25,
    4, 27, 28, 29,
    30, 31, 32,
    30, 34, 35,
    30, 37, 38,
    30, 40, 41,
    30, 43, 44,
)
"""Parent of each joint: the spine chain; shoulders on ``Spine3``; arm chains; three-joint
fingers on the hands. The original's drawing joins ``Spine3`` straight to each ``*Arm`` and
leaves the shoulder joint out; here the shoulder is the arm's parent (the clavicle, 17 cm in
the mean pose), as in the motion capture skeleton."""

ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
MFCC_CHUNK = 6000  # MFCC frames (100 s at 60 Hz) framed at a time: bounded memory


@dataclass(frozen=True)
class Recipe:
    """The published model's feature recipe (the demo repository's ``helpers/tools.py``).

    Parameters
    ----------
    winlen, winstep : float > 0
        MFCC window and step in seconds, the original's literals (1/15 s, 1/60 s).
    numcep, nfilt, nfft : int > 0
        Cepstra, mel filters, FFT size (python_speech_features' defaults but ``numcep``).
    preemph : float
        Pre-emphasis coefficient (python_speech_features' default).
    mfcc_stride : int > 0
        Every ``mfcc_stride``-th MFCC frame is kept (60 -> 20 fps).
    sample_scale : float > 0
        Samples in ``[-1, 1)`` are multiplied by this (int16 scale, as ``scipy.io.wavfile``
        reads 16-bit files).
    prosody_step : float > 0
        Praat analysis step in seconds (``WINDOW_LENGTH = 5.555555555`` ms).
    prosody_average : int > 0
        Prosody steps averaged per frame (``SUBSAMPL_RATE = 9``).
    silence_rate : int > 0
        Sample rate of the original's ``helpers/silence.wav`` (digital silence), whose first
        MFCC frame pads the context.
    """

    winlen: float = 0.06666666666
    winstep: float = 0.0166666666
    numcep: int = 26
    nfilt: int = 26
    nfft: int = 512
    preemph: float = 0.97
    mfcc_stride: int = 3
    sample_scale: float = 32768.0
    prosody_step: float = 5.555555555 / 1000
    prosody_average: int = 9
    silence_rate: int = 44100

    @property
    def feature_size(self) -> int:
        """Values per frame: the cepstra and 4 prosody features."""
        return self.numcep + 4


@dataclass(frozen=True)
class Smoothing:
    """Savitzky-Golay smoothing of the decoded positions, per column (``decode_motion.py``).

    Parameters
    ----------
    window : int > 0, odd
    order : int >= 0, < window
    """

    window: int = 7
    order: int = 3


RECIPE = Recipe()
SMOOTHING = Smoothing()


# --------------------------------------------------------------------------------------------
# Features


def original_mfcc(signal: np.ndarray, sr: int, *, recipe: Recipe = RECIPE,
                  chunk_frames: int = MFCC_CHUNK) -> np.ndarray:
    """The original's MFCC ``(ceil(N / stride), numcep)`` of a mono signal at its own rate.

    python_speech_features ``mfcc`` with the recipe's constants, every ``mfcc_stride``-th
    frame kept. The signal is pre-emphasised once, then framed ``chunk_frames`` frames at a
    time (``preemph=0`` per chunk), which gives the frames of one call on the whole signal
    without holding all ``N x frame_length`` samples of an hour of audio at once.

    Parameters
    ----------
    signal : np.ndarray [shape=(n,)]
        Mono samples at int16 scale (``recipe.sample_scale``).
    sr : int > 0
        Its sample rate.
    recipe : Recipe
    chunk_frames : int > 0
        MFCC frames per call.
    """
    from python_speech_features import mfcc, sigproc

    from data_processing.audio import psf_truncation_notice_off

    emphasised = sigproc.preemphasis(np.asarray(signal, np.float64), recipe.preemph)
    length = sigproc.round_half_up(recipe.winlen * sr)
    step = sigproc.round_half_up(recipe.winstep * sr)
    total = 1 if len(signal) <= length else 1 + math.ceil((len(signal) - length) / step)
    blocks = []
    with psf_truncation_notice_off():
        for first in range(0, total, chunk_frames):
            last = min(first + chunk_frames, total)
            end = len(signal) if last == total else (last - 1) * step + length
            blocks.append(mfcc(emphasised[first * step : end], samplerate=sr,
                               winlen=recipe.winlen, winstep=recipe.winstep,
                               numcep=recipe.numcep, nfilt=recipe.nfilt, nfft=recipe.nfft,
                               preemph=0.0))
    return np.concatenate(blocks)[:: recipe.mfcc_stride]


def original_prosody(channels: np.ndarray, sr: int, *, recipe: Recipe = RECIPE) -> np.ndarray:
    """The original's prosody ``(n, 4)``: energy, d energy, pitch, d pitch.

    Praat (parselmouth) pitch and intensity with their default settings at the recipe's
    step, read at ``t = 0, step, ...`` (below the duration minus one step), unvoiced and
    undefined values 0, ``pitch = max(log(f0 + 1) - 4, 0)``, ``energy = max(log(dB) - 3, 0)``
    (dB floored at machine epsilon), derivatives as first differences per millisecond (0 at
    the first step), then averaged by ``prosody_average`` (the remainder dropped).

    Parameters
    ----------
    channels : np.ndarray [shape=(n, C)]
        Samples in ``[-1, 1)``, every channel of the file (Praat analyses them together).
    sr : int > 0
    recipe : Recipe
    """
    import parselmouth

    step = recipe.prosody_step
    sound = parselmouth.Sound(np.asarray(channels, np.float64).T, sampling_frequency=sr)
    pitch = sound.to_pitch(time_step=step)
    intensity = sound.to_intensity(time_step=step)
    times = np.arange(0, sound.get_total_duration() - step, step)
    f0 = np.nan_to_num(np.array([pitch.get_value_at_time(t) for t in times], np.float64))
    db = np.nan_to_num(np.array([intensity.get_value(t) for t in times], np.float64))
    db = np.clip(db, np.finfo(np.float64).eps, None)
    energy = np.clip(np.log(db) - 3.0, 0.0, None)
    pitch_curve = np.clip(np.log(f0 + 1.0) - 4.0, 0.0, None)
    curves = (energy, _derivative(energy, step), pitch_curve, _derivative(pitch_curve, step))
    return np.stack([_average(c, recipe.prosody_average) for c in curves], axis=1)


def _derivative(curve: np.ndarray, step: float) -> np.ndarray:
    """First difference per millisecond, 0 at the first step (the original's ``derivative``)."""
    return np.diff(curve, prepend=curve[:1]) / (1000.0 * step)


def _average(curve: np.ndarray, n: int) -> np.ndarray:
    """Means of consecutive groups of ``n`` values; the remainder is dropped."""
    end = n * (len(curve) // n)
    return curve[:end].reshape(-1, n).mean(axis=1)


def original_features(path, *, recipe: Recipe = RECIPE) -> np.ndarray:
    """The published model's input features ``(T, 30)`` of an audio file, float32 at 20 fps.

    MFCC of the channels' mean (in floating point: the original's int16 sum overflowed) and
    prosody of every channel, cut to the shorter (:func:`original_mfcc`,
    :func:`original_prosody`). Any format soundfile reads; the checks of
    :func:`data_processing.audio.load_audio` apply.
    """
    import soundfile

    from data_processing.audio import load_audio

    mono, sr = load_audio(path)
    channels, _ = soundfile.read(path, dtype="float64", always_2d=True)
    mfcc = original_mfcc(mono * recipe.sample_scale, sr, recipe=recipe)
    prosody = original_prosody(channels, sr, recipe=recipe)
    n = min(len(mfcc), len(prosody))
    if n < 1:
        raise PipelineError(f"{path}: too short for a frame of the original features")
    return np.concatenate([mfcc[:n], prosody[:n]], axis=1).astype(np.float32)


def silence_frame(recipe: Recipe = RECIPE) -> np.ndarray:
    """The context padding ``(30,)``: the first MFCC frame of digital silence, zero prosody."""
    mfcc = original_mfcc(np.zeros(recipe.silence_rate), recipe.silence_rate, recipe=recipe)
    return np.concatenate([mfcc[0], np.zeros(4)]).astype(np.float32)


# --------------------------------------------------------------------------------------------
# The Keras 2 network


@keras.saving.register_keras_serializable(package=KIND)
def keras2_hard_sigmoid(x):
    """Keras 2's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3's slope is 1/6)."""
    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


KERAS2_ACTIVATIONS = {"linear": "linear", "relu": "relu", "tanh": "tanh",
                      "sigmoid": "sigmoid", "hard_sigmoid": keras2_hard_sigmoid}
"""Keras 2 activation names -> the Keras 3 function with the same definition."""

SUPPORTED_LAYERS = ("TimeDistributed(Dense)", "Dense", "BatchNormalization", "Activation",
                    "Dropout", "GRU")


@dataclass
class Keras2Model:
    """A Keras 2 ``Sequential`` model file, as read (:func:`read_keras2_model`).

    Parameters
    ----------
    path : Path
        The ``.hdf5`` file.
    keras_version : str
        The Keras version that saved it.
    layers : list of dict
        The layer specs of ``model_config`` (``class_name``, ``config``), in order.
    weights : dict
        Layer name -> its arrays, in the file's ``weight_names`` order.
    """

    path: Path
    keras_version: str
    layers: list[dict]
    weights: dict[str, list[np.ndarray]]

    def fail(self, problem: str) -> PipelineError:
        """The one-line error about this file."""
        return PipelineError(f"{self.path}: {problem}")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_keras2_model(path) -> Keras2Model:
    """Read a model saved by Keras 2's ``model.save`` (HDF5: ``model_config`` + weights).

    Raises
    ------
    PipelineError
        Missing or not HDF5, a weights-only file, not a ``Sequential`` model.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if "model_config" not in f.attrs or "model_weights" not in f:
                raise PipelineError(f"{path}: no model_config and model_weights (expected a "
                                    "whole model saved by Keras 2's model.save, not weights "
                                    "only)")
            config = json.loads(_text(f.attrs["model_config"]))
            group = f["model_weights"]
            weights = {_text(name): [np.asarray(group[_text(name)][_text(w)])
                                     for w in group[_text(name)].attrs["weight_names"]]
                       for name in group.attrs["layer_names"]}
            version = _text(f.attrs.get("keras_version", "unknown"))
    except (OSError, KeyError, ValueError) as error:
        raise PipelineError(f"{path}: not a Keras HDF5 model ({error})") from None
    if config.get("class_name") != "Sequential":
        raise PipelineError(f"{path}: a Keras {config.get('class_name')} model; expected the "
                            "IVA'19 speech network (Sequential)")
    layers = config["config"]
    return Keras2Model(path, version, layers["layers"] if isinstance(layers, dict) else layers,
                       weights)


def _activation(source: Keras2Model, name: str):
    if name not in KERAS2_ACTIVATIONS:
        raise source.fail(f"activation {name!r} is not one the importer knows "
                          f"({', '.join(KERAS2_ACTIVATIONS)})")
    return KERAS2_ACTIVATIONS[name]


def _dense(source: Keras2Model, config: dict, name: str) -> keras.layers.Dense:
    return keras.layers.Dense(config["units"], activation=_activation(source, config["activation"]),
                              use_bias=config.get("use_bias", True), name=name)


def _convert_layer(source: Keras2Model, spec: dict) -> keras.layers.Layer | None:
    """The Keras 3 layer of one Keras 2 layer spec (``None`` for dropout: inference only)."""
    kind, config = spec["class_name"], spec["config"]
    name = config["name"]
    if kind == "Dropout":
        return None
    if kind == "TimeDistributed" and config["layer"]["class_name"] == "Dense":
        return keras.layers.TimeDistributed(
            _dense(source, config["layer"]["config"], f"{name}_dense"), name=name)
    if kind == "Dense":
        return _dense(source, config, name)
    if kind == "BatchNormalization":
        return keras.layers.BatchNormalization(
            axis=config.get("axis", -1), epsilon=config.get("epsilon", 1e-3),
            center=config.get("center", True), scale=config.get("scale", True), name=name)
    if kind == "Activation":
        return keras.layers.Activation(_activation(source, config["activation"]), name=name)
    if kind == "GRU":
        return keras.layers.GRU(
            config["units"], activation=_activation(source, config["activation"]),
            recurrent_activation=_activation(source, config["recurrent_activation"]),
            use_bias=config.get("use_bias", True),
            return_sequences=config.get("return_sequences", False),
            go_backwards=config.get("go_backwards", False),
            reset_after=config.get("reset_after", False), name=name)
    inner = f"({config['layer']['class_name']})" if kind == "TimeDistributed" else ""
    raise source.fail(f"layer {name} is a {kind}{inner}; the importer converts "
                      f"{', '.join(SUPPORTED_LAYERS)}")


def _input_shape(source: Keras2Model) -> tuple[int, int]:
    shape = source.layers[0]["config"].get("batch_input_shape") if source.layers else None
    if not shape or len(shape) != 3 or None in shape[1:]:
        raise source.fail(f"the first layer has input shape {shape}; expected (None, frames, "
                          "features): windows of speech features")
    return int(shape[1]), int(shape[2])


def _set_weights(source: Keras2Model, layer: keras.layers.Layer) -> None:
    arrays = source.weights.get(layer.name, [])
    expected = [tuple(w.shape) for w in layer.weights]
    found = [tuple(a.shape) for a in arrays]
    if found != expected:
        raise source.fail(f"layer {layer.name} has weights of shapes {found}; the layer of its "
                          f"model_config needs {expected}")
    layer.set_weights(arrays)


def convert_network(source: Keras2Model) -> keras.Model:
    """The Keras 3 model of a Keras 2 speech network, with its weights: windows to codes.

    Layer by layer, the same definitions (:data:`KERAS2_ACTIVATIONS`: Keras 2's
    ``hard_sigmoid``; GRU ``reset_after`` as saved, ``False`` in Keras 2.2); dropout left out.
    """
    try:
        converted = [_convert_layer(source, spec) for spec in source.layers]
    except (KeyError, TypeError) as error:
        raise source.fail(f"malformed model_config (a layer without {error})") from None
    layers = [layer for layer in converted if layer is not None]
    inputs = keras.Input(_input_shape(source), name="speech_windows")
    x = inputs
    for layer in layers:
        x = layer(x)
    model = keras.Model(inputs, x, name=KIND)
    for layer in layers:
        _set_weights(source, layer)
    return model


# --------------------------------------------------------------------------------------------
# The TF1 autoencoder


def checkpoint_prefix(path) -> Path:
    """The prefix of a TF1 checkpoint: ``path``, its ``.index``, or a directory's one ``*.index``.

    The ``checkpoint`` file of a directory is never read (the published one names a path on
    the authors' machine).
    """
    path = Path(path)
    if path.suffix in (".index", ".meta"):
        path = path.with_suffix("")
    if path.is_dir():
        indexes = sorted(path.glob("*.index"))
        if len(indexes) != 1:
            raise PipelineError(f"{path}: {len(indexes)} checkpoints (*.index); pass the prefix "
                                "of one, e.g. DIR/chkpt-final")
        path = indexes[0].with_suffix("")
    if not path.with_name(path.name + ".index").is_file():
        raise PipelineError(f"{path}: no such checkpoint (expected {path.name}.index and "
                            f"{path.name}.data-* beside it)")
    return path


@dataclass
class Decoder:
    """The autoencoder's decoder and the motion normalisation of the published model.

    Parameters
    ----------
    kernel : np.ndarray [shape=(DIM, D)]
        ``matrix2``.
    bias : np.ndarray [shape=(D,)]
        ``bias2``.
    max_val, mean_pose : np.ndarray [shape=(D,)]
        ``max_val.npy`` (largest absolute value per column) and ``mean_pose.npy``.
    """

    kernel: np.ndarray
    bias: np.ndarray
    max_val: np.ndarray
    mean_pose: np.ndarray

    @property
    def dim(self) -> int:
        """Code width."""
        return int(self.kernel.shape[0])

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Positions ``(T, D)``: ``tanh(codes @ kernel + bias) * (max_val + 1e-15) + mean_pose``."""
        hidden = np.tanh(np.asarray(codes, np.float64) @ self.kernel + self.bias)
        return hidden * (self.max_val + SCALE_EPS) + self.mean_pose

    def save(self, path) -> None:
        """Write ``decoder.npz`` (atomically)."""
        with atomic_path(path) as tmp:
            np.savez(tmp, **asdict(self))

    @classmethod
    def load(cls, path) -> Decoder:
        """Read ``decoder.npz``."""
        path = Path(path)
        if not path.is_file():
            raise PipelineError(f"{path}: no such file")
        with np.load(path) as data:
            return cls(**{k: data[k].astype(np.float64) for k in ("kernel", "bias", "max_val",
                                                                   "mean_pose")})


def read_decoder(prefix, max_val, mean_pose) -> Decoder:
    """The decoder of a TF1 DAE checkpoint with the normalisation files, checked together.

    Reads ``AE_Variables/Variables/{matrix1,bias1,matrix2,bias2}`` with
    ``tf.train.load_checkpoint`` from the prefix (:func:`checkpoint_prefix`); the encoder is
    read to check the layout, the decoder kept.
    """
    import tensorflow as tf

    prefix = checkpoint_prefix(prefix)
    try:
        reader = tf.train.load_checkpoint(str(prefix))
    except (tf.errors.OpError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise PipelineError(f"{prefix}: not a readable TensorFlow checkpoint ({message})") from None
    names = [DAE_VARIABLES + n for n in ("matrix1", "bias1", "matrix2", "bias2")]
    missing = [n for n in names if not reader.has_tensor(n)]
    if missing:
        raise PipelineError(f"{prefix}: no variable {missing[0]} (expected the IVA'19 DAE's "
                            f"{', '.join(names)})")
    matrix1, bias1, matrix2, bias2 = (reader.get_tensor(n).astype(np.float64) for n in names)
    width, dim = matrix1.shape if matrix1.ndim == 2 else (0, 0)
    shapes = [a.shape for a in (matrix1, bias1, matrix2, bias2)]
    if shapes != [(width, dim), (dim,), (dim, width), (width,)] or width == 0:
        raise PipelineError(f"{prefix}: DAE variables of shapes {shapes}; expected "
                            "[(D, DIM), (DIM,), (DIM, D), (D,)]")
    scale, mean = (load_array(p, ndim=1).astype(np.float64) for p in (max_val, mean_pose))
    for path, array in ((max_val, scale), (mean_pose, mean)):
        if array.shape != (width,) or not np.isfinite(array).all():
            raise PipelineError(f"{path}: expected {width} finite values (the DAE's D), "
                                f"found shape {array.shape}")
    return Decoder(matrix2, bias2, scale, mean)


# --------------------------------------------------------------------------------------------
# The skeleton


def original_skeleton(mean_pose: np.ndarray) -> Skeleton:
    """The 46-joint skeleton (:data:`JOINT_NAMES`), rest offsets from the mean pose ``(138,)``.

    Offsets are the mean pose's joint minus its parent's (the root's: its own position); the
    root has position and rotation channels, every other joint rotations (Euler ZXY).
    """
    positions = np.asarray(mean_pose, np.float64).reshape(len(JOINT_NAMES), 3)
    parents = np.array(JOINT_PARENTS)
    offsets = positions - np.where(parents[:, None] >= 0, positions[np.maximum(parents, 0)], 0.0)
    channels = tuple(ROOT_CHANNELS if p < 0 else JOINT_CHANNELS for p in JOINT_PARENTS)
    return Skeleton(JOINT_NAMES, parents, offsets, channels)


# --------------------------------------------------------------------------------------------
# Import


@dataclass
class OriginalCard:
    """``config.json`` of an imported model.

    Parameters
    ----------
    fps : float
        Frame rate of the features and the motion (20).
    n_context : int
        Context frames around the centre (the window is ``n_context + 1``: 60 and 61).
    feature_size : int
        Values per feature frame (30).
    dim, motion_size : int
        Code width (112) and output width ``D`` (138: 46 joints x 3).
    recipe : dict
        :class:`Recipe`.
    smoothing : dict or None
        :class:`Smoothing`, ``None`` for none.
    layers : list of str
        The converted layers (class, name, output shape).
    source : dict
        The imported files and the model's SHA-256 and Keras version.
    """

    fps: float
    n_context: int
    feature_size: int
    dim: int
    motion_size: int
    recipe: dict
    smoothing: dict | None
    layers: list[str]
    source: dict

    def save(self, directory) -> Path:
        """Write ``DIR/config.json``."""
        return write_config(directory, KIND, asdict(self))

    @classmethod
    def load(cls, directory) -> OriginalCard:
        """Read ``DIR/config.json``."""
        data = read_config(directory, (KIND,))
        try:
            return cls(**{k: v for k, v in data.items() if k not in ("kind", "format")})
        except TypeError as error:
            raise PipelineError(f"{Path(directory) / 'config.json'}: not the card of an "
                                f"imported IVA'19 model ({error})") from None


def _checked_network(source: Keras2Model, decoder: Decoder, recipe: Recipe) -> keras.Model:
    window, features = _input_shape(source)
    if window % 2 == 0 or features != recipe.feature_size:
        raise source.fail(f"input windows of {window} frames x {features} features; expected "
                          f"an odd number of frames x {recipe.feature_size} (MFCC "
                          f"{recipe.numcep} + prosody 4)")
    network = convert_network(source)
    if network.output_shape != (None, decoder.dim):
        raise source.fail(f"the network outputs {network.output_shape[1:]}; the DAE decodes "
                          f"codes of width {decoder.dim}")
    return network


def import_original(model, dae_checkpoint, max_val, mean_pose, out_dir, *,
                    smoothing: Smoothing | None = SMOOTHING) -> Path:
    """Write the model directory of the published IVA'19 model (see the module docstring).

    Parameters
    ----------
    model : path-like
        ``Model_MFCC_Pros_Best.hdf5`` (Keras 2).
    dae_checkpoint : path-like
        The TF1 checkpoint prefix (``DAE_checkpoints/chkpt-final``) or its directory.
    max_val, mean_pose : path-like
        ``max_val.npy``, ``mean_pose.npy``.
    out_dir : path-like
        The model directory; written whole under a temporary name and renamed, so nothing
        half-written is left on error. An existing one must be of this kind (it is replaced).
    smoothing : Smoothing or None
        Post-smoothing of the positions (the original's by default).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not is_artifact(out_dir, (KIND,)):
        raise PipelineError(f"{out_dir}: exists and is not an {KIND} model directory "
                            "(choose a new OUT_DIR)")
    source = read_keras2_model(model)
    decoder = read_decoder(dae_checkpoint, max_val, mean_pose)
    if decoder.mean_pose.shape != (3 * len(JOINT_NAMES),):
        raise PipelineError(f"{mean_pose}: {len(decoder.mean_pose)} values; the published "
                            f"model's skeleton has {len(JOINT_NAMES)} joints x 3")
    network = _checked_network(source, decoder, RECIPE)
    card = OriginalCard(
        fps=FPS, n_context=int(network.input_shape[1]) - 1, feature_size=RECIPE.feature_size,
        dim=decoder.dim, motion_size=len(decoder.bias), recipe=asdict(RECIPE),
        smoothing=None if smoothing is None else asdict(smoothing),
        layers=[f"{layer.__class__.__name__} {layer.name} -> {layer.output.shape[1:]}"
                for layer in network.layers[1:]],
        source={"model": str(Path(model).resolve()), "model_sha256": file_sha256(model),
                "keras_version": source.keras_version,
                "dae_checkpoint": str(checkpoint_prefix(dae_checkpoint).resolve()),
                "max_val": str(Path(max_val).resolve()),
                "mean_pose": str(Path(mean_pose).resolve())})
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        network.save(tmp / NETWORK_FILE)
        decoder.save(tmp / DECODER_FILE)
        save_array(tmp / SILENCE_FILE, silence_frame(RECIPE))
        original_skeleton(decoder.mean_pose).save(tmp / SKELETON_FILE)
        card.save(tmp)
    return out_dir


# --------------------------------------------------------------------------------------------
# Inference


class IVA19OriginalModel:
    """An imported published IVA'19 model: speech in, 46-joint positions out (20 fps).

    Parameters
    ----------
    path : path-like
        The directory :func:`import_original` wrote.
    """

    kind = KIND
    representation = "positions"
    options = ("batch_size",)

    def __init__(self, path):
        self.path = Path(path)
        self.card = OriginalCard.load(self.path)
        self.recipe = Recipe(**self.card.recipe)
        self.smoothing = None if self.card.smoothing is None else Smoothing(**self.card.smoothing)
        network_path = self.path / NETWORK_FILE
        if not network_path.is_file():
            raise PipelineError(f"{network_path}: no such file")
        self.network = keras.models.load_model(network_path)
        self.decoder = Decoder.load(self.path / DECODER_FILE)
        self.silence = load_array(self.path / SILENCE_FILE, ndim=1).astype(np.float32)
        self.skeleton = Skeleton.load(self.path / SKELETON_FILE)

    @classmethod
    def load(cls, path) -> IVA19OriginalModel:
        """The model of a directory written by :func:`import_original`."""
        return cls(path)

    @property
    def fps(self) -> float:
        """Frame rate of the features and of the motion."""
        return self.card.fps

    def features(self, wav) -> np.ndarray:
        """The original features ``(T, 30)`` of an audio file (:func:`original_features`)."""
        return original_features(wav, recipe=self.recipe)

    def generate(self, speech, *, samples: int = 1, seed: int = 0,
                 batch_size: int = 1024) -> list[Motion]:
        """The motion for an audio file, its features ``(T, 30)`` or windows ``(T, 61, 30)``.

        The family contract of :class:`helpers.families.GestureModel`; deterministic (one
        motion, ``seed`` changes nothing). An ``.npy`` file holds windows, as the original's
        ``encode_audio.py`` wrote them.
        """
        if samples != 1:
            raise PipelineError(f"{self.path}: the published IVA'19 model gives one motion per "
                                f"input (--samples 1, not {samples})")
        if isinstance(speech, np.ndarray):
            positions = self.from_features(speech, batch_size=batch_size)
        elif Path(speech).suffix.lower() == ".npy":
            positions = self.from_windows(load_array(speech, ndim=3), batch_size=batch_size)
        elif Path(speech).suffix.lower() in AUDIO_SUFFIXES:
            positions = self.from_features(self.features(speech), batch_size=batch_size)
        else:
            raise PipelineError(f"{speech}: expected an audio file "
                                f"({', '.join(AUDIO_SUFFIXES)}) or .npy windows")
        name = "motion" if isinstance(speech, np.ndarray) else str(speech)
        return [from_vectors(positions, self.skeleton, self.fps, kind="positions", name=name)]

    def from_features(self, features: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
        """Positions ``(T, 138)`` of features ``(T, 30)``: padded centred windows."""
        from data_processing.audio import context_window_view

        features = np.asarray(features, np.float32)
        if features.ndim != 2 or features.shape[1] != self.card.feature_size:
            raise PipelineError(f"{self.path}: expects features (T, {self.card.feature_size}), "
                                f"found shape {features.shape}")
        windows = context_window_view(features, self.silence, self.card.n_context)
        return self.from_windows(windows, batch_size=batch_size)

    def from_windows(self, windows: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
        """Positions ``(T, 138)`` of windows ``(T, 61, 30)``, ``batch_size`` windows at a time."""
        expected = (self.card.n_context + 1, self.card.feature_size)
        if windows.ndim != 3 or windows.shape[1:] != expected:
            raise PipelineError(f"{self.path}: expects windows (T, {expected[0]}, "
                                f"{expected[1]}), found shape {windows.shape}")
        if len(windows) < 1:
            raise PipelineError(f"{self.path}: no windows to predict from")
        if batch_size < 1:
            raise PipelineError(f"--batch-size must be >= 1, got {batch_size}")
        codes = np.concatenate([
            keras.ops.convert_to_numpy(self.network(
                np.ascontiguousarray(windows[start : start + batch_size], np.float32),
                training=False))
            for start in range(0, len(windows), batch_size)])
        return self._smooth(self.decoder.decode(codes))

    def _smooth(self, positions: np.ndarray) -> np.ndarray:
        if self.smoothing is None:
            return positions
        if len(positions) < self.smoothing.window:
            log.warning("%s: %d frames, fewer than the smoothing window of %d: not smoothed",
                        self.path, len(positions), self.smoothing.window)
            return positions
        from scipy.signal import savgol_filter

        return savgol_filter(positions, self.smoothing.window, self.smoothing.order, axis=0)
