"""BVH motion capture: a skeleton, a motion, a reader and a writer.

Conventions (see :mod:`data_processing.rotations` for the rotation glossary):

* Every node of the hierarchy is a joint of the :class:`Skeleton`, ``End Site`` nodes included
  (named ``<parent>_End``, no channels), in the file's depth-first order, so a parent always
  comes before its children. IVA'19 counts End Sites among the joints whose positions it learns.
* A joint has 0 to 3 position channels and 0 to 3 rotation channels, in any order. Rotation
  channels are intrinsic Euler angles in degrees in the order they are listed.
* Position channels *replace* the joint's OFFSET as its local translation (the convention of
  MotionBuilder and Blender). They may be animated on any joint, not only the root: in GENEA
  files every joint has them, and those of ``b_root`` (the hips, under the world node
  ``body_world``) move and differ from its OFFSET.
* Units are the file's own (usually centimetres); frame time is in seconds.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np

from data_processing import kinematics, number_scan, rotations
from data_processing.files import PipelineError, atomic_path, read_json, write_json

ROTATION_CHANNELS = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}
POSITION_CHANNELS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}


def joint_side(name: str) -> str:
    """``left``, ``right`` or ``centre`` by a joint's name (``Left…``, ``…_l_…``, ``r_…``)."""
    low = name.lower()
    if "left" in low or re.search(r"(^|_)l(_|$)", low):
        return "left"
    if "right" in low or re.search(r"(^|_)r(_|$)", low):
        return "right"
    return "centre"


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
    def translating(self) -> np.ndarray:
        """Joints whose local translation may change per frame (``rot6d`` stores them).

        The root, then every other joint with position channels (GENEA's ``b_root``), in
        joint order.
        """
        others = [j for j in range(self.n_joints) if j != self.root
                  and any(c in POSITION_CHANNELS for c in self.channels[j])]
        return np.array([self.root, *others], dtype=np.int64)

    @cached_property
    def levels(self) -> list[np.ndarray]:
        """Joint indices grouped by depth in the tree, roots first (for batched FK)."""
        return kinematics.depth_levels(self.parents)

    def children(self, joint: int) -> np.ndarray:
        """Indices of the direct children of ``joint``."""
        return np.flatnonzero(self.parents == joint)

    def translations(self, moving: np.ndarray) -> np.ndarray:
        """Local translations ``(T, J, 3)`` for FK: the offsets, with the moving joints' replaced.

        Parameters
        ----------
        moving : np.ndarray [shape=(T, 3) or (T, P, 3)]
            Translation per frame of the root alone ``(T, 3)``, or of every joint of
            :attr:`translating` ``(T, P, 3)``.
        """
        moving = np.asarray(moving, dtype=np.float64)
        joints = [self.root] if moving.ndim == 2 else self.translating
        out = np.broadcast_to(self.offsets, (len(moving), self.n_joints, 3)).copy()
        out[:, joints] = moving.reshape(len(moving), len(joints), 3)
        return out

    def rest_positions(self) -> np.ndarray:
        """Global joint positions ``(J, 3)`` of the rest pose (every rotation the identity)."""
        identity = np.broadcast_to(np.eye(3), (self.n_joints, 3, 3))
        return kinematics.forward_kinematics(self.parents, identity, self.offsets,
                                             levels=self.levels)

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

MAX_CHANNELS_PER_JOINT = 6
"""At most three position and three rotation channels per joint."""
MAX_MAGNITUDE = 1e6
"""Largest absolute OFFSET or channel value accepted (cm or degrees: far beyond any motion)."""
FRAME_TIME_RANGE = (1e-3, 1.0)
"""Accepted ``Frame Time`` in seconds: 1000 down to 1 frame per second."""
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

_MOTION = re.compile(rb"^[ \t]*MOTION[ \t]*\r?$", flags=re.MULTILINE)
_CHANNEL_NAMES = frozenset(ROTATION_CHANNELS) | frozenset(POSITION_CHANNELS)
_FRAMES = re.compile(rb"\s*Frames\s*:\s*(\d+)\s*")
_FRAME_TIME = re.compile(rb"\s*Frame\s+Time\s*:\s*(\S+)\s*")
_DECIMAL_TEXT = re.compile(number_scan.DECIMAL.pattern.decode())
_DECIMAL_CHARACTERS = frozenset("0123456789+-.eE")


def read_bvh(path) -> BVHMotion:
    """Read a BVH file (any hierarchy, channel layout, Euler order and frame time).

    The header is parsed token by token; the MOTION block is parsed in one compiled pass
    (:mod:`data_processing.number_scan`). The file may start with a UTF-8 or UTF-16 byte order
    mark and use any line ending.

    Raises
    ------
    PipelineError
        Naming the file and line: a malformed or truncated file, a value that is not finite or
        beyond :data:`MAX_MAGNITUDE`, a ``Frame Time`` outside :data:`FRAME_TIME_RANGE`.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    raw = _normalised_bytes(path, path.read_bytes())
    match = _motion_line(raw)
    if match is None:
        raise PipelineError(f"{path}: not a BVH file (no MOTION section)")
    header = raw[: match.start()].decode("utf-8", errors="replace")
    skeleton = _HierarchyParser(path, header).parse()
    motion_line = raw.count(b"\n", 0, match.start()) + 1
    head = _parse_motion_header(path, raw, match.end() + 1, motion_line + 1)
    frames = _parse_frames(path, raw, head, skeleton.n_channels)
    return BVHMotion(skeleton, frames, head.frame_time)


def _normalised_bytes(path: Path, raw: bytes) -> bytes:
    """UTF-8 text with LF line ends: drop a UTF-8 BOM, decode UTF-16, turn lone CRs into LFs."""
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]
    elif raw[:2] in UTF16_BOMS:
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as error:
            raise PipelineError(f"{path}: broken UTF-16 text ({error.reason})") from None
    if b"\n" not in raw and b"\r" in raw:
        raw = raw.replace(b"\r", b"\n")
    return raw


def _motion_line(raw: bytes) -> re.Match | None:
    """The first ``MOTION`` line, as ``_MOTION.search(raw)`` finds it.

    Only the lines holding the word are tried: a regex search would test every line start.
    """
    at = raw.find(b"MOTION")
    while at >= 0:
        match = _MOTION.match(raw, raw.rfind(b"\n", 0, at) + 1)
        if match:
            return match
        at = raw.find(b"MOTION", at + 1)
    return None


def _token_line(text: str, index: int) -> int:
    """1-based line of ``text.splitlines()`` that holds token ``index`` of ``text.split()``."""
    seen = itertools.accumulate(len(line.split()) for line in text.splitlines())
    return next(number for number, count in enumerate(seen, 1) if count > index)


def _decimals(tokens: list[str]) -> list[float] | None:
    """``float`` of every token if each is a decimal (matches ``_DECIMAL_TEXT``), else None.

    Over ASCII digits, signs, points and exponent letters, ``float`` accepts exactly the
    decimals, several times faster than the regex; other tokens (digits of other scripts,
    ``nan``, ``1_0``) are judged by the regex.
    """
    if _DECIMAL_CHARACTERS.issuperset("".join(tokens)):
        try:
            return [float(t) for t in tokens]
        except ValueError:
            return None
    return [float(t) for t in tokens] if all(map(_DECIMAL_TEXT.fullmatch, tokens)) else None


class _HierarchyParser:
    """The HIERARCHY section, token by token, into a :class:`Skeleton`."""

    def __init__(self, path: Path, header: str):
        self.path = path
        self.header = header
        self.tokens = header.split()  # the tokens of the lines of header.splitlines(), in turn
        self.names: list[str] = []
        self.known: set[str] = set()
        self.parents: list[int] = []
        self.offsets: list[list[float] | None] = []
        self.channels: list[tuple[str, ...]] = []
        self.end_site: list[bool] = []
        self.stack: list[int] = []
        self.pending: int | None = None
        self.i = 0

    def fail(self, problem: str, at: int | None = None) -> PipelineError:
        """The error for ``problem`` at token ``at`` (default: the current token)."""
        at = self.i if at is None else at
        line = _token_line(self.header, min(at, len(self.tokens) - 1)) if self.tokens else 1
        return PipelineError(f"{self.path}:{line}: {problem}")

    def take(self, count: int, what: str) -> list[str]:
        """The ``count`` tokens after the current one."""
        if self.i + count >= len(self.tokens):
            raise self.fail(f"unexpected end of HIERARCHY while reading {what}",
                            len(self.tokens) - 1)
        return self.tokens[self.i + 1 : self.i + 1 + count]

    def parse(self) -> Skeleton:
        """The skeleton of the whole section."""
        if not self.tokens or self.tokens[0] != "HIERARCHY":
            raise self.fail("expected HIERARCHY at the start of the file", 0)
        handlers = {"ROOT": self._joint, "JOINT": self._joint, "End": self._end_site,
                    "{": self._open, "}": self._close, "OFFSET": self._offset,
                    "CHANNELS": self._channels}
        self.i = 1
        tokens = self.tokens
        while self.i < len(tokens):
            token = tokens[self.i]
            handler = handlers.get(token)
            if handler is None:
                raise self.fail(f"unexpected {token!r} in HIERARCHY")
            self.i += handler(token)
        return self._skeleton()

    def _skeleton(self) -> Skeleton:
        if self.stack or self.pending is not None:
            open_joint = self.stack[-1] if self.stack else self.pending
            raise self.fail(f"joint {self.names[open_joint]!r} is not closed (missing '}}')",
                            len(self.tokens) - 1)
        if not self.names:
            raise self.fail("no ROOT joint", 0)
        if not any(self.channels):
            raise self.fail("no joint has CHANNELS", len(self.tokens) - 1)
        return Skeleton(tuple(self.names), np.array(self.parents), np.array(self.offsets),
                        tuple(self.channels), np.array(self.end_site))

    def _add(self, name: str, parent: int, is_end: bool) -> None:
        if self.pending is not None:
            raise self.fail(f"expected '{{' after joint {self.names[self.pending]!r}")
        self.names.append(name)
        self.known.add(name)
        self.parents.append(parent)
        self.end_site.append(is_end)
        self.offsets.append(None)
        self.channels.append(())
        self.pending = len(self.names) - 1

    def _joint(self, token: str) -> int:
        if (token == "ROOT") != (not self.stack):
            raise self.fail(f"unexpected {token} (ROOT only at top level, JOINT inside a joint)")
        if self.stack and self.end_site[self.stack[-1]]:
            raise self.fail("an End Site cannot have children")
        (name,) = self.take(1, f"the {token} name")
        if name in self.known:
            raise self.fail(f"duplicate joint name {name!r}")
        self._add(name, self.stack[-1] if self.stack else -1, False)
        return 2

    def _end_site(self, _token: str) -> int:
        if not self.stack or self.take(1, "End Site")[0] != "Site":
            raise self.fail("End Site outside a joint")
        parent = self.stack[-1]
        name = f"{self.names[parent]}_End"
        while name in self.known:
            name += "_"
        self._add(name, parent, True)
        return 2

    def _open(self, _token: str) -> int:
        if self.pending is None:
            raise self.fail("'{' without a joint")
        self.stack.append(self.pending)
        self.pending = None
        return 1

    def _close(self, _token: str) -> int:
        if not self.stack:
            raise self.fail("unbalanced '}'")
        joint = self.stack.pop()
        if self.offsets[joint] is None:
            raise self.fail(f"joint {self.names[joint]!r} has no OFFSET")
        return 1

    def _offset(self, _token: str) -> int:
        if not self.stack:
            raise self.fail("OFFSET outside a joint")
        values = self.take(3, "OFFSET")
        numbers = _decimals(values)
        if numbers is None:
            raise self.fail("OFFSET needs three numbers")
        x, y, z = numbers
        if not (abs(x) <= MAX_MAGNITUDE and abs(y) <= MAX_MAGNITUDE and abs(z) <= MAX_MAGNITUDE):
            raise self.fail(f"OFFSET value out of range ({' '.join(values)}; "
                            f"the limit is ±{MAX_MAGNITUDE:g})")
        self.offsets[self.stack[-1]] = numbers
        return 4

    def _channels(self, _token: str) -> int:
        if not self.stack or self.end_site[self.stack[-1]]:
            raise self.fail("CHANNELS outside a joint")
        (text,) = self.take(1, "CHANNELS")
        if not (text.isascii() and text.isdigit()):
            raise self.fail(f"CHANNELS needs a count, got {text!r}")
        count = int(text)
        if count > MAX_CHANNELS_PER_JOINT:
            raise self.fail(f"CHANNELS count {count} is above {MAX_CHANNELS_PER_JOINT}")
        names = tuple(self.take(count + 1, "CHANNELS")[1:])
        problem = _channel_problem(names)
        if problem:
            raise self.fail(problem)
        self.channels[self.stack[-1]] = names
        return 2 + count


@functools.lru_cache(maxsize=64)
def _channel_problem(names: tuple[str, ...]) -> str:
    """What is wrong with a joint's channel list, ``""`` if nothing (joints share lists)."""
    bad = [c for c in names if c not in _CHANNEL_NAMES]
    if bad:
        return f"unknown channel {bad[0]!r}"
    return "repeated channel" if len(set(names)) != len(names) else ""


def _content_line(raw: bytes, pos: int, line: int) -> tuple[bytes, int, int]:
    """The next line that is not blank from byte ``pos`` (a line start) on line ``line``.

    Returns the line's bytes, its number and the position of the line after it.
    """
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end
        if raw[pos:end].strip():
            return raw[pos:end], line, end + 1
        pos, line = end + 1, line + 1
    return b"", line, len(raw)


class _MotionHeader(NamedTuple):
    """``Frames:`` and ``Frame Time:`` and where the values begin (byte and line)."""

    n_frames: int
    frames_line: int
    frame_time: float
    data_start: int
    data_line: int


def _parse_motion_header(path: Path, raw: bytes, pos: int, line: int) -> _MotionHeader:
    """``Frames:`` and ``Frame Time:`` from byte ``pos`` (the start of line ``line``) on."""
    text, frames_line, pos = _content_line(raw, pos, line)
    frames = _FRAMES.fullmatch(text)
    if frames is None:
        raise PipelineError(f"{path}:{frames_line}: expected 'Frames: <count>'")
    text, line, pos = _content_line(raw, pos, frames_line + 1)
    ftime = _FRAME_TIME.fullmatch(text)
    if ftime is None:
        raise PipelineError(f"{path}:{line}: expected 'Frame Time: <seconds>'")
    token = ftime.group(1).decode(errors="replace")
    if not _DECIMAL_TEXT.fullmatch(token):
        raise PipelineError(f"{path}:{line}: Frame Time {token!r} is not a number of seconds")
    frame_time = float(token)
    low, high = FRAME_TIME_RANGE
    if not low <= frame_time <= high:
        raise PipelineError(
            f"{path}:{line}: Frame Time {token} s is outside {low:g} to {high:g} s "
            f"({1 / high:g} to {1 / low:g} frames per second)")
    return _MotionHeader(int(frames.group(1)), frames_line, frame_time, min(pos, len(raw)),
                         line + 1)


def _parse_frames(path: Path, raw: bytes, head: _MotionHeader, n_channels: int) -> np.ndarray:
    """The MOTION values ``(n_frames, n_channels)``, with a one-line error on any defect.

    The values start at byte ``head.data_start`` of ``raw``, on line ``head.data_line``; they
    are scanned in place. The frame count is checked against what the bytes can hold before
    anything is allocated for it.
    """
    n_frames, line = head.n_frames, head.data_line
    size = len(raw) - head.data_start
    capacity = (size + 1) // 2  # every value takes a digit and a separator
    if n_frames * n_channels > capacity:
        raise PipelineError(
            f"{path}:{head.frames_line}: truncated: 'Frames: {n_frames}' needs "
            f"{n_frames * n_channels} values but the {size} bytes after the header hold "
            f"at most {capacity // n_channels} frames of {n_channels} values")
    values = np.empty(n_frames * n_channels)
    data = np.frombuffer(raw, np.uint8, offset=head.data_start)
    count, status, bad, per_line = number_scan.scan_numbers(data, values)
    if status == number_scan.SYNTAX_ERROR:
        token = number_scan.bad_token(raw[head.data_start:].split(b"\n")[bad])
        raise PipelineError(f"{path}:{line + bad}: not a number: {token!r}")
    rows = np.flatnonzero(per_line)
    _check_rows(path, per_line, rows, n_frames, n_channels, line)
    if status == number_scan.INEXACT:
        values = np.array(raw[head.data_start:].split(), dtype=np.float64)
    frames = values[:count].reshape(n_frames, n_channels)
    _check_magnitudes(path, frames, rows, line)
    return frames


def _check_rows(path: Path, per_line: np.ndarray, rows: np.ndarray, n_frames: int,
                n_channels: int, line: int) -> None:
    """Every non-blank line holds one frame, and there are ``n_frames`` of them."""
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


def _check_magnitudes(path: Path, frames: np.ndarray, rows: np.ndarray, line: int) -> None:
    """Every value is finite and within :data:`MAX_MAGNITUDE` (``1e400`` parses as inf)."""
    if not frames.size or frames.min() >= -MAX_MAGNITUDE and frames.max() <= MAX_MAGNITUDE:
        return
    frame, column = np.argwhere(~(np.abs(frames) <= MAX_MAGNITUDE))[0]
    raise PipelineError(
        f"{path}:{line + int(rows[frame])}: value {frames[frame, column]:g} in column "
        f"{column + 1} is out of range (the limit is ±{MAX_MAGNITUDE:g})")


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
