"""Speech features computed chunk by chunk, as :mod:`data_processing.audio` computes them.

A :class:`FeatureStream` takes samples as they arrive (:meth:`FeatureStream.push`) and returns
each feature frame once no later sample can change it; :meth:`FeatureStream.finish` returns
the rest, with the offline end rules (zero padding, trimming or edge-padding to
``frame_count(duration, fps)`` frames). The framing is the offline one:

MFCC
    the signal is resampled as offline (:func:`data_processing.audio.hop_rate`) by a soxr
    stream (the same output as ``soxr.resample``), pre-emphasised sample by sample (0.97, as
    python_speech_features), and python_speech_features computes every 20 ms sub-frame once
    it lies inside the signal (``preemph=0`` on the pre-emphasised samples); a frame is the
    mean of its ``MFCC.subframes`` sub-frames.
log-mel
    librosa's centred frames (``n_fft // 2`` zeros before the signal and after it) computed
    with ``center=False`` on the padded signal (the steps of
    ``librosa.feature.melspectrogram``), frame ``i`` once samples up to ``i hop + n_fft / 2``
    have arrived.
prosody
    within a stated tolerance, not exact (:class:`ProsodyStream`): Praat's pitch tracker
    reads the whole file (a Viterbi path, voicing judged against the file's peak) and centres
    its frames in the sound by its duration, so frame ``i`` comes from Praat run on a window
    of its own, :data:`PROSODY_HISTORY` (0.25 s) before ``t`` to :data:`PROSODY_LOOKAHEAD`
    (0.1 s) after the frame's end, with the offline formulas
    (:func:`data_processing.audio.prosody_steps`). On the demo speaker every energy frame is
    within 0.003 of offline, 98 % of the pitch frames within 2 % of the column's std and the
    rest, at voicing edges, within 0.15 (``docs/streaming.md``, "Prosody").

The lookahead of a feature frame (how much audio after ``t = i / fps`` it needs): 60 ms for
MFCC at 20 fps (its sub-frames start at ``t``: 4 steps of 10 ms and one 20 ms window), half a
window for log-mel (``n_fft / 2`` samples: 32 ms for the ``a2g`` preset, 46 ms for ``iva19``),
the soxr filter's delay where the signal is resampled, and one frame plus 100 ms for prosody
(150 ms at 20 fps).
"""

from __future__ import annotations

import librosa
import numpy as np
import parselmouth
import soxr
from python_speech_features import mfcc as psf_mfcc
from python_speech_features.sigproc import round_half_up

from data_processing.audio import (
    FEATURE_SETS,
    MEL_PRESETS,
    MFCC,
    MIN_DURATION,
    PROSODY,
    check_mfcc_rate,
    hop_rate,
    prosody_steps,
    psf_truncation_notice_off,
)
from data_processing.files import PipelineError
from data_processing.kinematics import frame_count

PREEMPHASIS = 0.97  # python_speech_features' default, which the offline MFCC uses

PROSODY_HISTORY = 0.25
"""Seconds of audio before a prosody frame's time ``i / fps`` that its Praat run reads (0.25
to 2 s give the same frames on the demo speaker; the compute grows with it)."""

PROSODY_LOOKAHEAD = 0.1
"""Seconds of audio after a prosody frame's end ``(i + 1) / fps`` that its Praat run waits for."""

PROSODY_REACH = 3.2 / PROSODY.pitch_floor
"""Half of Praat's intensity window (43 ms; the pitch window's half is 20 ms): the least
lookahead at which a frame's last sub-frame is analysed from its own samples."""


def check_streamable(feature_set: str) -> tuple[str, ...]:
    """The parts of ``feature_set``; a one-line error when it is not a feature set."""
    if feature_set not in FEATURE_SETS:
        raise PipelineError(f"unknown feature set {feature_set!r} (use one of "
                            f"{', '.join(FEATURE_SETS)})")
    return FEATURE_SETS[feature_set]


class _Resampler:
    """soxr's stream resampler, or nothing where the rate is already the analysis rate."""

    def __init__(self, sr: int, new_sr: float, resample: bool):
        self.stream = soxr.ResampleStream(sr, new_sr, 1, dtype="float64",
                                          quality="HQ") if resample else None

    def __call__(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        if self.stream is None:
            return samples
        return self.stream.resample_chunk(samples, last=last)


class _FrameBuffer:
    """Samples of a signal from global index ``base`` on, for frames ``step`` samples apart."""

    def __init__(self):
        self.samples = np.zeros(0)
        self.base = 0

    @property
    def end(self) -> int:
        """Global index after the last sample."""
        return self.base + len(self.samples)

    def append(self, samples: np.ndarray) -> None:
        self.samples = np.concatenate([self.samples, samples])

    def span(self, start: int, stop: int | None = None) -> np.ndarray:
        """Samples ``start`` to ``stop`` (global indices; ``None``: to the end)."""
        return self.samples[start - self.base : None if stop is None else stop - self.base]

    def drop_before(self, index: int) -> None:
        """Forget the samples before global ``index``.

        All of them when ``index`` lies past the end (frames further apart than their window:
        the samples skipped are not pushed yet, and keep their global indices).
        """
        index = min(index, self.end)
        self.samples = self.samples[index - self.base :]
        self.base = index


class MfccStream:
    """IVA'19 MFCC :func:`data_processing.audio.mfcc`, chunk by chunk.

    Parameters
    ----------
    sr : int
        Rate of the pushed samples.
    fps : float
        Output frame rate.
    rate : str
        ``native`` or ``16k`` (:data:`data_processing.audio.MFCC_RATES`).
    """

    def __init__(self, sr: int, fps: float, rate: str):
        steps = MFCC.subframes * fps
        if check_mfcc_rate(rate) == "native":
            self.sr_eff, self.winstep, resample = sr, 1.0 / steps, False
        else:
            self.sr_eff, hop, resample = hop_rate(sr, MFCC.sr, steps)
            self.winstep = hop / self.sr_eff
        self.resampler = _Resampler(sr, self.sr_eff, resample)
        self.frame_len = int(round_half_up(MFCC.winlen * self.sr_eff))
        self.step = int(round_half_up(self.winstep * self.sr_eff))
        self.buffer, self.previous, self.next_sub = _FrameBuffer(), 0.0, 0
        self.pending = np.zeros((0, MFCC.numcep))  # sub-frames not yet in an output frame
        self.emitted, self.last = 0, None  # output frames so far, the last sub-frame

    def _mfcc(self, samples: np.ndarray) -> np.ndarray:
        with psf_truncation_notice_off():
            return psf_mfcc(samples, samplerate=self.sr_eff, winlen=MFCC.winlen,
                            winstep=self.winstep, numcep=MFCC.numcep, nfilt=MFCC.nfilt,
                            nfft=MFCC.nfft, preemph=0.0)

    def _append(self, samples: np.ndarray) -> None:
        """Pre-emphasise (``y[i] = x[i] - 0.97 x[i - 1]``, as python_speech_features)."""
        if len(samples):
            shifted = np.concatenate([[self.previous], samples[:-1]])
            self.buffer.append(samples - PREEMPHASIS * shifted)
            self.previous = samples[-1]

    def _subframes(self, stop: int) -> None:
        """Sub-frames ``next_sub`` to ``stop``, from the buffered samples."""
        if stop <= self.next_sub:
            return
        start = self.next_sub * self.step
        feats = self._mfcc(self.buffer.span(start, (stop - 1) * self.step + self.frame_len))
        self._keep(feats[: stop - self.next_sub])
        self.next_sub = stop
        self.buffer.drop_before(stop * self.step)

    def _keep(self, subframes: np.ndarray) -> None:
        self.pending = np.concatenate([self.pending, subframes])
        self.last = subframes[-1]

    def _frames(self, count: int) -> np.ndarray:
        """The next ``count`` output frames from the pending sub-frames."""
        n = MFCC.subframes * count
        frames = self.pending[:n].reshape(count, MFCC.subframes, MFCC.numcep).mean(axis=1)
        self.pending, self.emitted = self.pending[n:], self.emitted + count
        return frames

    def push(self, samples: np.ndarray, known: int) -> np.ndarray:
        """Final frames ``(k, 26)`` after ``samples``; ``known`` frames exist for sure."""
        self._append(self.resampler(samples))
        inside = (self.buffer.end - self.frame_len) // self.step + 1
        self._subframes(max(inside, 0))
        ready = min(len(self.pending) // MFCC.subframes + self.emitted, known)
        return self._frames(max(ready - self.emitted, 0))

    def finish(self, n_frames: int) -> np.ndarray:
        """The remaining frames of a signal of ``n_frames`` frames (offline end rules)."""
        self._append(self.resampler(np.zeros(0), last=True))
        length = self.buffer.end
        total = 1 if length <= self.frame_len else 1 + -(-(length - self.frame_len) // self.step)
        if total > self.next_sub:
            self._keep(self._mfcc(self.buffer.span(self.next_sub * self.step))[
                : total - self.next_sub])
        needed = MFCC.subframes * (n_frames - self.emitted)
        if len(self.pending) < needed:  # the offline edge padding (audio._fit)
            edge = np.repeat(self.last[None], needed - len(self.pending), axis=0)
            self.pending = np.concatenate([self.pending, edge])
        return self._frames(n_frames - self.emitted)


class LogMelStream:
    """:func:`data_processing.audio.log_mel`, chunk by chunk.

    Parameters
    ----------
    sr : int
        Rate of the pushed samples.
    fps : float
        Output frame rate.
    preset : str
        A key of :data:`data_processing.audio.MEL_PRESETS`.
    """

    def __init__(self, sr: int, fps: float, preset: str):
        self.settings = MEL_PRESETS[preset]
        self.sr_eff, self.hop, resample = hop_rate(sr, self.settings.sr, fps)
        self.resampler = _Resampler(sr, self.sr_eff, resample)
        self.basis = librosa.filters.mel(sr=self.sr_eff, n_fft=self.settings.n_fft,
                                         n_mels=self.settings.n_mels, fmin=self.settings.fmin,
                                         fmax=self.settings.fmax)
        self.buffer = _FrameBuffer()
        self.buffer.append(np.zeros(self.settings.n_fft // 2))  # librosa's centring
        self.emitted, self.last = 0, None

    def _frames(self, stop: int) -> np.ndarray:
        """Frames ``emitted`` to ``stop`` ``(k, n_mels)`` of the buffered (padded) samples."""
        s, start = self.settings, self.emitted
        if stop <= start:
            return np.zeros((0, s.n_mels))
        y = self.buffer.span(start * self.hop, (stop - 1) * self.hop + s.n_fft)
        # librosa.feature.melspectrogram's steps, with the mel basis built once
        power = np.abs(librosa.stft(y, n_fft=s.n_fft, hop_length=self.hop, center=False)) ** 2.0
        mel = np.einsum("...ft,mf->...mt", power, self.basis, optimize=True)
        frames = np.log(mel + s.log_eps).T[: stop - start]
        self.emitted, self.last = stop, frames[-1]
        self.buffer.drop_before(stop * self.hop)
        return frames

    def push(self, samples: np.ndarray, known: int) -> np.ndarray:
        """Final frames ``(k, n_mels)`` after ``samples``; ``known`` frames exist for sure."""
        self.buffer.append(self.resampler(samples))
        inside = (self.buffer.end - self.settings.n_fft) // self.hop + 1
        return self._frames(min(inside, known))

    def finish(self, n_frames: int) -> np.ndarray:
        """The remaining frames of a signal of ``n_frames`` frames (offline end rules)."""
        self.buffer.append(self.resampler(np.zeros(0), last=True))
        length = self.buffer.end - self.settings.n_fft // 2
        self.buffer.append(np.zeros(self.settings.n_fft // 2))
        frames = self._frames(min(1 + length // self.hop, n_frames))
        missing = n_frames - self.emitted
        edge = np.repeat(self.last[None], missing, axis=0)
        self.emitted = n_frames
        return np.concatenate([frames, edge])


class ProsodyStream:
    """IVA'19 prosody :func:`data_processing.audio.prosody`, chunk by chunk, within a tolerance.

    Frame ``i`` comes from one Praat run (:func:`data_processing.audio.prosody_steps`, the
    offline formulas) on the audio from ``i / fps - history`` to ``(i + 1) / fps + lookahead``
    (from the start of the signal at first, at least ``MIN_DURATION`` long), run once those
    samples are in; the last frames come from one run on the window that ends with the signal,
    as offline. Only that window is kept. The first difference of a window's first sub-frame
    is taken against the last sub-frame emitted, so the derivatives run on across windows.
    The windows are placed by sample positions, not by chunks: any chunking gives the same
    frames, bit for bit.

    Offline, Praat sees the whole file, so a stream differs where the rest of the file matters:

    * voicing is judged against the sound's peak ``|x - mean|``. A window's first sample
      (``history`` before its frame, outside the analysis windows of the frames it gives) is
      set to the window's mean plus the peak so far, so the frames before the file's loudest
      part may be voiced where offline they are not;
    * Praat centres its frames in the sound, by its duration. Windows start on multiples of
      the step and last whole steps plus one sample, so their frames fall on multiples of the
      step, as offline for a file lasting whole steps (5 ms at 20 fps): half a step from the
      grid ``(j + 0.5) step`` that both interpolate onto. Another duration moves the offline
      frames by up to half a step, and the interpolated values with them;
    * the pitch path (Viterbi) of a window is not the whole file's.

    Measured against offline, 100 or 37 ms chunks, 20 fps (``docs/streaming.md``, "Prosody"):
    on the demo speaker (4 recordings of 12 s) every energy and d-energy frame within 0.003
    and 6e-5 (2 % of their std), 98 % of the pitch frames and 94 % of the d-pitch frames within
    2 % of their std, the others at voicing edges (one or two of a frame's 10 sub-frames
    voiced in one and not in the other) up to 0.15 and 0.014; voiced frames (pitch > 0) agree
    everywhere. On a tone sweep with silences, 99 % of the frames of every column or more
    within 2 % of its std. Lookahead: one frame plus ``lookahead`` (150 ms at 20 fps).
    Compute, one core: two Praat runs on 0.4 s per 100 ms chunk at 20 fps, 5.5 ms on average,
    10 ms at most.

    Parameters
    ----------
    sr : int
        Rate of the pushed samples (Praat analyses them at this rate, as offline).
    fps : float
        Output frame rate.
    history, lookahead : float
        Seconds (whole sub-frame steps, ``1 / (10 fps)``): :data:`PROSODY_HISTORY`,
        :data:`PROSODY_LOOKAHEAD`; ``lookahead`` at least :data:`PROSODY_REACH`.
    """

    def __init__(self, sr: int, fps: float, *, history: float = PROSODY_HISTORY,
                 lookahead: float = PROSODY_LOOKAHEAD):
        self.sr, self.step = sr, 1.0 / (PROSODY.subframes * fps)
        self.history, self.lookahead = round(history / self.step), round(lookahead / self.step)
        if self.lookahead * self.step < PROSODY_REACH:
            raise PipelineError(f"prosody lookahead {lookahead:g} s is shorter than Praat's "
                                f"analysis reach ({PROSODY_REACH:.3f} s) in whole steps")
        self.shortest = int(np.ceil(MIN_DURATION / self.step))  # steps, Praat's windows fit
        self.buffer, self.peak, self.previous, self.emitted = _FrameBuffer(), 0.0, None, 0

    def window(self, frame: int) -> tuple[int, int]:
        """Samples ``(start, stop)`` of the run that computes ``frame`` (global indices)."""
        first = max(frame * PROSODY.subframes - self.history, 0)
        last = max((frame + 1) * PROSODY.subframes + self.lookahead, first + self.shortest)
        return round(first * self.step * self.sr), round(last * self.step * self.sr) + 1

    def _run(self, start: int, stop: int, count: int) -> np.ndarray:
        """Frames ``emitted`` to ``emitted + count`` ``(count, 4)`` from samples ``start:stop``."""
        samples = self.buffer.span(start, stop).copy()
        mean = samples.mean()
        self.peak = max(self.peak, np.abs(samples - mean).max())
        if start > 0:  # from the start of the signal, the window holds every sample so far
            samples[0] = mean + self.peak
        sound = parselmouth.Sound(samples, sampling_frequency=self.sr, start_time=start / self.sr)
        first = self.emitted * PROSODY.subframes
        times = (np.arange(first, first + count * PROSODY.subframes) + 0.5) * self.step
        steps = prosody_steps(sound, times, step=self.step, previous=self.previous)
        self.previous, self.emitted = steps[-1, [0, 2]], self.emitted + count
        return steps.reshape(count, PROSODY.subframes, 4).mean(axis=1)

    def push(self, samples: np.ndarray, known: int) -> np.ndarray:
        """Final frames ``(k, 4)`` after ``samples``: those whose window is in.

        ``known`` is not needed: a frame whose window (past the frame's end) is in exists.
        """
        self.buffer.append(samples)
        frames = [np.zeros((0, 4))]
        while (window := self.window(self.emitted))[1] <= self.buffer.end:
            frames.append(self._run(*window, 1))
        self.buffer.drop_before(self.window(self.emitted)[0])
        return np.concatenate(frames)

    def finish(self, n_frames: int) -> np.ndarray:
        """The remaining frames of a signal of ``n_frames`` frames: one run to its end."""
        if self.emitted == n_frames:  # at a low frame rate the last window can end before it
            return np.zeros((0, 4))
        start = self.window(self.emitted)[0]
        if self.buffer.end - start < MIN_DURATION * self.sr:
            raise PipelineError(f"{self.buffer.end / self.sr:.3f} s of audio: prosody needs "
                                f"at least {MIN_DURATION} s (Praat's analysis windows)")
        return self._run(start, self.buffer.end, n_frames - self.emitted)


class FeatureStream:
    """The features of a named set, chunk by chunk (:func:`data_processing.audio.speech_features`).

    Parameters
    ----------
    feature_set : str
        A key of :data:`data_processing.audio.FEATURE_SETS` (prosody within
        :class:`ProsodyStream`'s tolerance).
    sr : int
        Rate of the pushed samples.
    fps : float
        Feature frame rate.
    mel_preset, mfcc_rate : str
        As offline.
    """

    def __init__(self, feature_set: str, sr: int, *, fps: float, mel_preset: str = "iva19",
                 mfcc_rate: str = "native"):
        self.sr, self.fps = sr, fps
        streams = {"mfcc": lambda: MfccStream(sr, fps, mfcc_rate),
                   "logmel": lambda: LogMelStream(sr, fps, mel_preset),
                   "prosody": lambda: ProsodyStream(sr, fps)}
        self.parts = [streams[part]() for part in check_streamable(feature_set)]
        self.ready = [np.zeros((0, 0)) for _ in self.parts]
        self.samples = 0

    @property
    def known_frames(self) -> int:
        """Frames the signal has for sure: ``frame_count`` of the samples pushed so far."""
        return frame_count(self.samples / self.sr, self.fps)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """The frames ``(k, F)`` float32 that ``samples`` (mono, float) made final."""
        samples = np.asarray(samples, np.float64)
        self.samples += len(samples)
        blocks = [part.push(samples, self.known_frames) for part in self.parts]
        return self._aligned(blocks)

    def finish(self) -> np.ndarray:
        """The remaining frames ``(k, F)`` float32, once the signal has ended."""
        n = self.known_frames
        if n < 1:
            raise PipelineError(f"{self.samples / self.sr:.3f} s of audio make no frame at "
                                f"{self.fps:g} fps")
        return self._aligned([part.finish(n) for part in self.parts])

    def _aligned(self, blocks: list[np.ndarray]) -> np.ndarray:
        """Frames every part has computed, concatenated as offline (float32)."""
        self.ready = [b if r.size == 0 else np.concatenate([r, b])
                      for r, b in zip(self.ready, blocks)]
        count = min(len(r) for r in self.ready)
        out = np.concatenate([r[:count] for r in self.ready], axis=1).astype(np.float32)
        self.ready = [r[count:] for r in self.ready]
        return out
