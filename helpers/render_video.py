"""Render motions side by side as 3D stick figures, with the speech, to an ``.mp4``.

Usage::

    python helpers/render_video.py MOTION [MOTION ...] --audio SPEECH.wav --out OUT.mp4
        [--data DATA_DIR] [--titles T ...] [--fps FPS] [--start S] [--duration D]
        [--size W H] [--view ELEV AZIM]

Each ``MOTION`` is a panel: a ``.bvh`` file (its own skeleton and frame rate), or, with
``--data``, an array ``.npy``/``.txt`` on the dataset's skeleton at its frame rate (positions
``(T, 3 J)``, ``pos_vel`` ``(T, 6 J)`` or ``rot6d`` ``(T, 6 R + 3)``, told by the width), or a
dataset sequence ``sequences/<split>/<id>.npz`` (its ground-truth positions).

The video lasts exactly as long as the audio (or its ``--start``/``--duration`` excerpt):
``frame_count(duration, fps)`` frames; a motion shorter than that holds its last pose, a longer
one is cut. Motions are sampled at the video's times (linear interpolation between frames),
so panels of different frame rates stay in step. All panels share one view and one scale
(each is centred on its own figure, so root-pinned and translated motions both fit).

ffmpeg is the one bundled with the ``imageio-ffmpeg`` package; frames are drawn with
matplotlib (Agg): the figure is built once, the static parts are drawn once and only the
bones are redrawn per frame (blitting).
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile

from data_processing.audio import load_audio
from data_processing.bvh import joint_side
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, atomic_path, run_cli
from data_processing.kinematics import frame_count
from data_processing.motion import load_motion

log = logging.getLogger(__name__)

DPI = 100
MACRO_BLOCK = 16  # video sizes are rounded up to multiples of this (H.264 players)
COLORS = {"left": "#1f77b4", "right": "#d62728", "centre": "#303030"}


@dataclass
class Panel:
    """One motion to show.

    Parameters
    ----------
    positions : np.ndarray [shape=(T, J, 3)]
        Global joint positions (Y up, as in BVH).
    parents : np.ndarray [shape=(J,), dtype=int]
        Parent of each joint (bones are drawn from parent to child).
    fps : float
        Frame rate of ``positions``.
    title : str
        Shown above the panel.
    names : tuple of str, optional
        Joint names; ``left``/``right`` (or ``_l_``/``_r_``) in a name colours its bone.
    """

    positions: np.ndarray
    parents: np.ndarray
    fps: float
    title: str
    names: tuple[str, ...] | None = None

    @property
    def duration(self) -> float:
        """Seconds of motion."""
        return len(self.positions) / self.fps

    def at(self, seconds: np.ndarray) -> np.ndarray:
        """Positions at the given times, interpolated; past the end the last pose holds."""
        index = np.clip(np.asarray(seconds) * self.fps, 0, len(self.positions) - 1)
        i0 = np.floor(index).astype(np.int64)
        i1 = np.minimum(i0 + 1, len(self.positions) - 1)
        alpha = (index - i0)[..., None, None]
        return (1.0 - alpha) * self.positions[i0] + alpha * self.positions[i1]


def load_panel(path, *, meta: DatasetMeta | None = None, title: str | None = None,
               representation: str = "auto") -> Panel:
    """Read one motion file as a :class:`Panel` (:func:`data_processing.motion.load_motion`)."""
    path = Path(path)
    if path.suffix != ".bvh" and meta is None:
        raise PipelineError(f"{path}: an array needs the dataset's skeleton (give --data)")
    motion = load_motion(path, dataset=meta, kind=representation)
    return Panel(motion.positions, motion.skeleton.parents, motion.fps,
                 path.stem if title is None else title, motion.skeleton.names)


def _to_plot(positions: np.ndarray) -> np.ndarray:
    """BVH axes (Y up, Z towards the viewer) to matplotlib's (Z up): ``(x, -z, y)``, a rotation."""
    return np.stack([positions[..., 0], -positions[..., 2], positions[..., 1]], axis=-1)


class MediaInfo(NamedTuple):
    """What ffmpeg reports about a media file."""

    duration: float
    has_video: bool
    has_audio: bool
    fps: float | None
    size: tuple[int, int] | None


def probe(path) -> MediaInfo:
    """Duration and streams of a media file, read with the bundled ffmpeg (``ffmpeg -i``)."""
    import imageio_ffmpeg

    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                            capture_output=True, text=True, check=False)
    text = result.stderr
    match = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if match is None:
        raise PipelineError(f"{path}: not a media file ffmpeg can read")
    hours, minutes, seconds = match.groups()
    fps = re.search(r"Video:.*?(\d+(?:\.\d+)?) fps", text)
    size = re.search(r"Video:.*?, (\d+)x(\d+)", text)
    return MediaInfo(int(hours) * 3600 + int(minutes) * 60 + float(seconds),
                     bool(re.search(r"Stream #.*Video:", text)),
                     bool(re.search(r"Stream #.*Audio:", text)),
                     float(fps.group(1)) if fps else None,
                     (int(size.group(1)), int(size.group(2))) if size else None)


class RenderReport(NamedTuple):
    """What :func:`render_video` wrote."""

    path: Path
    frames: int
    fps: float
    duration: float
    seconds: float  # wall-clock time of the render

    @property
    def frames_per_second(self) -> float:
        """Render speed (frames written per wall-clock second)."""
        return self.frames / max(self.seconds, 1e-9)


class _Figure:
    """The figure, built once; :meth:`frame` redraws only the bones."""

    def __init__(self, panels: list[Panel], times: np.ndarray, *, size: tuple[int, int],
                 view: tuple[float, float]):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from mpl_toolkits.mplot3d import Axes3D  # noqa: F401 (registers the projection)
        from mpl_toolkits.mplot3d.art3d import Line3DCollection

        width = _round_up(size[0], MACRO_BLOCK)
        height = _round_up(size[1], MACRO_BLOCK)
        self.size = (width * len(panels), height)
        self.figure = Figure(figsize=(self.size[0] / DPI, height / DPI), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.0, right=1.0, bottom=0.0, top=0.93, wspace=0.0)
        self.panels = panels
        centres, half, floors = _limits(panels, times)
        self.axes, self.artists, self.bones = [], [], []
        for i, panel in enumerate(panels):
            ax = self.figure.add_subplot(1, len(panels), i + 1, projection="3d")
            for axis, centre in zip("xyz", centres[i]):
                getattr(ax, f"set_{axis}lim")(centre - half, centre + half)
            ax.set_box_aspect((1, 1, 1), zoom=1.25)
            ax.view_init(elev=view[0], azim=view[1])
            ax.set_axis_off()  # the floor grid instead of matplotlib's panes
            ax.set_title(panel.title, fontsize=max(8, height // 36), pad=0)
            children = np.flatnonzero(panel.parents >= 0)
            names = panel.names or ("",) * len(panel.parents)
            colors = [COLORS[joint_side(names[c])] for c in children]
            _draw_floor(ax, centres[i], half, floors[i])
            width = max(3.0, height / 90)
            lines = Line3DCollection(np.zeros((len(children), 2, 3)), colors=colors,
                                     linewidths=width, animated=True, capstyle="round")
            ax.add_collection3d(lines)
            joints = ax.scatter(*np.zeros((3, len(panel.parents))), s=(2.2 * width) ** 2,
                                c=[COLORS[joint_side(n)] for n in names], depthshade=False,
                                edgecolors="#202020", linewidths=0.5, animated=True)
            self.axes.append(ax)
            self.artists.append((lines, joints))
            self.bones.append((panel.parents[children], children))
        self.clock = self.figure.text(0.005, 0.01, "", fontsize=max(7, height // 48),
                                      color="#606060", animated=True)
        self.canvas.draw()  # everything static, once
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)

    def frame(self, seconds: float) -> memoryview:
        """The RGBA pixels of the video frame at ``seconds`` (a view of the canvas)."""
        self.canvas.restore_region(self.background)
        for panel, ax, (bones, joints), (parents, children) in zip(
                self.panels, self.axes, self.artists, self.bones):
            pose = _to_plot(panel.at(seconds))
            bones.set_segments(np.stack([pose[parents], pose[children]], axis=1))
            bones.do_3d_projection()
            ax.draw_artist(bones)
            joints._offsets3d = tuple(pose.T)
            joints.do_3d_projection()
            ax.draw_artist(joints)
        self.clock.set_text(f"{seconds:6.2f} s")
        self.figure.draw_artist(self.clock)
        return self.canvas.buffer_rgba()


def _round_up(value: int, block: int) -> int:
    return int(-(-int(value) // block) * block)


def _limits(panels: list[Panel], times: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Panel centres (plot axes), one half-width for all, floor heights, over the shown times.

    The floor of a panel is the height of its lowest joint.
    """
    centres, halves, floors = [], [], []
    for panel in panels:
        sample = times[:: max(1, len(times) // 200)]  # enough to bound the figure
        points = _to_plot(panel.at(sample)).reshape(-1, 3)
        low, high = points.min(axis=0), points.max(axis=0)
        centres.append((low + high) / 2.0)
        halves.append((high - low).max() / 2.0)
        floors.append(low[2])
    half = max(max(halves) * 1.05, 1e-6)
    return np.array(centres), half, np.array(floors)


def _draw_floor(ax, centre: np.ndarray, half: float, floor: float, cells: int = 8) -> None:
    """A square grid under the figure at the height of its lowest joint (static)."""
    ticks = np.linspace(-half, half, cells + 1)
    for t in ticks:
        ax.plot(centre[0] + ticks[[0, -1]], [centre[1] + t] * 2, [floor] * 2, color="#c8c8c8",
                linewidth=0.6)
        ax.plot([centre[0] + t] * 2, centre[1] + ticks[[0, -1]], [floor] * 2, color="#c8c8c8",
                linewidth=0.6)


def render_video(panels: list[Panel], out_path, *, audio=None, fps: float | None = None,
                 start: float = 0.0, duration: float | None = None,
                 size: tuple[int, int] = (384, 432), view: tuple[float, float] = (12.0, -70.0),
                 progress: bool = True) -> RenderReport:
    """Render panels side by side to an ``.mp4`` with the speech muxed in (atomically).

    Parameters
    ----------
    panels : list of Panel
        The motions, left to right.
    out_path : path-like
        The ``.mp4`` to write.
    audio : path-like, optional
        Speech file; the video lasts as long as it (or its excerpt). Without it the video
        lasts as long as the longest motion.
    fps : float > 0, optional
        Video frame rate; default the lowest frame rate of the panels.
    start : float >= 0
        Seconds into the audio and motions where the video starts.
    duration : float > 0, optional
        Seconds to render from ``start`` (default: to the end of the audio).
    size : (int, int)
        Pixels of one panel (width, height), rounded up to multiples of 16.
    view : (float, float)
        Camera elevation and azimuth in degrees (matplotlib's, Z up).
    progress : bool
        Show a progress bar.
    """
    import imageio_ffmpeg
    from tqdm.auto import tqdm

    if not panels:
        raise PipelineError("no motion to render")
    if fps is None:  # the lowest motion rate, snapped to a whole number when that close
        fps = min(p.fps for p in panels)
        fps = float(round(fps)) if abs(fps - round(fps)) < 1e-3 * fps else fps
    fps = float(fps)
    if not fps > 0:
        raise PipelineError(f"expected a frame rate > 0, found {fps}")
    if start < 0 or (duration is not None and not duration > 0):
        raise PipelineError(f"expected start >= 0 and duration > 0, found {start=}, {duration=}")
    if min(size) < 32:
        raise PipelineError(f"expected a panel size of at least 32 pixels, found {size}")
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".mp4":
        raise PipelineError(f"{out_path}: expected an .mp4 output")
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="render_video_") as tmp:
        audio_path = None
        if audio is not None:
            signal, sr = load_audio(audio)
            first = int(round(start * sr))
            last = len(signal) if duration is None else min(len(signal),
                                                            first + int(round(duration * sr)))
            if first >= len(signal):
                raise PipelineError(f"{audio}: start {start:g} s is past the end of the audio "
                                    f"({len(signal) / sr:.3f} s)")
            audio_path = Path(tmp) / "speech.wav"
            soundfile.write(audio_path, signal[first:last], sr, subtype="PCM_16")
            seconds = (last - first) / sr
        else:
            longest = max(p.duration for p in panels)
            if start >= longest:
                raise PipelineError(f"start {start:g} s is past the end of the motions "
                                    f"({longest:.3f} s)")
            seconds = longest - start if duration is None else min(duration, longest - start)
        n_frames = frame_count(seconds, fps)
        if n_frames < 1:
            raise PipelineError(f"nothing to render: {seconds:.3f} s at {fps:g} fps")
        times = start + np.arange(n_frames) / fps
        figure = _Figure(panels, times, size=size, view=view)
        with atomic_path(out_path) as partial:
            writer = imageio_ffmpeg.write_frames(
                str(partial), figure.size, fps=fps, pix_fmt_in="rgba", codec="libx264",
                audio_path=None if audio_path is None else str(audio_path), audio_codec="aac",
                output_params=["-preset", "veryfast", "-movflags", "+faststart"],
                ffmpeg_log_level="error", macro_block_size=MACRO_BLOCK)
            try:
                writer.send(None)
                for t in tqdm(times, desc=f"render {out_path.name}", unit="frame",
                              disable=not progress):
                    writer.send(figure.frame(float(t)))
                writer.close()  # waits for ffmpeg to finish the file
            except OSError as error:  # ffmpeg died: its own message is on stderr already
                first = str(error).strip().splitlines()[0] if str(error).strip() else "failed"
                raise PipelineError(f"{out_path}: ffmpeg failed ({first})") from None
            finally:
                writer.close()  # stops ffmpeg on any error (a no-op once closed)
            if not partial.is_file() or partial.stat().st_size == 0:
                raise PipelineError(f"{out_path}: ffmpeg wrote no video")
    return RenderReport(out_path, n_frames, fps, n_frames / fps, time.perf_counter() - clock)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("motions", nargs="+", metavar="MOTION",
                        help="one panel each: .bvh, or .npy/.txt/.npz on the --data skeleton")
    parser.add_argument("--audio", help="speech to mux in; the video lasts as long as it")
    parser.add_argument("--out", "-o", required=True, help="the .mp4 file to write")
    parser.add_argument("--data", metavar="DATA_DIR",
                        help="prepared dataset whose skeleton and frame rate array inputs use")
    parser.add_argument("--titles", nargs="+", metavar="TITLE",
                        help="one per motion (default: the file stems)")
    parser.add_argument("--representation", default="auto",
                        choices=("auto", "positions", "pos_vel", "rot6d"),
                        help="kind of array inputs (default: told by the width)")
    parser.add_argument("--fps", type=float, default=None,
                        help="video frame rate (default: the lowest of the motions')")
    parser.add_argument("--start", type=float, default=0.0, help="seconds to skip (default 0)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds to render (default: to the end of the audio)")
    parser.add_argument("--size", type=int, nargs=2, default=(384, 432), metavar=("W", "H"),
                        help="pixels of one panel (default 384 432; rounded up to 16)")
    parser.add_argument("--view", type=float, nargs=2, default=(12.0, -70.0),
                        metavar=("ELEV", "AZIM"), help="camera elevation and azimuth, degrees")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    if args.titles is not None and len(args.titles) != len(args.motions):
        raise PipelineError(f"{len(args.titles)} titles for {len(args.motions)} motions")
    meta = DatasetMeta.load(args.data) if args.data else None
    titles = args.titles or [None] * len(args.motions)
    panels = [load_panel(path, meta=meta, title=title, representation=args.representation)
              for path, title in zip(args.motions, titles)]
    report = render_video(panels, args.out, audio=args.audio, fps=args.fps, start=args.start,
                          duration=args.duration, size=tuple(args.size), view=tuple(args.view),
                          progress=not args.no_progress)
    print(f"wrote {report.path}: {report.duration:.2f} s, {report.frames} frames at "
          f"{report.fps:g} fps, {len(panels)} panel(s), {report.frames_per_second:.1f} frames/s")
    return 0


if __name__ == "__main__":
    run_cli(main)
