"""BVH motion capture: a skeleton, a motion, a reader and a writer.

Conventions (see :mod:`data_processing.rotations` for the rotation glossary):

* Every node of the hierarchy is a joint of the :class:`Skeleton`, ``End Site`` nodes included
  (named ``<parent>_End``, no channels), in the file's depth-first order, so a parent always
  comes before its children. IVA'19 counts End Sites among the joints whose positions it learns.
* A joint has 0 to 3 position channels and 0 to 3 rotation channels, in any order. Rotation
  channels are intrinsic Euler angles in degrees in the order they are listed.
* Position channels *replace* the joint's OFFSET as its local translation (the convention of
  MotionBuilder and Blender; in GENEA files the channel values equal the offsets).
* Units are the file's own (usually centimetres); frame time is in seconds.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from numba import njit

from data_processing import kinematics, rotations
from data_processing.files import PipelineError, atomic_path, read_json, write_json

ROTATION_CHANNELS = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}
POSITION_CHANNELS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A joint hierarchy: names, parents, rest offsets and the channel layout of each joint.

    Parameters
    ----------
    names : tuple of str
        Unique joint names; End Sites are named ``<parent>_End``.
    parents : np.ndarray [shape=(J,), dtype=int]
        Parent index of each joint, ``-1`` for a root; parents come before children.
    offsets : np.ndarray [shape=(J, 3)]
        Rest offset of each joint from its parent, in the file's units.
    channels : tuple of tuple of str
        BVH channel names of each joint, ``()`` for End Sites.
    end_site : np.ndarray [shape=(J,), dtype=bool]
        Whether the joint is an ``End Site``.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    end_site: np.ndarray = field(default=None)

    def __post_init__(self):
        n = len(self.names)
        object.__setattr__(self, "parents", np.asarray(self.parents, dtype=np.int64))
        object.__setattr__(self, "offsets", np.asarray(self.offsets, dtype=np.float64))
        if self.end_site is None:
            object.__setattr__(self, "end_site", np.zeros(n, dtype=bool))
        object.__setattr__(self, "end_site", np.asarray(self.end_site, dtype=bool))
        if self.parents.shape != (n,) or self.offsets.shape != (n, 3) or len(self.channels) != n:
            raise ValueError(
                f"Skeleton arrays disagree: {n} names, parents {self.parents.shape}, "
                f"offsets {self.offsets.shape}, {len(self.channels)} channel lists"
            )
        if np.any(self.parents >= np.arange(n)):
            raise ValueError("Expected every parent to come before its child in joint order.")
        if len(set(self.names)) != n:
            raise ValueError("Expected unique joint names.")

    @property
    def n_joints(self) -> int:
        """Number of joints, End Sites included."""
        return len(self.names)

    @cached_property
    def channel_start(self) -> np.ndarray:
        """Index of each joint's first channel in a frame vector; last entry = channel count."""
        return np.concatenate([[0], np.cumsum([len(c) for c in self.channels])]).astype(np.int64)

    @property
    def n_channels(self) -> int:
        """Number of values per frame in the MOTION block."""
        return int(self.channel_start[-1])

    def rotation_order(self, joint: int) -> str:
        """Euler order of a joint, e.g. ``"ZXY"``; empty for joints that do not rotate."""
        return "".join(ROTATION_CHANNELS[c] for c in self.channels[joint] if c in ROTATION_CHANNELS)

    @cached_property
    def rotating(self) -> np.ndarray:
        """Indices of the joints with rotation channels (the joints a 6D motion describes)."""
        return np.array([j for j in range(self.n_joints) if self.rotation_order(j)], dtype=np.int64)

    @cached_property
    def root(self) -> int:
        """Index of the first root joint."""
        return int(np.flatnonzero(self.parents < 0)[0])

    @cached_property
    def levels(self) -> list[np.ndarray]:
        """Joint indices grouped by depth in the tree, roots first (for batched FK)."""
        return kinematics.depth_levels(self.parents)

    def children(self, joint: int) -> np.ndarray:
        """Indices of the direct children of ``joint``."""
        return np.flatnonzero(self.parents == joint)

    def to_dict(self) -> dict:
        """A JSON-ready description (``skeleton.json``)."""
        return {
            "names": list(self.names),
            "parents": self.parents.tolist(),
            "offsets": self.offsets.round(6).tolist(),
            "channels": [list(c) for c in self.channels],
            "end_site": self.end_site.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Skeleton:
        """Inverse of :meth:`to_dict`."""
        return cls(
            names=tuple(data["names"]),
            parents=np.array(data["parents"]),
            offsets=np.array(data["offsets"]),
            channels=tuple(tuple(c) for c in data["channels"]),
            end_site=np.array(data["end_site"]),
        )

    def save(self, path) -> Path:
        """Write ``skeleton.json`` atomically."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path) -> Skeleton:
        """Read a ``skeleton.json``."""
        data = read_json(path)
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as error:
            raise PipelineError(f"{path}: not a skeleton description ({error})") from None

    @cached_property
    def _rotation_columns(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per Euler order: the joints with that order and their angle columns ``(Jg, n)``."""
        groups: dict[str, tuple[list[int], list[list[int]]]] = {}
        for j in range(self.n_joints):
            order = self.rotation_order(j)
            if order:
                start = self.channel_start[j]
                cols = [start + k for k, c in enumerate(self.channels[j]) if c in ROTATION_CHANNELS]
                joints, columns = groups.setdefault(order, ([], []))
                joints.append(j)
                columns.append(cols)
        return {o: (np.array(j), np.array(c)) for o, (j, c) in groups.items()}

    @cached_property
    def _position_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint, axis and frame column of every position channel."""
        joints, axes, cols = [], [], []
        for j in range(self.n_joints):
            for k, c in enumerate(self.channels[j]):
                if c in POSITION_CHANNELS:
                    joints.append(j)
                    axes.append(POSITION_CHANNELS[c])
                    cols.append(self.channel_start[j] + k)
        return np.array(joints, dtype=np.int64), np.array(axes, np.int64), np.array(cols, np.int64)


@dataclass(eq=False)
class BVHMotion:
    """A skeleton with its channel values per frame.

    Parameters
    ----------
    skeleton : Skeleton
    frames : np.ndarray [shape=(T, skeleton.n_channels)]
        The MOTION block: channel values in file order (degrees and file units).
    frame_time : float > 0
        Seconds per frame.
    """

    skeleton: Skeleton
    frames: np.ndarray
    frame_time: float

    def __post_init__(self):
        self.frames = np.asarray(self.frames, dtype=np.float64)
        if self.frames.ndim != 2 or self.frames.shape[1] != self.skeleton.n_channels:
            raise ValueError(
                f"Expected frames of shape (T, {self.skeleton.n_channels}). "
                f"Received: {self.frames.shape}"
            )
        if not self.frame_time > 0:
            raise ValueError(f"Expected frame_time > 0. Received: frame_time={self.frame_time}")

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return len(self.frames)

    @property
    def fps(self) -> float:
        """Frames per second."""
        return 1.0 / self.frame_time

    @property
    def duration(self) -> float:
        """Duration in seconds, ``n_frames * frame_time``."""
        return self.n_frames * self.frame_time

    def local_rotations(self) -> np.ndarray:
        """Local rotation matrices ``(T, J, 3, 3)``; identity for joints without rotations."""
        skel = self.skeleton
        out = np.broadcast_to(np.eye(3), (self.n_frames, skel.n_joints, 3, 3)).copy()
        for order, (joints, cols) in skel._rotation_columns.items():
            out[:, joints] = rotations.euler_to_matrix(self.frames[:, cols], order)
        return out

    def local_translations(self) -> np.ndarray:
        """Local translations ``(T, J, 3)``: offsets, replaced by position channels."""
        skel = self.skeleton
        out = np.broadcast_to(skel.offsets, (self.n_frames, skel.n_joints, 3)).copy()
        joints, axes, cols = skel._position_columns
        out[:, joints, axes] = self.frames[:, cols]
        return out

    def root_translation(self) -> np.ndarray:
        """Translation of the root joint per frame ``(T, 3)``."""
        return self.local_translations()[:, self.skeleton.root]

    def positions(self, *, pin_root: bool = False) -> np.ndarray:
        """Global joint positions ``(T, J, 3)`` by forward kinematics.

        Parameters
        ----------
        pin_root : bool
            Zero the root's translation (IVA'19: positions relative to the hips, root rotation
            kept), so the motion stays in place.
        """
        translations = self.local_translations()
        if pin_root:
            translations[:, self.skeleton.root] = 0.0
        return kinematics.forward_kinematics(
            self.skeleton.parents, self.local_rotations(), translations, levels=self.skeleton.levels
        )

    @classmethod
    def from_rotations(
        cls,
        skeleton: Skeleton,
        local_rotations: np.ndarray,
        root_translation: np.ndarray | None,
        frame_time: float,
        *,
        translations: np.ndarray | None = None,
    ) -> BVHMotion:
        """Build channel values from local rotation matrices ``(T, J, 3, 3)``.

        Non-root position channels take the skeleton's offsets; the root's take
        ``root_translation`` ``(T, 3)`` (its offset when ``None``). ``translations``
        ``(T, J, 3)``, when given, supplies every position channel instead.
        """
        n = len(local_rotations)
        frames = np.zeros((n, skeleton.n_channels))
        for order, (joints, cols) in skeleton._rotation_columns.items():
            frames[:, cols] = rotations.matrix_to_euler(local_rotations[:, joints], order)
        if translations is None:
            translations = np.broadcast_to(skeleton.offsets, (n, skeleton.n_joints, 3)).copy()
            if root_translation is not None:
                translations[:, skeleton.root] = root_translation
        joints, axes, cols = skeleton._position_columns
        frames[:, cols] = translations[:, joints, axes]
        return cls(skeleton, frames, frame_time)

    def resample(self, fps: float) -> BVHMotion:
        """The same motion at another frame rate: slerp for rotations, linear for translations."""
        if np.isclose(fps, self.fps, rtol=1e-4):
            return self
        rots, trans = kinematics.resample(
            self.local_rotations(), self.local_translations(), src_fps=self.fps, dst_fps=fps
        )
        motion = BVHMotion.from_rotations(self.skeleton, rots, None, 1.0 / fps)
        joints, axes, cols = self.skeleton._position_columns
        motion.frames[:, cols] = trans[:, joints, axes]
        return motion


# --------------------------------------------------------------------------------------------
# Reading


def read_bvh(path) -> BVHMotion:
    """Read a BVH file (any hierarchy, channel layout, Euler order and frame time).

    The header is parsed token by token; the MOTION block is parsed in one vectorised call.
    A malformed or truncated file raises :class:`PipelineError` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    raw = path.read_bytes()
    match = re.search(rb"^[ \t]*MOTION[ \t]*\r?$", raw, flags=re.MULTILINE)
    if match is None:
        raise PipelineError(f"{path}: not a BVH file (no MOTION section)")
    skeleton = _parse_hierarchy(path, raw[: match.start()].decode("utf-8", errors="replace"))
    line = raw.count(b"\n", 0, match.start()) + 2  # line number of "Frames:"
    n_frames, frame_time, data_start = _parse_motion_header(path, raw, match.end(), line)
    frames = _parse_frames(path, raw[data_start:], n_frames, skeleton.n_channels, line + 2)
    return BVHMotion(skeleton, frames, frame_time)


def _parse_hierarchy(path: Path, header: str) -> Skeleton:
    tokens = [(token, number) for number, text in enumerate(header.splitlines(), 1)
              for token in text.split()]
    names, parents, offsets, channels, end_site = [], [], [], [], []
    stack: list[int] = []
    pending: int | None = None
    i = 0

    def fail(problem: str, at: int) -> PipelineError:
        line = tokens[min(at, len(tokens) - 1)][1] if tokens else 1
        return PipelineError(f"{path}:{line}: {problem}")

    def take(count: int, what: str) -> list[str]:
        if i + count >= len(tokens):
            raise fail(f"unexpected end of HIERARCHY while reading {what}", len(tokens) - 1)
        return [t for t, _ in tokens[i + 1 : i + 1 + count]]

    def _add(name: str, parent: int, is_end: bool) -> None:
        nonlocal pending
        if pending is not None:
            raise fail(f"expected '{{' after joint {names[pending]!r}", i)
        names.append(name)
        parents.append(parent)
        end_site.append(is_end)
        offsets.append(None)
        channels.append(())
        pending = len(names) - 1

    if not tokens or tokens[0][0] != "HIERARCHY":
        raise fail("expected HIERARCHY at the start of the file", 0)
    i = 1
    while i < len(tokens):
        token = tokens[i][0]
        if token in ("ROOT", "JOINT"):
            if (token == "ROOT") != (not stack):
                raise fail(f"unexpected {token} (ROOT only at top level, JOINT inside a joint)", i)
            if stack and end_site[stack[-1]]:
                raise fail("an End Site cannot have children", i)
            (name,) = take(1, f"the {token} name")
            if name in names:
                raise fail(f"duplicate joint name {name!r}", i)
            _add(name, stack[-1] if stack else -1, False)
            i += 2
        elif token == "End":
            if not stack or take(1, "End Site")[0] != "Site":
                raise fail("End Site outside a joint", i)
            parent = stack[-1]
            name = f"{names[parent]}_End"
            while name in names:
                name += "_"
            _add(name, parent, True)
            i += 2
        elif token == "{":
            if pending is None:
                raise fail("'{' without a joint", i)
            stack.append(pending)
            pending = None
            i += 1
        elif token == "}":
            if not stack:
                raise fail("unbalanced '}'", i)
            j = stack.pop()
            if offsets[j] is None:
                raise fail(f"joint {names[j]!r} has no OFFSET", i)
            i += 1
        elif token == "OFFSET":
            if not stack:
                raise fail("OFFSET outside a joint", i)
            try:
                offsets[stack[-1]] = [float(v) for v in take(3, "OFFSET")]
            except ValueError:
                raise fail("OFFSET needs three numbers", i) from None
            i += 4
        elif token == "CHANNELS":
            if not stack or end_site[stack[-1]]:
                raise fail("CHANNELS outside a joint", i)
            try:
                count = int(take(1, "CHANNELS")[0])
            except ValueError:
                raise fail("CHANNELS needs a count", i) from None
            names_ = take(count + 1, "CHANNELS")[1:]
            bad = [c for c in names_ if c not in ROTATION_CHANNELS and c not in POSITION_CHANNELS]
            if bad:
                raise fail(f"unknown channel {bad[0]!r}", i)
            if len(set(names_)) != len(names_):
                raise fail("repeated channel", i)
            channels[stack[-1]] = tuple(names_)
            i += 2 + count
        else:
            raise fail(f"unexpected {token!r} in HIERARCHY", i)
    if stack or pending is not None:
        open_joint = stack[-1] if stack else pending
        raise fail(f"joint {names[open_joint]!r} is not closed (missing '}}')", len(tokens) - 1)
    if not names:
        raise fail("no ROOT joint", 0)
    return Skeleton(tuple(names), np.array(parents), np.array(offsets), tuple(channels),
                    np.array(end_site))


def _parse_motion_header(path: Path, raw: bytes, start: int, line: int) -> tuple[int, float, int]:
    head = raw[start:].lstrip(b"\r\n").split(b"\n", 2)
    start = len(raw) - len(raw[start:].lstrip(b"\r\n"))
    frames = re.match(rb"\s*Frames:\s*(\d+)\s*$", head[0])
    if frames is None:
        raise PipelineError(f"{path}:{line}: expected 'Frames: <count>'")
    ftime = re.match(rb"\s*Frame Time:\s*(\S+)\s*$", head[1]) if len(head) > 1 else None
    try:
        frame_time = float(ftime.group(1)) if ftime else float("nan")
    except ValueError:
        frame_time = float("nan")
    if not frame_time > 0:
        raise PipelineError(f"{path}:{line + 1}: expected 'Frame Time: <seconds>' > 0")
    data_start = start + len(head[0]) + len(head[1]) + 2
    return int(frames.group(1)), frame_time, min(data_start, len(raw))


_OK, _SYNTAX_ERROR, _INEXACT = 0, 1, 2
_EXACT_POWERS = 10.0 ** np.arange(23)  # 10^0..10^22 are exact doubles
_DECIMAL = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@njit(cache=True, nogil=True)
def _scan_numbers(buf, out, per_line):
    """Parse whitespace-separated decimals from bytes into ``out``; count them per line.

    The fast path of correctly rounded decimal conversion (Clinger): an integer mantissa below
    2^53 divided or multiplied by an exact power of ten <= 10^22 rounds once, exactly like
    ``float()``. Numbers outside it set the ``_INEXACT`` status, and the caller re-parses
    the block with Python. Returns ``(count, status, line of the first bad token)``.
    """
    n = buf.size
    k = 0
    line = 0
    i = 0
    status = _OK
    while i < n:
        c = buf[i]
        if c == 10:
            line += 1
            i += 1
            continue
        if c == 32 or c == 9 or c == 13:
            i += 1
            continue
        negative = c == 45
        if c == 45 or c == 43:
            i += 1
        mantissa = 0
        digits = 0
        exponent = 0
        while i < n and 48 <= buf[i] <= 57:
            if digits < 18:
                mantissa = mantissa * 10 + (buf[i] - 48)
            else:
                exponent += 1
                status = _INEXACT
            digits += 1
            i += 1
        if i < n and buf[i] == 46:
            i += 1
            while i < n and 48 <= buf[i] <= 57:
                if digits < 18:
                    mantissa = mantissa * 10 + (buf[i] - 48)
                    exponent -= 1
                else:
                    status = _INEXACT
                digits += 1
                i += 1
        if i < n and (buf[i] == 101 or buf[i] == 69) and digits > 0:
            i += 1
            sign = 1
            if i < n and (buf[i] == 45 or buf[i] == 43):
                sign = -1 if buf[i] == 45 else 1
                i += 1
            value = 0
            exp_digits = 0
            while i < n and 48 <= buf[i] <= 57:
                value = min(value * 10 + (buf[i] - 48), 9999)
                exp_digits += 1
                i += 1
            if exp_digits == 0:
                return k, _SYNTAX_ERROR, line
            exponent += sign * value
        if digits == 0 or (i < n and not (buf[i] == 32 or buf[i] == 9 or buf[i] == 10
                                          or buf[i] == 13)):
            return k, _SYNTAX_ERROR, line
        if mantissa >= 2**53 or exponent < -22 or exponent > 22:
            status = _INEXACT
            number = 0.0
        elif exponent < 0:
            number = mantissa / _EXACT_POWERS[-exponent]
        else:
            number = mantissa * _EXACT_POWERS[exponent]
        if k < out.size:
            out[k] = -number if negative else number
        per_line[line] += 1
        k += 1
    return k, status, line


def _parse_frames(path: Path, data: bytes, n_frames: int, n_channels: int, line: int) -> np.ndarray:
    """The MOTION values ``(n_frames, n_channels)``, with a one-line error on any defect."""
    values = np.empty(n_frames * n_channels)
    per_line = np.zeros(data.count(b"\n") + 1, dtype=np.int64)
    count, status, bad = _scan_numbers(np.frombuffer(data, np.uint8), values, per_line)
    if status == _SYNTAX_ERROR:
        tokens = data.split(b"\n")[bad].split()
        token = next((t for t in tokens if not _DECIMAL.fullmatch(t)), b"").decode(errors="replace")
        raise PipelineError(f"{path}:{line + bad}: not a number: {token!r}")
    rows = np.flatnonzero(per_line)
    wrong = rows[per_line[rows] != n_channels]
    if len(wrong):
        k = int(wrong[0])
        found = int(per_line[k])
        problem = (f"truncated: the last frame has {found} of {n_channels} values"
                   if k == rows[-1] and found < n_channels
                   else f"expected {n_channels} channel values, found {found}")
        raise PipelineError(f"{path}:{line + k}: {problem}")
    if len(rows) < n_frames:
        raise PipelineError(
            f"{path}:{line + len(per_line) - 1}: truncated: 'Frames: {n_frames}' but only "
            f"{len(rows)} frames of {n_channels} values"
        )
    if len(rows) > n_frames:
        raise PipelineError(
            f"{path}:{line + int(rows[n_frames])}: 'Frames: {n_frames}' but the file has "
            f"{len(rows)} frames"
        )
    if status == _INEXACT:
        values = np.array(data.split(), dtype=np.float64)
    return values[:count].reshape(n_frames, n_channels)


# --------------------------------------------------------------------------------------------
# Writing


def write_bvh(path, motion: BVHMotion, *, precision: int = 6) -> Path:
    """Write a motion as BVH (atomically), readable by Blender and MotionBuilder."""
    skel = motion.skeleton
    out = io.StringIO()
    out.write("HIERARCHY\n")
    for root in np.flatnonzero(skel.parents < 0):
        _write_joint(out, skel, int(root), 0)
    out.write(f"MOTION\nFrames: {motion.n_frames}\nFrame Time: {motion.frame_time:.8f}\n")
    np.savetxt(out, motion.frames, fmt=f"%.{precision}f", delimiter=" ")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(out.getvalue())
    return path


def _write_joint(out: io.StringIO, skel: Skeleton, j: int, depth: int) -> None:
    tab = "\t" * depth
    if skel.end_site[j]:
        out.write(f"{tab}End Site\n")
    else:
        out.write(f"{tab}{'ROOT' if skel.parents[j] < 0 else 'JOINT'} {skel.names[j]}\n")
    out.write(f"{tab}{{\n")
    x, y, z = skel.offsets[j]
    out.write(f"{tab}\tOFFSET {x:.6f} {y:.6f} {z:.6f}\n")
    if skel.channels[j]:
        out.write(f"{tab}\tCHANNELS {len(skel.channels[j])} {' '.join(skel.channels[j])}\n")
    for child in skel.children(j):
        _write_joint(out, skel, int(child), depth + 1)
    out.write(f"{tab}}}\n")
