"""Streaming generation: speech in chunks in, each motion frame out as soon as it is final.

:func:`open_stream` wraps a loaded model (:func:`helpers.families.load_model`) in a
:class:`MotionStream`: :meth:`~MotionStream.push` takes the next samples and returns the motion
frames that no later sample can change, :meth:`~MotionStream.finish` the rest once the speech
has ended. The frames equal the offline ones (``model.generate``) to float rounding, because
every stage waits for exactly what its offline computation reads:

* features (:mod:`helpers.stream_features`) wait for the samples of their window;
* IVA'19 (``iva19``) waits for the ``n_context / 2`` future frames of a centred context window
  (silence-padded at both ends, as offline);
* Audio2Gestures (``a2g``) runs each network (audio encoder, mapping net, decoder) as a
  :class:`ConvStage`: a stack of convolutions reads ``left`` frames before and ``right``
  frames after each output frame (:func:`receptive_field`, from the layers' padding: "same",
  or a bounded lookahead's split), and zero-pads at the sequence's ends at every layer; a
  stage recomputes a window of ``left + new + right`` frames and keeps the frames at least
  that far from the window's cut edges. Sampling noise is indexed by frame
  (``noise = "frame"`` of :meth:`gesture_vae.sample.Sampler.sample`), the mode the offline
  reference must use.
* HA2G (``ha2g``) generates clip by clip (:class:`ha2g.sample.ClipStream`, the offline
  generation itself): a clip runs once its frames' features are in (bidirectional GRUs read
  the whole clip), and its frames come out once no later clip's cross-fade can change them.
  Its draws (one style code per recording) do not depend on the length, so the offline
  reference is the default sampling.

Prosody features (the ``Pros`` sets) are the exception: Praat's pitch tracker reads the whole
file, so :class:`helpers.stream_features.ProsodyStream` runs it on a window of each frame's
own (from 0.25 s before the frame to 0.1 s after its end), and its frames meet a stated
tolerance instead of equality (``docs/streaming.md``, "Prosody"); a prosody frame waits one
frame plus 100 ms (150 ms at 20 fps), which the measured latency (:meth:`Timing.latency`)
includes (90 ms more than the 60 ms of MFCC frames at 20 fps).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import keras
import numpy as np

from data_processing.audio import silence_frame
from data_processing.files import PipelineError
from gesture_vae.layers import conv_padding
from helpers.stream_features import FeatureStream
from helpers.stream_networks import NumpyNetwork, RecurrentChain

STREAMABLE = ("iva19", "a2g", "ha2g")
"""The model kinds :func:`open_stream` streams."""


@dataclass
class Timing:
    """When each frame became final and what each push cost.

    Attributes
    ----------
    consumed : list of float
        Seconds of audio pushed when each frame was emitted (in frame order).
    final : list of bool
        Whether each frame came from :meth:`MotionStream.finish` (the end of the speech).
    compute : list of float
        CPU seconds of each :meth:`MotionStream.push`: the process's CPU time
        (``time.process_time``, every thread: TensorFlow's thread pools run HA2G's clips), so
        the compute whatever else the machine runs.
    wall : list of float
        Wall-clock seconds of each push.
    """

    consumed: list = field(default_factory=list)
    final: list = field(default_factory=list)
    compute: list = field(default_factory=list)
    wall: list = field(default_factory=list)

    def latency(self, fps: float) -> float:
        """Largest ``consumed - i / fps`` (seconds) over the frames emitted before the end."""
        lags = [c - i / fps for i, (c, f) in enumerate(zip(self.consumed, self.final)) if not f]
        return max(lags, default=float("nan"))


def receptive_field(model: keras.layers.Layer) -> tuple[int, int]:
    """Frames ``(left, right)`` a stack of Conv1D layers reads around each output frame.

    Sums the padding of every Conv1D in ``model`` (itself or nested;
    :func:`gesture_vae.layers.conv_padding`: ``"same"``, ``"causal"`` or the bounded
    lookahead's split of ``d (k - 1)``): exact for a chain of convolutions (the 1x1 skips of
    :class:`gesture_vae.layers.TemporalBlock` read nothing around), an upper bound with
    parallel convolutional branches.
    """
    left = right = 0
    for layer in model._flatten_layers():
        if not isinstance(layer, keras.layers.Conv1D):
            continue
        try:
            before, after = conv_padding(layer)
        except ValueError as error:
            raise PipelineError(f"{model.name}: {error}; streaming needs convolutions that "
                                "keep the length") from None
        left, right = left + before, right + after
    return left, right


class WindowStage:
    """One function of a sequence run on a growing sequence, frame for frame as offline.

    ``apply`` maps ``(B, T, C_in)`` to ``(B, T, C_out)``, reads ``left`` frames before and
    ``right`` after each output frame and zero-pads at the ends (a "same" or causal
    convolution, a per-frame layer with no reach). Each pull recomputes the window of
    ``left + new + right`` frames and keeps the new frames, which lie far enough from the
    window's cut edges to see what they see in the whole sequence.
    """

    def __init__(self, apply, left: int, right: int):
        self.apply, self.left, self.right = apply, left, right
        self.buffer = None  # input frames start .. end
        self.start = self.end = self.emitted = 0

    def push(self, frames: np.ndarray) -> None:
        """Append input frames ``(B, n, C_in)``."""
        self.buffer = frames if self.buffer is None else np.concatenate([self.buffer, frames], 1)
        self.end += frames.shape[1]

    def pull(self, final: bool = False) -> np.ndarray:
        """The output frames ``(B, k, C_out)`` that are final (all of them when ``final``)."""
        stop = max(self.end if final else self.end - self.right, self.emitted)
        first = max(self.emitted - self.left, 0)
        last = min(self.end, stop + self.right) if stop > self.emitted else first
        out = self.apply(self.buffer[:, first - self.start : last - self.start])
        frames = out[:, self.emitted - first : stop - first]
        self.emitted = stop
        keep = max(stop - self.left, 0)
        self.buffer, self.start = self.buffer[:, keep - self.start :], keep
        return frames


class ConvStage:
    """A fully convolutional network run on a growing sequence, layer by layer.

    One :class:`WindowStage` per layer, each recomputing only its new frames and its own
    reach, in NumPy (:class:`helpers.stream_networks.NumpyNetwork`).

    Parameters
    ----------
    network : keras.Model
        ``(B, T, C_in)`` -> one or several ``(B, T, C_k)`` outputs (concatenated on channels).
    """

    def __init__(self, network: keras.Model):
        forward = NumpyNetwork(network)
        self.input, self.outputs = forward.input, forward.outputs
        self.stages = [(source, target, WindowStage(apply, *receptive_field(layer)))
                       for source, target, apply, layer in forward.steps]
        self.left, self.right = receptive_field(network)
        self.ready = [None] * len(self.outputs)  # output frames not yet returned
        self.frames, self.emitted = None, 0

    def push(self, frames: np.ndarray) -> None:
        """Append input frames ``(B, n, C_in)``."""
        self.frames = frames if self.frames is None else np.concatenate([self.frames, frames], 1)

    def pull(self, final: bool = False) -> np.ndarray:
        """The output frames ``(B, k, C_out)`` that are final (all of them when ``final``)."""
        values = {self.input: self.frames}
        self.frames = self.frames[:, :0]
        for source, target, stage in self.stages:
            stage.push(values[source])
            values[target] = stage.pull(final)
        self.ready = [values[o] if r is None else np.concatenate([r, values[o]], 1)
                      for r, o in zip(self.ready, self.outputs)]
        count = min(r.shape[1] for r in self.ready)
        frames = np.concatenate([r[:, :count] for r in self.ready], -1)
        self.ready = [r[:, count:] for r in self.ready]
        self.emitted += count
        return frames


class MotionStream:
    """Speech samples in, final motion frames out; subclasses hold a family's stages.

    Parameters
    ----------
    model : GestureModel
        The loaded model.
    sr : int
        Sample rate of the pushed speech.
    feature_info : dict
        ``features``, ``mel_preset``, ``mfcc_rate`` of the model's training data.
    """

    def __init__(self, model, sr: int, feature_info: dict):
        self.model, self.fps = model, model.fps
        self.features = FeatureStream(feature_info["features"], sr, fps=model.fps,
                                      mel_preset=feature_info["mel_preset"],
                                      mfcc_rate=feature_info["mfcc_rate"])
        self.timing = Timing()

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Motion frames ``(S, k, D)`` that the mono float ``samples`` made final."""
        begin, cpu = time.perf_counter(), time.process_time()
        frames = self._motion(self.features.push(samples), final=False)
        self.timing.compute.append(time.process_time() - cpu)
        self.timing.wall.append(time.perf_counter() - begin)
        return self._record(frames, final=False)

    def finish(self) -> np.ndarray:
        """The remaining motion frames ``(S, k, D)``, once the speech has ended."""
        return self._record(self._motion(self.features.finish(), final=True), final=True)

    def _record(self, frames: np.ndarray, final: bool) -> np.ndarray:
        consumed = self.features.samples / self.features.sr
        self.timing.consumed += [consumed] * frames.shape[1]
        self.timing.final += [final] * frames.shape[1]
        return frames

    def _motion(self, features: np.ndarray, final: bool) -> np.ndarray:
        raise NotImplementedError


class IVA19Stream(MotionStream):
    """IVA'19: one centred window of ``n_context + 1`` feature frames per motion frame."""

    def __init__(self, model, sr: int, samples: int = 1, seed: int = 0):
        if samples != 1:
            raise PipelineError(f"{model.path}: an IVA'19 model gives one motion per input "
                                f"(--samples 1, not {samples})")
        card = model.card
        super().__init__(model, sr, {"features": card.features, "mel_preset": card.mel_preset,
                                     "mfcc_rate": card.mfcc_rate})
        self.half, self.window = card.n_context // 2, card.window
        self.network = RecurrentChain(model.network)
        silence = silence_frame(card.features, fps=card.fps, mel_preset=card.mel_preset)
        self.silence = self.network.frames(silence[None].astype(np.float32))
        # per-frame values of frames -half on; window t: frames t - half .. t - half + window
        self.buffer = np.repeat(self.silence, self.half, axis=0)

    @property
    def lookahead_frames(self) -> int:
        """Future feature frames a motion frame waits for."""
        return self.window - 1 - self.half

    def _motion(self, features: np.ndarray, final: bool) -> np.ndarray:
        self.buffer = np.concatenate([self.buffer, self.network.frames(features)])
        if final:
            self.buffer = np.concatenate([self.buffer, np.repeat(self.silence, self.half, 0)])
        count = len(self.buffer) - self.window + 1
        if count <= 0:
            return np.zeros((1, 0, self.model.card.motion_size), np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(self.buffer, self.window, 0)
        vectors = self.network.windows(windows[:count].transpose(0, 2, 1))
        self.buffer = self.buffer[count:]
        if self.model.motion_representation is not None:
            vectors = self.model.motion_representation.decode(vectors)
        if not np.isfinite(vectors).all():
            raise PipelineError(f"{self.model.path}: the model predicts NaN or infinite values "
                                "(was its training diverged?)")
        return vectors[None]


def run_features(dataset: dict) -> dict:
    """The ``feature_info`` of :class:`MotionStream` from a run's ``dataset`` settings."""
    return {"features": dataset["features"], "mel_preset": dataset["mel_preset"],
            "mfcc_rate": dataset.get("mfcc_rate", "16k")}


class A2GStream(MotionStream):
    """Audio2Gestures: audio encoder, mapping net and decoder as :class:`ConvStage` s."""

    def __init__(self, sampler, sr: int, samples: int = 1, seed: int = 0):
        if samples < 1:
            raise PipelineError(f"--samples must be >= 1, got {samples}")
        super().__init__(sampler, sr, run_features(sampler.run.dataset))
        self.samples, self.seed = samples, seed
        net = sampler.model
        self.audio = ConvStage(net.audio_encoder)
        self.mapping = ConvStage(net.mapping_net) if net.mapping_net is not None else None
        self.decoder = ConvStage(net.decoder)
        self.code_size = sampler.run.config.code_size
        norm = sampler.run.norm
        self.motion_mean, self.motion_std = (np.asarray(v, np.float32) for v in
                                             (norm.motion_mean, norm.motion_std))
        self.shared, self.specific = [], []  # codes waiting for the decoder
        self.frames = 0  # feature frames so far

    @property
    def lookahead_frames(self) -> int:
        """Future feature frames a motion frame waits for (beyond the features' own)."""
        specific = self.mapping.right if self.mapping else 0
        return max(self.audio.right, specific) + self.decoder.right

    def _motion(self, features: np.ndarray, final: bool) -> np.ndarray:
        sampler = self.model
        start = self.frames
        self.frames += len(features)
        self.audio.push(sampler.run.norm.audio(features)[None])
        heads = self.audio.pull(final)
        self.shared.append(self._shared(heads, self.audio.emitted - heads.shape[1]))
        if sampler.split:
            self.specific.append(self._specific(start, self.frames, final))
        return self._decode(final)

    def _shared(self, heads: np.ndarray, start: int) -> np.ndarray:
        """Shared codes ``(S or 1, k, C)`` of encoder outputs ``[mu | logvar]``."""
        mu, logvar = heads[..., : self.code_size], heads[..., self.code_size :]
        if self.model.inference == "mean":
            return mu
        return self.model.posterior_frames(np.repeat(mu, self.samples, 0),
                                           np.repeat(logvar, self.samples, 0), seed=self.seed,
                                           stream="shared", start=start)

    def _specific(self, start: int, stop: int, final: bool) -> np.ndarray:
        """Motion-specific codes ``(S, k, C)`` of the next frames (noise indexed by frame)."""
        noise = (self.model.code_noise(start, stop, self.samples, self.seed) if stop > start
                 else np.zeros((self.samples, 0, self.code_size), np.float32))
        if self.mapping is None:
            return noise
        self.mapping.push(noise)
        heads = self.mapping.pull(final)
        begin = self.mapping.emitted - heads.shape[1]
        return self.model.posterior_frames(heads[..., : self.code_size],
                                           heads[..., self.code_size :], seed=self.seed,
                                           stream="mapped", start=begin)

    def _decode(self, final: bool) -> np.ndarray:
        """Decode every frame whose codes are ready; de-normalised ``rot6d`` ``(S, k, D)``."""
        shared = np.concatenate(self.shared, 1)
        parts = [shared]
        if self.model.split:
            specific = np.concatenate(self.specific, 1)
            count = min(shared.shape[1], specific.shape[1])
            parts = [np.repeat(shared[:, :count], self.samples // len(shared), 0),
                     specific[:, :count]]
            self.specific = [specific[:, count:]]
        count = parts[0].shape[1]
        self.shared = [shared[:, count:]]
        self.decoder.push(np.concatenate(parts, -1))
        motion = self.decoder.pull(final)
        vectors = motion * self.motion_std + self.motion_mean  # SkeletonGeometry.vectors
        return np.repeat(vectors, self.samples // len(vectors), axis=0)


class HA2GStream(MotionStream):
    """HA2G: the clips of :class:`ha2g.sample.ClipStream`, each once its features are in.

    Frames are joint positions ``(S, k, 3 J)``, as ``generate`` (offline) and ``predict.py``
    give them: each frame's bone directions decoded on their own. No words: a text-mode run
    streams as it generates offline without a transcript.
    """

    def __init__(self, sampler, sr: int, samples: int = 1, seed: int = 0):
        super().__init__(sampler, sr, run_features(sampler.run.dataset))
        self.clips = sampler.clips(samples=samples, seed=seed)
        self.representation = sampler.run.representation
        self.width = 3 * sampler.skeleton.n_joints

    @property
    def lookahead_frames(self) -> int:
        """Future feature frames a motion frame waits for (beyond the features' own).

        Frame ``k s``, the first of clip ``k``'s cross-fade, waits for the clip's last frame.
        """
        return self.clips.clip - 1

    def _motion(self, features: np.ndarray, final: bool) -> np.ndarray:
        vectors = self.clips.push(features)
        if final:
            vectors = np.concatenate([vectors, self.clips.finish()], axis=1)
        if not vectors.shape[1]:  # the pushes between two clips
            return np.zeros((len(vectors), 0, self.width))
        positions = self.representation.decode(vectors)
        return positions.reshape(*positions.shape[:2], self.width)


def open_stream(model, sr: int, *, samples: int = 1, seed: int = 0) -> MotionStream:
    """A :class:`MotionStream` of a loaded model for speech at ``sr`` Hz.

    Raises
    ------
    PipelineError
        A family that cannot stream (:data:`STREAMABLE`).
    """
    streams = {"iva19": IVA19Stream, "a2g": A2GStream, "ha2g": HA2GStream}
    if model.kind not in streams:
        raise PipelineError(f"{model.path}: a {model.kind} model cannot stream (streaming "
                            f"supports {', '.join(STREAMABLE)})")
    return streams[model.kind](model, sr, samples=samples, seed=seed)
