"""Speech features at a target frame rate: MFCC, log-mel, prosody, and the IVA'19 combinations.

Frame convention: a signal of ``S`` samples at ``sr`` Hz gives
``kinematics.frame_count(S / sr, fps)`` feature frames, frame ``i`` describing the audio around
``t = i / fps``, exactly as many as motion frames of the same duration at the same fps.

To keep features aligned over files of any length, the log-mel extractor resamples the signal
to the nearest rate at which its hop is a whole number of samples (e.g. 16 000 -> 15 990 Hz for
a 533-sample hop at 30 fps), so frame ``i`` never drifts from ``i / fps``.

MFCC sample rate, by name (:data:`MFCC_RATES`, the ``mfcc_rate`` option, recorded by
``create_vector.py`` in ``meta.json`` and by ``train.py`` in the model card):

``native`` (the default: the original recipe)
    python_speech_features at the file's own sample rate, as the original
    ``data_processing/tools.py::calculate_mfcc`` (``mfcc(audio, winlen=0.02, winstep=0.01,
    samplerate=fs, numcep=26)``, nfft 512: a 20 ms frame longer than 512 samples is truncated
    by python_speech_features, e.g. 882 samples at 44.1 kHz). python_speech_features rounds the
    step to whole samples: where ``sr / (5 fps)`` is not whole (22.05 kHz at 20 fps: 220.5 ->
    221 samples) frame ``i`` drifts from ``i / fps`` by 0.2 %, as in the original.
``16k`` (this project's choice)
    resampled first to the rate nearest 16 kHz at which the step is a whole number of samples
    (16 kHz itself at 20 fps), so the frames never drift and the MFCC of one recording does not
    depend on the rate it was stored at.

The two agree on 16 kHz audio (the demo speaker's).

Feature sets (IVA'19, Kucherenko et al. 2019), by name:

====================  ====  ==========================================================
name                  dims  content, in this column order
====================  ====  ==========================================================
``MFCC``              26    MFCC (python_speech_features, 20 ms window, 5 sub-frames
                            averaged per output frame: 10 ms steps at 20 fps)
``Pros``              4     energy, d energy, pitch, d pitch (Praat via parselmouth)
``MFCC+Pros``         30
``Spectro``           64    log-mel power spectrogram (librosa), preset ``iva19`` or ``a2g``
``Spectro+Pros``      68
``MFCC+Spectro``      90
``MFCC+Spectro+Pros`` 94
====================  ====  ==========================================================
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import parselmouth
import soundfile
import soxr
from python_speech_features import mfcc as psf_mfcc

from data_processing.files import PipelineError
from data_processing.kinematics import frame_count

log = logging.getLogger(__name__)

SILENCE_PEAK = 1e-4
"""Peak amplitude (-80 dBFS) below which a file counts as all-silent."""

MIN_DURATION = 0.1
"""Shortest audio (seconds) the extractors accept; Praat's pitch window needs 40 ms."""


@dataclass(frozen=True)
class MelPreset:
    """Settings of a log-mel spectrogram.

    Parameters
    ----------
    sr : int
        Analysis sample rate (the audio is resampled to about this rate).
    n_fft : int
        FFT size in samples.
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Mel filterbank range in Hz.
    log_eps : float
        ``log(power + log_eps)``.
    """

    sr: int
    n_fft: int
    n_mels: int
    fmin: float
    fmax: float
    log_eps: float


MEL_PRESETS = {
    # IVA'19: librosa.load default rate, n_fft 2048, 64 mels in 100-7500 Hz, log(x + 1e-10).
    "iva19": MelPreset(sr=22050, n_fft=2048, n_mels=64, fmin=100.0, fmax=7500.0, log_eps=1e-10),
    # Audio2Gestures: 16 kHz, 64-mel log power, hop sr/fps (533 at 30 fps).
    "a2g": MelPreset(sr=16000, n_fft=1024, n_mels=64, fmin=0.0, fmax=8000.0, log_eps=1e-6),
}


@dataclass(frozen=True)
class MfccSettings:
    """IVA'19 MFCC: python_speech_features with these constants, sub-frames averaged.

    ``sr`` is the analysis rate of the ``16k`` :data:`MFCC_RATES` option.
    """

    sr: int = 16000
    winlen: float = 0.02
    numcep: int = 26
    nfilt: int = 26
    nfft: int = 512
    subframes: int = 5  # per output frame: 10 ms steps at 20 fps, as in IVA'19


@dataclass(frozen=True)
class ProsodySettings:
    """IVA'19 prosody: Praat pitch and intensity at sub-frame steps, averaged per frame."""

    subframes: int = 10  # 5 ms steps at 20 fps, as in IVA'19
    pitch_floor: float = 75.0
    pitch_shift: float = 4.0  # pitch = max(log(f0 + 1) - 4, 0)
    energy_shift: float = 3.0  # energy = max(log(intensity_dB) - 3, 0)


MFCC = MfccSettings()
PROSODY = ProsodySettings()

MFCC_RATES = ("native", "16k")
"""Named MFCC sample-rate options (see the module docstring); the first is the default."""

"""The MFCC rate of datasets and models made before the option existed (no record of it)."""

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "MFCC": ("mfcc",),
    "Pros": ("prosody",),
    "MFCC+Pros": ("mfcc", "prosody"),
    "Spectro": ("logmel",),
    "Spectro+Pros": ("logmel", "prosody"),
    "MFCC+Spectro": ("mfcc", "logmel"),
    "MFCC+Spectro+Pros": ("mfcc", "logmel", "prosody"),
}
_SIZES = {"mfcc": MFCC.numcep, "prosody": 4}


def feature_size(feature_set: str, *, mel_preset: str = "iva19") -> int:
    """Number of feature dimensions of a named feature set."""
    parts = _parts(feature_set)
    return sum(_SIZES.get(p) or MEL_PRESETS[_preset(mel_preset)].n_mels for p in parts)


def _parts(feature_set: str) -> tuple[str, ...]:
    if feature_set not in FEATURE_SETS:
        raise ValueError(
            f"Expected a feature set in {sorted(FEATURE_SETS)}. Received: {feature_set!r}"
        )
    return FEATURE_SETS[feature_set]


def _preset(name: str) -> str:
    if name not in MEL_PRESETS:
        raise ValueError(f"Expected a mel preset in {sorted(MEL_PRESETS)}. Received: {name!r}")
    return name


# --------------------------------------------------------------------------------------------
# Reading

SAMPLE_RATE_RANGE = (4000, 384000)
"""Accepted sample rates in Hz (telephone band to high-resolution studio audio)."""

MAX_DURATION = 3600.0
"""Longest recording (seconds) read in one piece; longer ones must be split."""

MAX_PEAK = 10.0
"""Largest sample magnitude accepted (+20 dBFS: float audio holds values within about ±1)."""

CANCELLATION = 0.1
"""Mono mix RMS below this fraction of the loudest channel's RMS: the channels cancel."""

FPS_RANGE = (1.0, 200.0)
"""Accepted feature frame rates (frames per second)."""

_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_RIFF_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers leave the size open


def check_fps(fps: float) -> float:
    """``fps`` as a float, or a one-line error when it is outside :data:`FPS_RANGE`."""
    low, high = FPS_RANGE
    if not low <= fps <= high:
        raise PipelineError(f"--fps {fps:g} is outside {low:g} to {high:g} frames per second")
    return float(fps)


def load_audio(path) -> tuple[np.ndarray, int]:
    """Read an audio file (any rate, channel count and sample format) as a mono float signal.

    Channels are averaged; when they cancel in the average (opposite phase, see
    :data:`CANCELLATION`) the loudest channel is used instead, with a warning.

    Returns
    -------
    signal : np.ndarray [shape=(n,), dtype=float64]
        The mono signal, within ``±MAX_PEAK`` (about ``[-1, 1]``).
    sr : int
        The file's sample rate.

    Raises
    ------
    PipelineError
        Missing, unreadable, truncated (decoded shorter than the header declares), empty, too
        short, too long, all-silent audio, NaN or out-of-range samples, a sample rate outside
        :data:`SAMPLE_RATE_RANGE`.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    _check_container_length(path)
    info = _checked_info(path)
    data = _read_whole(path, info)
    _check_samples(path, data)
    signal = _mono(path, data)
    if signal.size < MIN_DURATION * info.samplerate:
        duration = signal.size / info.samplerate
        raise PipelineError(f"{path}: audio too short ({duration:.3f} s < {MIN_DURATION} s)")
    if np.max(np.abs(signal)) < SILENCE_PEAK:
        raise PipelineError(f"{path}: all-silent audio (peak below {SILENCE_PEAK:g})")
    return signal, int(info.samplerate)


def _checked_info(path: Path):
    """``soundfile.info`` of a readable file with a sane rate and length (nothing decoded)."""
    try:
        info = soundfile.info(path)
    except (soundfile.SoundFileError, RuntimeError) as error:
        raise PipelineError(f"{path}: not a readable audio file ({error})") from None
    low, high = SAMPLE_RATE_RANGE
    if not low <= info.samplerate <= high:
        raise PipelineError(f"{path}: sample rate {info.samplerate} Hz is outside {low} to "
                            f"{high} Hz")
    if info.frames > MAX_DURATION * info.samplerate:
        raise PipelineError(f"{path}: {info.frames / info.samplerate:.0f} s of audio is longer "
                            f"than the {MAX_DURATION:g} s limit (split the recording)")
    return info


def _read_whole(path: Path, info) -> np.ndarray:
    """All samples ``(frames, channels)``; an error when fewer than declared are decoded."""
    try:
        data, _ = soundfile.read(path, dtype="float64", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError) as error:
        raise PipelineError(f"{path}: not a readable audio file ({error})") from None
    if data.size == 0:
        raise PipelineError(f"{path}: empty audio (0 samples)")
    slack = 2 * 1152  # decoder delay and padding of MP3-like codecs, in frames
    if len(data) + slack < info.frames:
        raise PipelineError(f"{path}: truncated {info.format} audio (the header declares "
                            f"{info.frames} frames, {len(data)} decoded)")
    return data


def _check_samples(path: Path, data: np.ndarray) -> None:
    """No NaN, no infinity, no sample beyond :data:`MAX_PEAK`."""
    peak = np.max(np.abs(data))
    if np.isnan(peak):
        raise PipelineError(f"{path}: audio contains NaN samples")
    if not peak <= MAX_PEAK:
        raise PipelineError(f"{path}: sample magnitude {peak:g} is beyond ±{MAX_PEAK:g} "
                            "(float audio holds values within about ±1)")


def _mono(path: Path, data: np.ndarray) -> np.ndarray:
    """Mean of the channels, or the loudest channel when the mean cancels them."""
    signal = data.mean(axis=1)
    if data.shape[1] == 1:
        return signal
    rms = np.sqrt(np.mean(data**2, axis=0))
    loudest = int(np.argmax(rms))
    if np.sqrt(np.mean(signal**2)) < CANCELLATION * rms[loudest]:
        log.warning("%s: the channels cancel when mixed to mono (opposite phase); using "
                    "channel %d", path, loudest + 1)
        return data[:, loudest].copy()
    return signal


def _check_container_length(path: Path) -> None:
    """Reject audio whose sample data is shorter than its container header says.

    libsndfile reads such files as shorter audio without a word. Checked: RIFF and RF64 WAV
    (the data chunk, RF64's ``ds64`` size), Sony Wave64 (the file size) and AIFF/AIFC (the
    ``SSND`` chunk). Other formats are checked after decoding (:func:`_read_whole`).
    """
    with open(path, "rb") as f:
        head = f.read(40)
        size = path.stat().st_size
        kind, declared = None, None
        if head[8:12] == b"WAVE" and head[:4] in (b"RIFF", b"RF64"):
            kind, declared = "WAV", _wav_data_end(path, f, head)
        elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            kind, declared = "AIFF", _chunk_end(path, f, b"SSND", "big")
        elif head[:16] == _W64_RIFF and len(head) >= 24:
            kind, declared = "Wave64", int.from_bytes(head[16:24], "little")
    if declared is not None and declared > size:
        raise PipelineError(f"{path}: truncated {kind} (the header declares {declared} bytes, "
                            f"{size} present)")


def _chunk_end(path: Path, f, name: bytes, byteorder: str) -> int | None:
    """End offset that the header of chunk ``name`` declares (file position after its header).

    ``None`` when the size is left open (streaming writers).
    """
    f.seek(12)
    while True:
        chunk = f.read(8)
        if len(chunk) < 8:
            raise PipelineError(f"{path}: truncated audio file (no {name.decode()} chunk)")
        chunk_size = int.from_bytes(chunk[4:], byteorder)
        if chunk[:4] == name:
            return None if chunk_size in _RIFF_UNKNOWN_SIZES else f.tell() + chunk_size
        f.seek(chunk_size + (chunk_size & 1), 1)


def _wav_data_end(path: Path, f, head: bytes) -> int | None:
    """Declared end of a WAV's data chunk; RF64 keeps the real size in its ``ds64`` chunk."""
    if head[:4] == b"RIFF":
        return _chunk_end(path, f, b"data", "little")
    if head[12:16] != b"ds64" or len(head) < 36:
        raise PipelineError(f"{path}: RF64 file without a ds64 chunk")
    data_size = int.from_bytes(head[28:36], "little")
    _chunk_end(path, f, b"data", "little")
    return f.tell() + data_size


def hop_rate(sr: int, target_sr: int, rate: float) -> tuple[float, int, bool]:
    """The analysis rate nearest ``target_sr`` at which ``rate`` steps per second are whole.

    Returns
    -------
    new_sr : float
        ``hop * rate``.
    hop : int
        Samples per step at ``new_sr``.
    resample : bool
        Whether a signal at ``sr`` must be resampled (soxr, ``HQ``) to ``new_sr``.
    """
    hop = max(1, round(target_sr / rate))
    new_sr = hop * rate
    return new_sr, hop, not np.isclose(new_sr, sr)


def _resample_to_hop(signal: np.ndarray, sr: int, target_sr: int, rate: float):
    """Resample (soxr, high quality) to the rate nearest ``target_sr`` with a whole-sample hop."""
    new_sr, hop, resample = hop_rate(sr, target_sr, rate)
    if resample:
        signal = soxr.resample(signal, sr, new_sr, quality="HQ")
    return signal, new_sr, hop


def _fit(frames: np.ndarray, n: int) -> np.ndarray:
    """Trim or edge-pad a ``(m, F)`` array to exactly ``n`` rows."""
    if len(frames) >= n:
        return frames[:n]
    return np.concatenate([frames, np.repeat(frames[-1:], n - len(frames), axis=0)])


# --------------------------------------------------------------------------------------------
# Extractors


def check_mfcc_rate(name: str) -> str:
    """``name`` if it is one of :data:`MFCC_RATES`, else a one-line error."""
    if name not in MFCC_RATES:
        raise PipelineError(f"--mfcc-rate {name!r}: expected one of {', '.join(MFCC_RATES)}")
    return name


@contextmanager
def psf_truncation_notice_off():
    """python_speech_features logs a warning on every call whose frames exceed ``nfft``.

    Truncating them is the recipe (a 20 ms frame is 882 samples at 44.1 kHz, the FFT 512), so
    the notice (through the deprecated ``logging.warn``) is silenced while the MFCC run.
    """
    root = logging.getLogger()

    def drop(record):
        return "frame will be truncated" not in record.getMessage()

    root.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        root.removeFilter(drop)


def mfcc(signal: np.ndarray, sr: int, *, fps: float, rate: str = MFCC_RATES[0]) -> np.ndarray:
    """IVA'19 MFCC features ``(n_frames, 26)`` at ``fps``.

    python_speech_features ``mfcc(winlen=0.02, numcep=26, nfilt=26, nfft=512)`` at
    ``MFCC.subframes`` steps per output frame (10 ms at 20 fps), averaged in groups of
    ``MFCC.subframes``: the original's 100 Hz MFCCs averaged by 5.

    Parameters
    ----------
    signal : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int
        Their rate.
    fps : float
        Output frame rate.
    rate : str
        ``native`` (at ``sr``, the original) or ``16k`` (resampled first): :data:`MFCC_RATES`.

    Returns
    -------
    np.ndarray [shape=(frame_count(n / sr, fps), 26)]
    """
    n = frame_count(len(signal) / sr, fps)
    steps = MFCC.subframes * fps
    if check_mfcc_rate(rate) == "native":
        sr_eff, winstep = sr, 1.0 / steps
    else:
        signal, sr_eff, hop = _resample_to_hop(signal, sr, MFCC.sr, steps)
        winstep = hop / sr_eff
    with psf_truncation_notice_off():
        feats = psf_mfcc(signal, samplerate=sr_eff, winlen=MFCC.winlen, winstep=winstep,
                         numcep=MFCC.numcep, nfilt=MFCC.nfilt, nfft=MFCC.nfft)
    feats = _fit(feats, n * MFCC.subframes)
    return feats.reshape(n, MFCC.subframes, -1).mean(axis=1)


def log_mel(signal: np.ndarray, sr: int, *, fps: float, preset: str = "iva19") -> np.ndarray:
    """Log-mel power spectrogram ``(n_frames, n_mels)`` at ``fps`` with a named preset."""
    settings = MEL_PRESETS[_preset(preset)]
    n = frame_count(len(signal) / sr, fps)
    signal, sr_eff, hop = _resample_to_hop(signal, sr, settings.sr, fps)
    mel = librosa.feature.melspectrogram(
        y=signal, sr=sr_eff, n_fft=settings.n_fft, hop_length=hop, n_mels=settings.n_mels,
        fmin=settings.fmin, fmax=settings.fmax,
    )
    return _fit(np.log(mel + settings.log_eps).T, n)


def prosody(signal: np.ndarray, sr: int, *, fps: float) -> np.ndarray:
    """IVA'19 prosody ``(n_frames, 4)``: energy, its derivative, pitch, its derivative.

    Praat pitch (floor 75 Hz) and intensity at ``PROSODY.subframes`` steps per frame (5 ms at
    20 fps), sampled at ``(j + 0.5) step`` (:func:`prosody_steps`), averaged per output frame.
    """
    n = frame_count(len(signal) / sr, fps)
    step = 1.0 / (PROSODY.subframes * fps)
    grid = (np.arange(n * PROSODY.subframes) + 0.5) * step
    feats = prosody_steps(parselmouth.Sound(signal, sampling_frequency=sr), grid, step=step)
    return feats.reshape(n, PROSODY.subframes, 4).mean(axis=1)


def prosody_steps(sound: parselmouth.Sound, times: np.ndarray, *, step: float,
                  previous: np.ndarray | None = None) -> np.ndarray:
    """Energy, d energy, pitch, d pitch ``(m, 4)`` of ``sound`` at the times ``times`` ``(m,)``.

    Praat pitch (floor 75 Hz; 0 when unvoiced and outside the pitch frames) and intensity (dB)
    interpolated at ``times`` (seconds, on the sound's time axis), then
    ``pitch = max(log(f0 + 1) - 4, 0)`` and ``energy = max(log(intensity_dB) - 3, 0)``; the
    derivatives are first differences per millisecond of steps ``step`` seconds apart, the
    first one against ``previous`` ``(2,)`` (energy, pitch at the step before ``times[0]``:
    a stream's last step) or 0 when it is ``None`` (the start of the signal).
    """
    pitch = sound.to_pitch(time_step=step, pitch_floor=PROSODY.pitch_floor)
    f0 = np.interp(times, pitch.xs(), pitch.selected_array["frequency"], left=0.0, right=0.0)
    intensity = sound.to_intensity(minimum_pitch=PROSODY.pitch_floor, time_step=step)
    db = np.interp(times, intensity.xs(), intensity.values[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        energy = np.log(np.where(db > 1.0, db, 1.0)) - PROSODY.energy_shift
    pitch_v = np.log(f0 + 1.0) - PROSODY.pitch_shift
    curves = np.clip(np.stack([energy, pitch_v], axis=1), 0.0, None)
    before = curves[:1] if previous is None else np.reshape(previous, (1, 2))
    deltas = np.diff(curves, axis=0, prepend=before) / (step * 1000.0)
    return np.stack([curves[:, 0], deltas[:, 0], curves[:, 1], deltas[:, 1]], axis=1)


def speech_features(
    signal: np.ndarray, sr: int, feature_set: str, *, fps: float, mel_preset: str = "iva19",
    mfcc_rate: str = MFCC_RATES[0],
) -> np.ndarray:
    """Features of a named set, ``(n_frames, feature_size(feature_set))`` float32 at ``fps``.

    ``mfcc_rate`` selects the MFCC's sample rate (:data:`MFCC_RATES`).
    """
    parts = _parts(feature_set)
    blocks = {
        "mfcc": lambda: mfcc(signal, sr, fps=fps, rate=mfcc_rate),
        "logmel": lambda: log_mel(signal, sr, fps=fps, preset=mel_preset),
        "prosody": lambda: prosody(signal, sr, fps=fps),
    }
    return np.concatenate([blocks[p]() for p in parts], axis=1).astype(np.float32)


def file_features(path, feature_set: str, *, fps: float, mel_preset: str = "iva19",
                  mfcc_rate: str = MFCC_RATES[0]) -> np.ndarray:
    """:func:`load_audio` + :func:`speech_features`; errors name the file."""
    signal, sr = load_audio(path)
    if frame_count(len(signal) / sr, fps) < 1:
        raise PipelineError(f"{path}: {len(signal) / sr:.3f} s of audio make no frame at "
                            f"{fps:g} fps")
    return speech_features(signal, sr, feature_set, fps=fps, mel_preset=mel_preset,
                           mfcc_rate=mfcc_rate)


def silence_frame(feature_set: str, *, fps: float, mel_preset: str = "iva19") -> np.ndarray:
    """The feature vector of digital silence, used to pad context windows (as IVA'19).

    The same for either MFCC rate: every frame of zeros has the floor energy in every band.
    """
    silence = np.zeros(16000)
    feats = speech_features(silence, 16000, feature_set, fps=fps, mel_preset=mel_preset)
    return feats[len(feats) // 2]


def context_window_view(features: np.ndarray, silence: np.ndarray, n_context: int) -> np.ndarray:
    """Centred windows ``(T, n_context + 1, F)`` over ``features`` ``(T, F)``, silence-padded.

    A read-only view into one padded copy of ``features`` (no per-frame Python loop), so that
    windows of a long recording can be copied batch by batch with bounded memory.
    """
    half = n_context // 2
    pad = np.repeat(silence[None, :].astype(features.dtype), half, axis=0)
    padded = np.concatenate([pad, features, pad])
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_context + 1, axis=0)
    return windows.transpose(0, 2, 1)


def context_windows(features: np.ndarray, silence: np.ndarray, n_context: int) -> np.ndarray:
    """:func:`context_window_view` as one contiguous array."""
    return np.ascontiguousarray(context_window_view(features, silence, n_context))
