"""An interactive browser viewer: every method's skeleton beside the ground truth, with the speech.

:func:`build_viewer` writes one self-contained ``OUT_DIR/index.html`` that opens from the file
system with no server and no network: three.js (``viewer_page/three.min.js``, a classic script)
and the page's own script (``viewer_page/viewer.js``) are inlined, the motion is inline JSON
with base64 float32 positions, the speech a base64 ``data:`` URI (or, past
``audio_inline_max`` bytes, a copy in ``OUT_DIR/audio/`` that a plain ``<audio>`` element
plays). ``helpers/make_viewer.py`` is its command line.

What goes in
------------
``motions`` is one held-out file, ``{method: Motion | [Motion, ...]}``, or several,
``{file_id: {method: Motion | [Motion, ...]}}`` (in the order the page lists them); a list
holds the samples of a stochastic method. ``audio`` is then one path, or ``{file_id: path}``.
The first method of each file is its reference (by convention the ground truth): drawn grey,
and the skeleton the others are compared with.

Bad input: a motion without a skeleton, with no frames or with non-finite positions is a
one-line :class:`~data_processing.files.PipelineError` naming it; a skeleton that differs from
the reference's, or a motion whose frame count differs from the audio's
(``round(duration * fps)``) by more than one frame, is drawn anyway with a visible note in its
panel (a shorter motion holds its last pose, a longer one is cut at the end of the audio).

The embedded data (``<script id="viewer-data" type="application/json">``)
-------------------------------------------------------------------------
::

    {"version": 1, "title": str,
     "files": [{"id": str, "audio": data-URI | relative URL | null, "duration": seconds,
                "floor": y, "height": h, "body": [lowest y, highest y],
                "spacing": x-distance between panels,
                "methods": [{"name": str, "color": "#rrggbb", "notes": [str, ...],
                             "samples": [{"name": file name, "fps": float, "frames": T,
                                          "joints": J, "root": int, "parents": [J ints],
                                          "bones": [[parent, child], ...], "hidden": [int],
                                          "names": [J str], "side": [J ints: 0 centre,
                                          1 left, 2 right], "centre": [x, z],
                                          "positions": base64 of float32 (T, J, 3)}]}]}]}

Positions are :attr:`Motion.positions` in the data's units (y up, as in BVH); a root pinned at
the origin (IVA'19) is first stood at its rest offset, as BVH export does
(:func:`data_processing.motion.stand_pinned_root`). ``root`` is the joint whose path is drawn
on the floor and whose mean ``centre`` places the panel: the root, or the hips under a world
node root (:func:`world_nodes`), which is not drawn. Sizes (bone radius, camera distance, grid)
follow the figure's height above the floor, ``floor = min(0, lowest joint)``.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile

from data_processing.bvh import joint_side
from data_processing.files import PipelineError, atomic_path
from data_processing.kinematics import frame_count
from data_processing.motion import Motion, default_translating, stand_pinned_root

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).with_name("viewer_page")
DEFAULT_TITLE = "Speech-to-gesture viewer"
INLINE_AUDIO_BYTES = 16 * 2**20  # larger speech files are copied beside the page
REFERENCE_COLOR = "#5a5a5a"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22")
AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
               ".mp3": "audio/mpeg"}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".svg": "image/svg+xml"}
SIDES = {"centre": 0, "left": 1, "right": 2}


class ViewerFile(NamedTuple):
    """One held-out file: its methods (each a list of samples) and its speech."""

    id: str
    methods: dict[str, list[Motion]]
    audio: Path | None


def build_viewer(out_dir, *, motions, audio=None, title: str = DEFAULT_TITLE,
                 table_html: str | None = None, plots: Sequence = (),
                 audio_inline_max: int = INLINE_AUDIO_BYTES) -> Path:
    """Write the viewer page ``OUT_DIR/index.html`` (atomically) and return its path.

    Parameters
    ----------
    out_dir : path-like
        Directory of the page (created when missing).
    motions : mapping
        ``{method: Motion | [Motion, ...]}`` for one file, or
        ``{file_id: {method: Motion | [Motion, ...]}}`` for several (see the module docstring).
    audio : path-like or mapping, optional
        The speech of the file, or ``{file_id: path}``; without it the page keeps its own clock.
    title : str
        The page's title.
    table_html : str, optional
        The metrics table (HTML, e.g. :func:`markdown_html` of ``report.md``), shown beside
        the skeletons.
    plots : sequence of path-like
        Images (``.png``, ``.jpg``, ``.svg``) inlined under the table.
    audio_inline_max : int
        Speech files up to this many bytes are inlined; larger ones are copied to
        ``OUT_DIR/audio/``.

    Returns
    -------
    pathlib.Path
        ``OUT_DIR/index.html``.
    """
    out_dir = Path(out_dir)
    files = viewer_files(motions, audio)
    report = (f'<h2>metrics</h2>\n<div class="table">{table_html}</div>\n'
              if table_html else "") + "".join(_figure(p) for p in plots)
    data = {"version": 1, "title": title,
            "files": [_file_data(f, k, out_dir, audio_inline_max) for k, f in enumerate(files)]}
    page = render_page(title, data, report)
    path = out_dir / "index.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def viewer_files(motions, audio=None) -> list[ViewerFile]:
    """The held-out files of :func:`build_viewer`'s ``motions`` and ``audio``, checked."""
    if not isinstance(motions, Mapping) or not motions:
        raise PipelineError("no motion to show (give at least one method)")
    several = all(isinstance(v, Mapping) for v in motions.values())
    if not several:
        if isinstance(audio, Mapping):
            raise PipelineError("audio is a mapping of files but the motions are one file's "
                                "{method: motion}")
        file_id = Path(audio).stem if audio is not None else "motion"
        return [ViewerFile(file_id, _methods(motions, file_id), _path(audio))]
    audio = {} if audio is None else audio
    if not isinstance(audio, Mapping):
        raise PipelineError("several files need audio as {file_id: path}")
    unknown = sorted(set(map(str, audio)) - set(map(str, motions)))
    if unknown:
        raise PipelineError(f"audio for unknown file(s) {', '.join(unknown)} (the files are "
                            f"{', '.join(map(str, motions))})")
    return [ViewerFile(str(fid), _methods(methods, fid), _path(audio.get(fid)))
            for fid, methods in motions.items()]


def _path(value) -> Path | None:
    return None if value is None else Path(value)


def _methods(methods: Mapping, file_id) -> dict[str, list[Motion]]:
    if not methods:
        raise PipelineError(f"file {file_id}: no method to show")
    out = {}
    for name, samples in methods.items():
        samples = [samples] if isinstance(samples, Motion) else list(samples)
        if not samples or not all(isinstance(m, Motion) for m in samples):
            raise PipelineError(f"file {file_id}, method {name!r}: expected a Motion or a "
                                "non-empty list of Motions")
        out[str(name)] = samples
    return out


# --------------------------------------------------------------------------------------------
# The data of one file


def _file_data(file: ViewerFile, index: int, out_dir: Path, inline_max: int) -> dict:
    """The page's description of one file (see the module docstring)."""
    positions = {id(m): _positions(m) for samples in file.methods.values() for m in samples}
    seconds = audio_duration(file.audio) if file.audio is not None else None
    reference = next(iter(file.methods.values()))[0]
    methods = []
    for k, (name, samples) in enumerate(file.methods.items()):
        prefixes = [f"sample {i + 1}: " if len(samples) > 1 else "" for i in range(len(samples))]
        notes = [note for m, prefix in zip(samples, prefixes)
                 for note in _notes(m, reference, seconds, prefix)]
        for note in notes:
            log.warning("%s (%s): %s", name, file.id, note)
        methods.append({"name": name, "notes": notes,
                        "color": REFERENCE_COLOR if k == 0 else PALETTE[(k - 1) % len(PALETTE)],
                        "samples": [_sample_data(m, positions[id(m)]) for m in samples]})
    duration = seconds if seconds is not None else max(m.duration for samples in
                                                       file.methods.values() for m in samples)
    return {"id": file.id, "duration": duration, **scene_scale(list(positions.values())),
            "methods": methods,
            "audio": None if file.audio is None else _audio_source(file.audio, index, file.id,
                                                                   out_dir, inline_max)}


def scene_scale(positions: list[np.ndarray]) -> dict:
    """Floor, figure height, vertical extent and panel spacing of motions ``[(T, J, 3), ...]``.

    ``floor = min(0, lowest y)``; ``height`` from the floor to the highest joint (what sizes
    follow); ``spacing``: the widest pose (x extent in one frame) with a margin.
    """
    low = min(float(p[..., 1].min()) for p in positions)
    top = max(float(p[..., 1].max()) for p in positions)
    floor = min(0.0, low)
    height = top - floor or 1.0
    widest = max(float(np.ptp(p[..., 0], axis=1).max()) for p in positions)
    return {"floor": floor, "height": height, "body": [low, top],
            "spacing": max(1.15 * widest + 0.15 * height, 0.45 * height)}


def _positions(motion: Motion) -> np.ndarray:
    """Positions ``(T, J, 3)`` as drawn; a one-line error for what cannot be drawn."""
    if motion.skeleton is None:
        raise PipelineError(f"{motion.name}: no skeleton, and the viewer draws bones (give the "
                            "dataset's skeleton, --data)")
    if motion.n_frames < 1:
        raise PipelineError(f"{motion.name}: no frames")
    if not np.isfinite(motion.positions).all():
        raise PipelineError(f"{motion.name}: NaN or infinite positions")
    return stand_pinned_root(motion.positions, motion.skeleton)


def _sample_data(motion: Motion, positions: np.ndarray) -> dict:
    skeleton = motion.skeleton
    world = world_nodes(skeleton)
    hips = next(iter(default_translating(skeleton)), motion.root)
    path = positions[:, hips]
    return {"name": Path(motion.name).name, "fps": float(motion.fps), "frames": motion.n_frames,
            "joints": skeleton.n_joints, "root": hips, "parents": skeleton.parents.tolist(),
            "bones": [[int(p), c] for c, p in enumerate(skeleton.parents)
                      if p >= 0 and p not in world],
            "hidden": world, "names": list(skeleton.names),
            "side": [SIDES[joint_side(n)] for n in skeleton.names],
            "centre": [float(path[:, 0].mean()), float(path[:, 2].mean())],
            "positions": encode_positions(positions)}


def world_nodes(skeleton) -> list[int]:
    """Roots that are a world node (GENEA's ``body_world``: zero offset, translating children).

    They are not drawn, nor their bones: the figure starts at the child (the hips).
    """
    translating = default_translating(skeleton)
    return [int(r) for r in np.flatnonzero(skeleton.parents < 0)
            if any(skeleton.parents[c] == r for c in translating)]


def encode_positions(positions: np.ndarray) -> str:
    """Base64 of the positions as little-endian float32, C order (what the page decodes)."""
    return base64.b64encode(np.ascontiguousarray(positions, dtype="<f4").tobytes()).decode()


def decode_positions(text: str, frames: int, joints: int) -> np.ndarray:
    """Inverse of :func:`encode_positions`: float32 positions ``(frames, joints, 3)``."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(frames, joints, 3)


def _notes(motion: Motion, reference: Motion, audio_seconds: float | None,
           prefix: str) -> list[str]:
    """What the page shows beside a panel that can still be drawn."""
    notes = []
    where = f"{prefix}{Path(motion.name).name}"
    ours, theirs = motion.skeleton, reference.skeleton
    if motion is not reference and (ours.names != theirs.names or
                                    not np.array_equal(ours.parents, theirs.parents)):
        ref = Path(reference.name).name
        if ours.n_joints != theirs.n_joints:
            notes.append(f"{where}: skeleton differs from {ref}'s ({ours.n_joints} joints, not "
                         f"{theirs.n_joints})")
        else:
            notes.append(f"{where}: skeleton differs from {ref}'s (joint names or hierarchy)")
    if audio_seconds is not None:
        expected = frame_count(audio_seconds, motion.fps)
        if abs(motion.n_frames - expected) > 1:
            shown = ("cut at the end of the audio" if motion.n_frames > expected else
                     f"its last pose holds for the last {audio_seconds - motion.duration:.2f} s")
            notes.append(f"{where}: {motion.duration:.2f} s of motion ({motion.n_frames} frames "
                         f"at {motion.fps:g} fps), the audio lasts {audio_seconds:.2f} s: "
                         f"{shown}")
    return notes


# --------------------------------------------------------------------------------------------
# Media


def audio_duration(path) -> float:
    """Seconds of an audio file (header only), with a one-line error for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    if path.suffix.lower() not in AUDIO_TYPES:
        raise PipelineError(f"{path}: not an audio file the page can play (use "
                            f"{', '.join(AUDIO_TYPES)})")
    try:
        info = soundfile.info(path)
    except (soundfile.SoundFileError, RuntimeError) as error:
        raise PipelineError(f"{path}: not a readable audio file ({error})") from None
    if info.frames < 1 or info.samplerate < 1:
        raise PipelineError(f"{path}: no audio samples")
    return info.frames / info.samplerate


def _audio_source(path: Path, index: int, file_id: str, out_dir: Path, inline_max: int) -> str:
    """A ``data:`` URI of the speech, or the relative URL of its copy beside the page."""
    suffix = path.suffix.lower()
    if path.stat().st_size <= inline_max:
        return f"data:{AUDIO_TYPES[suffix]};base64,{base64.b64encode(path.read_bytes()).decode()}"
    name = f"{index}_{re.sub(r'[^A-Za-z0-9_.-]', '_', file_id)}{suffix}"
    with atomic_path(out_dir / "audio" / name) as tmp:
        shutil.copyfile(path, tmp)
    return f"audio/{name}"


def _image_uri(path) -> str:
    path = Path(path)
    mime = IMAGE_TYPES.get(path.suffix.lower())
    if mime is None:
        raise PipelineError(f"{path}: not an image the page can show (use "
                            f"{', '.join(IMAGE_TYPES)})")
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _figure(path) -> str:
    caption = html.escape(Path(path).stem)
    return (f'<figure><img alt="{caption}" src="{_image_uri(path)}">'
            f"<figcaption>{caption}</figcaption></figure>\n")


# --------------------------------------------------------------------------------------------
# The page


def render_page(title: str, data: dict, report_html: str = "") -> str:
    """The page: the template with the style, the data, three.js and the viewer script."""
    parts = {"TITLE": html.escape(title), "STYLE": _asset("viewer.css"),
             "REPORT": report_html, "THREE": _asset("three.min.js"),
             "SCRIPT": _asset("viewer.js"), "DATA": embed_json(data)}
    # One pass, so nothing inserted (three.js above all) is searched for placeholders again.
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: parts[m.group(1)], _asset("template.html"))


def _asset(name: str) -> str:
    path = PAGE_DIR / name
    if not path.is_file():
        raise PipelineError(f"{path}: the viewer page's file is missing (reinstall the project; "
                            "three.min.js is rebuilt by viewer_page/build_three.sh)")
    return path.read_text(encoding="utf-8")


def embed_json(data) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` can occur)."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def embedded_data(page) -> dict:
    """The data embedded in a viewer page (``index.html``), as :func:`build_viewer` wrote it."""
    text = Path(page).read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="viewer-data">(.*?)</script>', text,
                      re.S)
    if match is None:
        raise PipelineError(f"{page}: not a viewer page (no viewer-data)")
    return json.loads(match.group(1))


def markdown_html(text: str, *, base=None) -> str:
    """A report in markdown (``evaluation/report.py``'s ``report.md``) as HTML.

    Pipe tables, ``#`` headings, image lines ``![caption](file)`` (inlined from ``base``, the
    markdown file's directory, when the file exists) and paragraphs; other markup is shown as
    text.
    """
    out, table = [], []
    for line in [*text.splitlines(), ""]:
        if line.strip().startswith("|"):
            table.append(line.strip())
            continue
        if table:
            out.append(_html_table(table))
            table = []
        image = re.fullmatch(r"\s*!\[([^\]]*)\]\(([^)]+)\)\s*", line)
        heading = re.fullmatch(r"(#{1,6})\s+(.*)", line)
        if image and base is not None and (Path(base) / image.group(2)).is_file():
            out.append(_figure(Path(base) / image.group(2)))
        elif heading:
            level = min(6, len(heading.group(1)) + 1)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    return "\n".join(out)


def _inline(text: str) -> str:
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


def _html_table(lines: list[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    rows = [r for r in rows if not all(re.fullmatch(r":?-+:?", c) for c in r)]
    head, body = rows[0], rows[1:]
    cells = "".join(f"<th>{_inline(c)}</th>" for c in head)
    lines = [f"<table><thead><tr>{cells}</tr></thead><tbody>"]
    lines += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body]
    return "\n".join([*lines, "</tbody></table>"])
