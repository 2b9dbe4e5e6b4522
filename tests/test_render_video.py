import imageio_ffmpeg
import numpy as np
import pytest
import soundfile

from data_processing.bvh import read_bvh
from data_processing.files import PipelineError
from data_processing.kinematics import frame_count
from data_processing.representations import pos_vel, rot6d_vector
from helpers import render_video
from tests.test_motion import make_data_dir

SMALL = ["--size", "96", "96", "--no-progress"]


@pytest.fixture
def speech(tmp_path):
    """2.53 s of a voiced tone at 16 kHz (not a whole number of video frames)."""
    sr = 16000
    t = np.arange(int(2.53 * sr)) / sr
    path = tmp_path / "speech.wav"
    soundfile.write(path, 0.3 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t)),
                    sr, subtype="PCM_16")
    return path


@pytest.fixture
def demo_bvh(demo_raw):
    return sorted((demo_raw / "motion").glob("*.bvh"))[0]


def test_duration_equals_the_audio_with_an_audio_stream(speech, demo_bvh, tmp_path):
    out = tmp_path / "one.mp4"
    assert render_video.main([str(demo_bvh), "--audio", str(speech), "--out", str(out),
                              "--fps", "20", *SMALL]) == 0
    info = render_video.probe(out)
    assert info.has_video
    assert info.has_audio
    assert info.duration == pytest.approx(2.53, abs=1 / 20)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert frames == frame_count(2.53, 20) == 51
    assert seconds == pytest.approx(2.53, abs=1 / 20)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial")] == []


def test_several_panels_of_every_kind(speech, demo_bvh, tmp_path):
    motion = read_bvh(demo_bvh)
    skel = motion.skeleton
    at20, at30 = motion.resample(20.0), motion.resample(30.0)
    data = make_data_dir(tmp_path / "iva19", skel, fps=20.0, motion="pos_vel")
    np.save(tmp_path / "positions.npy", at20.positions(pin_root=True).reshape(at20.n_frames, -1))
    np.save(tmp_path / "pos_vel.npy", pos_vel(at20.positions(pin_root=True)))
    np.save(tmp_path / "rot6d.npy", rot6d_vector(at20))
    panels = [str(demo_bvh)] + [str(tmp_path / f"{k}.npy") for k in ("positions", "pos_vel",
                                                                       "rot6d")]
    out = tmp_path / "four.mp4"
    render_video.main([*panels, "--data", str(data), "--audio", str(speech), "--out", str(out),
                       "--titles", "truth", "positions", "pos_vel", "rot6d", *SMALL])
    info = render_video.probe(out)
    assert info.size == (4 * 96, 96)
    assert info.fps == 20.0  # the lowest rate of the motions (60 fps BVH, 20 fps arrays)
    assert info.duration == pytest.approx(2.53, abs=1 / 20)
    assert info.has_audio
    # a BVH panel at another rate is sampled at the video's times
    panel = render_video.load_panel(demo_bvh)
    np.testing.assert_allclose(panel.at(np.arange(10) / 30), at30.positions()[:10], atol=1e-6)


def test_excerpt_cuts_audio_and_motion_together(demo_raw, demo_bvh, tmp_path):
    wav = demo_raw / "speech" / f"{demo_bvh.stem}.wav"
    out = tmp_path / "excerpt.mp4"
    report = render_video.render_video([render_video.load_panel(demo_bvh)], out, audio=wav,
                                       fps=20, start=5.0, duration=2.0, size=(96, 96),
                                       progress=False)
    assert report.frames == 40
    assert render_video.probe(out).duration == pytest.approx(2.0, abs=1 / 20)


def test_short_motion_holds_its_last_pose(speech, tmp_path):
    positions = np.random.default_rng(0).normal(size=(10, 3, 3))  # 0.5 s at 20 fps
    panel = render_video.Panel(positions, np.array([-1, 0, 1]), 20.0, "short")
    np.testing.assert_allclose(panel.at(np.array([0.45, 1.0, 2.5])), positions[[9, 9, 9]])
    np.testing.assert_allclose(panel.at(np.array([0.025]))[0], positions[:2].mean(0))
    out = tmp_path / "short.mp4"
    render_video.render_video([panel], out, audio=speech, size=(64, 64), progress=False)
    assert render_video.probe(out).duration == pytest.approx(2.53, abs=1 / 20)


def test_missing_file_is_a_one_line_error_and_writes_nothing(speech, demo_bvh, tmp_path):
    out = tmp_path / "none.mp4"
    with pytest.raises(PipelineError, match=r"missing\.bvh: no such file"):
        render_video.main([str(demo_bvh), str(tmp_path / "missing.bvh"), "--audio", str(speech),
                           "--out", str(out), *SMALL])
    with pytest.raises(PipelineError, match=r"nope\.wav: no such file"):
        render_video.main([str(demo_bvh), "--audio", str(tmp_path / "nope.wav"), "--out",
                           str(out), *SMALL])
    assert list(tmp_path.glob("*.mp4")) == []
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".partial")] == []


def test_different_skeleton_widths_are_an_error(speech, demo_bvh, tmp_path):
    motion = read_bvh(demo_bvh).resample(20.0)
    data = make_data_dir(tmp_path / "iva19", motion.skeleton, fps=20.0, motion="pos_vel")
    positions = motion.positions(pin_root=True).reshape(motion.n_frames, -1)
    np.save(tmp_path / "good.npy", positions)
    np.save(tmp_path / "other.npy", positions[:, :-6])  # two joints fewer
    out = tmp_path / "bad.mp4"
    with pytest.raises(PipelineError, match=r"other\.npy: 42 values per frame, expected 48"):
        render_video.main([str(tmp_path / "good.npy"), str(tmp_path / "other.npy"), "--data",
                           str(data), "--audio", str(speech), "--out", str(out), *SMALL])
    with pytest.raises(PipelineError, match="give --data"):
        render_video.main([str(tmp_path / "good.npy"), "--audio", str(speech), "--out",
                           str(out), *SMALL])
    with pytest.raises(PipelineError, match="2 titles for 1 motions"):
        render_video.main([str(demo_bvh), "--titles", "a", "b", "--out", str(out), *SMALL])
    assert not out.exists()


def test_a_failure_mid_render_leaves_no_file(speech, demo_bvh, tmp_path, monkeypatch):
    real = render_video._Figure.frame
    calls = []

    def failing(self, seconds):
        calls.append(seconds)
        if len(calls) > 3:
            raise PipelineError("boom")
        return real(self, seconds)

    monkeypatch.setattr(render_video._Figure, "frame", failing)
    with pytest.raises(PipelineError, match="boom"):
        render_video.render_video([render_video.load_panel(demo_bvh)], tmp_path / "x.mp4",
                                  audio=speech, fps=20, size=(64, 64), progress=False)
    assert list(tmp_path.iterdir()) == [speech]
