import numpy as np
import pytest
import soundfile
from python_speech_features import mfcc as psf_mfcc

from data_processing import audio
from data_processing.bvh import read_bvh
from data_processing.files import PipelineError
from data_processing.kinematics import frame_count

SIZES = {"MFCC": 26, "Pros": 4, "MFCC+Pros": 30, "Spectro": 64, "Spectro+Pros": 68,
         "MFCC+Spectro": 90, "MFCC+Spectro+Pros": 94}


def speechlike(sr, seconds, rng):
    t = np.arange(int(sr * seconds)) / sr
    voiced = np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)
    return 0.3 * voiced + 0.01 * rng.standard_normal(len(t))


@pytest.mark.parametrize("name", list(SIZES))
@pytest.mark.parametrize(("sr", "fps", "seconds"), [(16000, 20, 3.0), (44100, 30, 2.37),
                                                    (8000, 20, 1.01), (48000, 30, 1.5)])
def test_feature_shapes(name, sr, fps, seconds, rng):
    feats = audio.speech_features(speechlike(sr, seconds, rng), sr, name, fps=fps)
    assert feats.shape == (frame_count(seconds, fps), SIZES[name])
    assert feats.dtype == np.float32
    assert np.isfinite(feats).all()
    assert audio.feature_size(name) == SIZES[name]


def test_mfcc_is_the_iva19_average_of_five(rng):
    x = speechlike(16000, 2.0, rng)
    raw = psf_mfcc(x, samplerate=16000, winlen=0.02, winstep=0.01, numcep=26, nfft=512)
    ours = audio.mfcc(x, 16000, fps=20)
    n = len(raw) // 5
    np.testing.assert_allclose(ours[:n], raw[: 5 * n].reshape(n, 5, 26).mean(1), rtol=1e-6)


@pytest.mark.parametrize("sr", [44100, 16000])
def test_native_rate_mfcc_is_the_original_calculate_mfcc(sr, rng):
    """The default: python_speech_features at the file's rate with the original's literals."""
    x = speechlike(sr, 1.5, rng)
    raw = psf_mfcc(x, winlen=0.02, winstep=0.01, samplerate=sr, numcep=26)  # tools.py
    n = len(raw) // 5
    expected = raw[: 5 * n].reshape(n, 5, 26).mean(1)  # tools.average(..., 5)
    ours = audio.mfcc(x, sr, fps=20)
    assert ours.shape == (frame_count(1.5, 20), 26)  # the last frame is edge-padded
    np.testing.assert_allclose(ours[:n], expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(audio.speech_features(x, sr, "MFCC", fps=20)[:n], expected,
                               rtol=1e-5, atol=1e-4)  # float32


def test_the_16k_option_resamples_first(rng):
    x = speechlike(44100, 1.5, rng)
    resampled = audio.mfcc(x, 44100, fps=20, rate="16k")
    import soxr

    y = soxr.resample(x, 44100, 16000, quality="HQ")
    raw = psf_mfcc(y, samplerate=16000, winlen=0.02, winstep=0.01, numcep=26, nfft=512)
    np.testing.assert_allclose(resampled[:29], raw[:145].reshape(29, 5, 26).mean(1),
                               rtol=1e-6, atol=1e-9)
    assert not np.allclose(resampled, audio.mfcc(x, 44100, fps=20))  # 882-sample frames cut
    z = speechlike(16000, 1.0, rng)  # 16 kHz audio: both options agree
    np.testing.assert_array_equal(audio.mfcc(z, 16000, fps=20, rate="16k"),
                                  audio.mfcc(z, 16000, fps=20))
    with pytest.raises(PipelineError, match="--mfcc-rate '8k': expected one of native, 16k"):
        audio.mfcc(z, 16000, fps=20, rate="8k")


def test_log_mel_peaks_at_a_tone(rng):
    sr = 22050
    t = np.arange(sr) / sr
    feats = audio.log_mel(0.5 * np.sin(2 * np.pi * 1000 * t), sr, fps=20, preset="iva19")
    import librosa

    centres = librosa.mel_frequencies(n_mels=66, fmin=100, fmax=7500)[1:-1]
    peak = centres[np.argmax(feats[5:-5].mean(0))]
    assert 850 < peak < 1150


def test_log_mel_presets_differ():
    assert audio.MEL_PRESETS["iva19"].sr == 22050
    assert audio.MEL_PRESETS["a2g"].sr == 16000
    x = np.random.default_rng(0).standard_normal(16000) * 0.1
    a = audio.log_mel(x, 16000, fps=30, preset="a2g")
    b = audio.log_mel(x, 16000, fps=30, preset="iva19")
    assert a.shape == b.shape == (30, 64)
    assert not np.allclose(a, b)


def test_prosody_known_answers():
    sr = 16000
    t = np.arange(2 * sr) / sr
    tone = 0.5 * np.sin(2 * np.pi * 200 * t)
    pros = audio.prosody(tone, sr, fps=20)
    middle = pros[5:-5]
    np.testing.assert_allclose(middle[:, 2], np.log(201) - 4, atol=0.02)  # pitch of 200 Hz
    assert (middle[:, 0] > 0.5).all()  # energy of a loud tone
    np.testing.assert_allclose(middle[:, [1, 3]], 0, atol=1e-3)  # steady: no derivatives
    silence = audio.prosody(np.zeros(sr), sr, fps=20)
    np.testing.assert_array_equal(silence, 0)


def test_audio_and_motion_frames_match(demo_raw):
    wav = demo_raw / "speech" / "demo_000.wav"
    motion = read_bvh(demo_raw / "motion" / "demo_000.bvh")
    for fps in (20, 30):
        feats = audio.file_features(wav, "MFCC+Spectro+Pros", fps=fps)
        assert len(feats) == motion.resample(fps).n_frames


def test_load_audio_mixes_channels_and_formats(tmp_path, rng):
    left = rng.uniform(-0.5, 0.5, 8000)
    stereo = np.stack([left, -left * 0.5], axis=1)
    soundfile.write(tmp_path / "s.wav", stereo, 8000, subtype="PCM_24")
    signal, sr = audio.load_audio(tmp_path / "s.wav")
    assert sr == 8000
    np.testing.assert_allclose(signal, left * 0.25, atol=1e-5)


def _write(path, data, sr=16000, subtype="PCM_16"):
    soundfile.write(path, data, sr, subtype=subtype)
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.write_bytes(b"not audio at all" * 20), "not a readable audio file"),
        (lambda p: p.write_bytes(_write(p, np.full(16000, 0.3)).read_bytes()[:8000]),
         "truncated WAV"),
        (lambda p: _write(p, np.zeros(0)), "empty audio"),
        (lambda p: _write(p, np.zeros(16000)), "all-silent"),
        (lambda p: _write(p, np.full(160, 0.3)), "too short"),
    ],
)
def test_bad_audio_names_the_file(tmp_path, make, problem):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(PipelineError, match=problem) as info:
        audio.load_audio(path)
    assert str(info.value).startswith(str(path))


def test_unknown_feature_set():
    with pytest.raises(ValueError, match="Expected a feature set"):
        audio.feature_size("MFCC+Spectrogram")
