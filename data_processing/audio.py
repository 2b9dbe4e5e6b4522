"""Speech features at a target frame rate: MFCC, log-mel, prosody, and the IVA'19 combinations.

Frame convention: a signal of ``S`` samples at ``sr`` Hz gives
``kinematics.frame_count(S / sr, fps)`` feature frames, frame ``i`` describing the audio around
``t = i / fps``, exactly as many as motion frames of the same duration at the same fps.

To keep features aligned over files of any length, each extractor resamples the signal to the
nearest rate at which its hop is a whole number of samples (e.g. 16 000 -> 15 990 Hz for a
533-sample hop at 30 fps), so frame ``i`` never drifts from ``i / fps``.

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
    """IVA'19 MFCC: python_speech_features with these constants, sub-frames averaged."""

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


def load_audio(path) -> tuple[np.ndarray, int]:
    """Read an audio file (any rate, channel count and sample format) as a mono float signal.

    Returns
    -------
    signal : np.ndarray [shape=(n,), dtype=float64]
        Mean of the channels, in [-1, 1].
    sr : int
        The file's sample rate.

    Raises
    ------
    PipelineError
        Missing, unreadable, truncated, empty, too short or all-silent audio.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    _check_riff_length(path)
    try:
        data, sr = soundfile.read(path, dtype="float64", always_2d=True)
    except soundfile.SoundFileError as error:
        raise PipelineError(f"{path}: not a readable audio file ({error})") from None
    signal = data.mean(axis=1)
    if signal.size == 0:
        raise PipelineError(f"{path}: empty audio (0 samples)")
    if signal.size < MIN_DURATION * sr:
        duration = signal.size / sr
        raise PipelineError(f"{path}: audio too short ({duration:.3f} s < {MIN_DURATION} s)")
    if not np.isfinite(signal).all():
        raise PipelineError(f"{path}: audio contains NaN or infinite samples")
    if np.max(np.abs(signal)) < SILENCE_PEAK:
        raise PipelineError(f"{path}: all-silent audio (peak below {SILENCE_PEAK:g})")
    return signal, int(sr)


def _check_riff_length(path: Path) -> None:
    """Reject a WAV whose data chunk is shorter than its header says (libsndfile reads it)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not RIFF/WAVE: left to soundfile
        size = path.stat().st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                raise PipelineError(f"{path}: truncated WAV (no data chunk)")
            chunk_size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                declared_end = f.tell() + chunk_size
                if chunk_size not in (0, 0xFFFFFFFF) and declared_end > size:
                    raise PipelineError(
                        f"{path}: truncated WAV (data chunk declares {chunk_size} bytes, "
                        f"{size - f.tell()} present)"
                    )
                return
            f.seek(chunk_size + (chunk_size & 1), 1)


def _resample_to_hop(signal: np.ndarray, sr: int, target_sr: int, rate: float):
    """Resample (soxr, high quality) to the rate nearest ``target_sr`` with a whole-sample hop."""
    hop = max(1, round(target_sr / rate))
    new_sr = hop * rate
    if not np.isclose(new_sr, sr):
        signal = soxr.resample(signal, sr, new_sr, quality="HQ")
    return signal, new_sr, hop


def _fit(frames: np.ndarray, n: int) -> np.ndarray:
    """Trim or edge-pad a ``(m, F)`` array to exactly ``n`` rows."""
    if len(frames) >= n:
        return frames[:n]
    return np.concatenate([frames, np.repeat(frames[-1:], n - len(frames), axis=0)])


# --------------------------------------------------------------------------------------------
# Extractors


def mfcc(signal: np.ndarray, sr: int, *, fps: float) -> np.ndarray:
    """IVA'19 MFCC features ``(n_frames, 26)`` at ``fps``.

    python_speech_features ``mfcc(winlen=0.02, numcep=26, nfft=512)`` at ``MFCC.subframes``
    steps per output frame (10 ms at 20 fps), averaged in groups: the original's 100 Hz
    MFCCs averaged by 5.
    """
    n = frame_count(len(signal) / sr, fps)
    rate = MFCC.subframes * fps
    signal, sr_eff, hop = _resample_to_hop(signal, sr, MFCC.sr, rate)
    feats = psf_mfcc(
        signal, samplerate=sr_eff, winlen=MFCC.winlen, winstep=hop / sr_eff, numcep=MFCC.numcep,
        nfilt=MFCC.nfilt, nfft=MFCC.nfft,
    )
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
    20 fps), ``pitch = max(log(f0 + 1) - 4, 0)`` (0 when unvoiced),
    ``energy = max(log(intensity_dB) - 3, 0)``; derivatives are first differences per
    millisecond (0 at the first step), then everything is averaged per output frame.
    """
    n = frame_count(len(signal) / sr, fps)
    step = 1.0 / (PROSODY.subframes * fps)
    grid = (np.arange(n * PROSODY.subframes) + 0.5) * step
    sound = parselmouth.Sound(signal, sampling_frequency=sr)
    pitch = sound.to_pitch(time_step=step, pitch_floor=PROSODY.pitch_floor)
    f0 = np.interp(grid, pitch.xs(), pitch.selected_array["frequency"], left=0.0, right=0.0)
    intensity = sound.to_intensity(minimum_pitch=PROSODY.pitch_floor, time_step=step)
    db = np.interp(grid, intensity.xs(), intensity.values[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        energy = np.log(np.where(db > 1.0, db, 1.0)) - PROSODY.energy_shift
    pitch_v = np.log(f0 + 1.0) - PROSODY.pitch_shift
    curves = np.clip(np.stack([energy, pitch_v], axis=1), 0.0, None)
    deltas = np.diff(curves, axis=0, prepend=curves[:1]) / (step * 1000.0)
    feats = np.stack([curves[:, 0], deltas[:, 0], curves[:, 1], deltas[:, 1]], axis=1)
    return feats.reshape(n, PROSODY.subframes, 4).mean(axis=1)


def speech_features(
    signal: np.ndarray, sr: int, feature_set: str, *, fps: float, mel_preset: str = "iva19"
) -> np.ndarray:
    """Features of a named set, ``(n_frames, feature_size(feature_set))`` float32 at ``fps``."""
    parts = _parts(feature_set)
    blocks = {
        "mfcc": lambda: mfcc(signal, sr, fps=fps),
        "logmel": lambda: log_mel(signal, sr, fps=fps, preset=mel_preset),
        "prosody": lambda: prosody(signal, sr, fps=fps),
    }
    return np.concatenate([blocks[p]() for p in parts], axis=1).astype(np.float32)


def file_features(path, feature_set: str, *, fps: float, mel_preset: str = "iva19") -> np.ndarray:
    """:func:`load_audio` + :func:`speech_features`; errors name the file."""
    signal, sr = load_audio(path)
    return speech_features(signal, sr, feature_set, fps=fps, mel_preset=mel_preset)


def silence_frame(feature_set: str, *, fps: float, mel_preset: str = "iva19") -> np.ndarray:
    """The feature vector of digital silence, used to pad context windows (as IVA'19)."""
    silence = np.zeros(16000)
    feats = speech_features(silence, 16000, feature_set, fps=fps, mel_preset=mel_preset)
    return feats[len(feats) // 2]
