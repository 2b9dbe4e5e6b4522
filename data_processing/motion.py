"""The one home of motion I/O: every motion a step meets becomes a :class:`Motion`.

Sources a step can be given (:func:`load_sources`):

* a ``.bvh`` file: its own skeleton and frame rate, rotations exact;
* an array ``.npy`` / ``.txt`` on a dataset's skeleton and frame rate, one row per frame:
  positions ``(T, 3 J)`` or ``(T, J, 3)``, ``pos_vel`` vectors ``(T, 6 J)`` or ``rot6d``
  vectors ``(T, 6 R + 3 P)`` (:mod:`data_processing.representations`; the width tells which,
  the dataset's representation settles widths that fit two). An ``.npy`` of shape ``(N, T, D)``
  holds ``N`` samples of one sequence (:func:`load_samples`);
* a dataset sequence ``sequences/<split>/<id>.npz`` (its ground truth);
* an SMPL-X motion ``.npz`` (BEAT2's ``smplxflame_30/*.npz``: ``poses``, ``trans``; see
  :mod:`data_processing.smplx`) on the given or the dataset's SMPL-X skeleton, else on the
  approximate template (:func:`from_smplx`);
* a directory: one motion file per id (:func:`motion_files`);
* ``DATA_DIR:SPLIT`` (e.g. ``demo/a2g:test``): the ground truth of every sequence of a
  prepared split, with its speech file (:func:`load_split`).

Ids (:func:`motion_id`): a file's stem without an ``X_test_`` prefix, the IVA'19 names
``audioN`` / ``gestureN`` reduced to ``N``; files are matched by id, never by position
(:func:`match_ids`). Temporary names of unfinished writes are never read
(:func:`data_processing.files.list_inputs`).

Writing (:func:`save_motion`): ``.bvh`` through :meth:`Motion.to_bvh` (the one BVH export
path of the project: rotations as they are, or fitted to positions by inverse kinematics;
Euler angles unwrapped over time), or arrays of a dataset's representation.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from data_processing import ik, representations, smplx
from data_processing.bvh import BVHMotion, Skeleton, read_bvh, write_bvh
from data_processing.dataset import SPLITS, DatasetMeta
from data_processing.files import (
    AUDIO_SUFFIXES,
    PipelineError,
    list_inputs,
    load_array,
    save_array,
)
from data_processing.kinematics import forward_kinematics, resample, resample_linear

log = logging.getLogger(__name__)

ARRAY_SUFFIXES = (".npy", ".txt")
MOTION_SUFFIXES = (".bvh", *ARRAY_SUFFIXES)
WINDOW_PREFIX = "X_test_"
PINNED_TOLERANCE = 0.02  # of the root's offset length: how far a predicted pinned root wobbles


@dataclass(eq=False)
class Motion:
    """One motion: joint positions and, where known, the rotations that make them.

    Parameters
    ----------
    positions : np.ndarray [shape=(T, J, 3)]
        Global joint positions in the skeleton's units.
    fps : float > 0
        Frame rate.
    skeleton : Skeleton or None
        The skeleton (``None`` for a positions array read without one).
    rotations : np.ndarray [shape=(T, J, 3, 3)], optional
        Local joint rotations (BVH files, ``rot6d`` vectors, dataset sequences).
    translations : np.ndarray [shape=(T, J, 3)], optional
        Local translations that go with ``rotations`` (offsets, root and position channels).
    name : str
        Where it came from; error messages name it.
    audio : pathlib.Path, optional
        The speech that goes with it (dataset sequences).
    """

    positions: np.ndarray
    fps: float
    skeleton: Skeleton | None = None
    rotations: np.ndarray | None = None
    translations: np.ndarray | None = None
    name: str = "motion"
    audio: Path | None = None

    def __post_init__(self):
        self.positions = np.asarray(self.positions, dtype=np.float64)
        if self.positions.ndim != 3 or self.positions.shape[-1] != 3:
            raise PipelineError(f"{self.name}: expected positions (frames, joints, 3), found "
                                f"{self.positions.shape}")
        if not self.fps > 0:
            raise PipelineError(f"{self.name}: expected a frame rate > 0, found {self.fps}")
        if self.skeleton is not None and self.positions.shape[1] != self.skeleton.n_joints:
            raise PipelineError(f"{self.name}: {self.positions.shape[1]} joints, the skeleton "
                                f"has {self.skeleton.n_joints}")

    @property
    def n_frames(self) -> int:
        """Number of frames ``T``."""
        return len(self.positions)

    @property
    def duration(self) -> float:
        """Seconds of motion, ``T / fps``."""
        return self.n_frames / self.fps

    @property
    def stem(self) -> str:
        """The id-bearing part of :attr:`name` (a file stem or a sequence id)."""
        return Path(self.name).stem

    @property
    def joint_names(self) -> tuple[str, ...] | None:
        """Names of the joints (``None`` without a skeleton)."""
        return None if self.skeleton is None else self.skeleton.names

    @property
    def root(self) -> int:
        """Index of the skeleton's root joint (joint 0 without a skeleton)."""
        return 0 if self.skeleton is None else self.skeleton.root

    def root_relative(self) -> np.ndarray:
        """Positions ``(T, J, 3)`` relative to the root joint (the IVA'19 pinned root)."""
        return self.positions - self.positions[:, self.root : self.root + 1]

    def select(self, names) -> np.ndarray:
        """Positions ``(T, len(names), 3)`` of the named joints, in the order given."""
        if self.joint_names is None:
            raise PipelineError(f"{self.name}: joint names unknown (give the dataset skeleton)")
        index = {n: i for i, n in enumerate(self.joint_names)}
        missing = [n for n in names if n not in index]
        if missing:
            raise PipelineError(f"{self.name}: no joint(s) {', '.join(missing[:5])} "
                                f"(it has {len(self.joint_names)} joints)")
        return self.positions[:, [index[n] for n in names]]

    def resample(self, fps: float) -> Motion:
        """The motion at another frame rate, by interpolation (never by dropping frames).

        Rotations by quaternion slerp (positions then by FK), positions alone linearly.
        ``T' = frame_count(T / self.fps, fps)``.
        """
        if np.isclose(fps, self.fps, rtol=1e-4):
            return self
        if self.rotations is None:
            return replace(self, positions=resample_linear(self.positions, self.fps, fps),
                           fps=float(fps))
        rotations, translations = resample(self.rotations, self.translations,
                                           src_fps=self.fps, dst_fps=fps)
        return from_rotations(rotations, translations, self.skeleton, fps, name=self.name,
                              audio=self.audio)

    def crop(self, n_frames: int) -> Motion:
        """The first ``n_frames`` frames."""
        def cut(a):
            return None if a is None else a[:n_frames]

        return replace(self, positions=self.positions[:n_frames],
                       rotations=cut(self.rotations), translations=cut(self.translations))

    def vectors(self, kind: str) -> np.ndarray:
        """The motion as an array of one of :data:`~data_processing.representations.ARRAY_KINDS`.

        ``positions`` ``(T, 3 J)``, ``pos_vel`` ``(T, 6 J)`` (the positions as they are and
        their frame difference: a dataset's ``pos_vel`` is of root-pinned positions, and so is
        an IVA'19 prediction) or ``rot6d`` ``(T, 6 R + 3 P)`` (needs rotations).
        """
        if kind == "positions":
            return self.positions.reshape(self.n_frames, -1)
        if kind == "pos_vel":
            return representations.pos_vel(self.positions)
        if kind == "rot6d":
            if self.rotations is None:
                raise PipelineError(f"{self.name}: positions without rotations cannot be "
                                    "written as rot6d (write .bvh or positions)")
            skeleton = self._require_skeleton("rot6d")
            return representations.rot6d_from_rotations(self.rotations, self.translations,
                                                        skeleton)
        raise PipelineError(f"{self.name}: unknown motion kind {kind!r} (use "
                            f"{', '.join(representations.ARRAY_KINDS)})")

    def to_bvh(self, *, translating=None) -> BVHExport:
        """The motion as a :class:`BVHMotion` on its skeleton (the one BVH export path).

        Rotations are written as they are; a motion of positions only is fitted by inverse
        kinematics (:func:`data_processing.ik.positions_to_rotations`, twist from the rest
        pose), a root pinned at the origin (IVA'19) first placed at its rest offset
        (:func:`stand_pinned_root`). Euler angles are unwrapped over time.

        Parameters
        ----------
        translating : sequence of int, optional
            Non-root joints whose translation is fitted (positions only); default
            :func:`default_translating`.
        """
        skeleton = self._require_skeleton("BVH export")
        if self.rotations is not None:
            bvh = BVHMotion.from_rotations(skeleton, self.rotations, None, 1.0 / self.fps,
                                           translations=self.translations)
            return BVHExport(unwrap_euler(bvh), None)
        positions = stand_pinned_root(self.positions, skeleton)
        translating = default_translating(skeleton) if translating is None else translating
        fit = ik.positions_to_rotations(skeleton.parents, skeleton.offsets, positions,
                                        translating=translating, levels=skeleton.levels)
        bvh = BVHMotion.from_rotations(skeleton, fit.local_rotations, None, 1.0 / self.fps,
                                       translations=fit.translations)
        return BVHExport(unwrap_euler(bvh), fit)

    def _require_skeleton(self, what: str) -> Skeleton:
        if self.skeleton is None:
            raise PipelineError(f"{self.name}: {what} needs the skeleton (give the dataset)")
        return self.skeleton


class BVHExport(NamedTuple):
    """What :meth:`Motion.to_bvh` made.

    Attributes
    ----------
    motion : BVHMotion
        The motion on the skeleton.
    fit : IKResult or None
        The inverse-kinematics fit (motions of positions only); ``fit.error`` is the mean
        position error in the skeleton's units.
    """

    motion: BVHMotion
    fit: ik.IKResult | None


# --------------------------------------------------------------------------------------------
# Building motions


def from_bvh(bvh: BVHMotion, *, name: str = "motion", audio: Path | None = None) -> Motion:
    """A :class:`Motion` of a BVH motion (rotations and translations exact)."""
    return from_rotations(bvh.local_rotations(), bvh.local_translations(), bvh.skeleton,
                          bvh.fps, name=name, audio=audio)


def from_rotations(rotations: np.ndarray, translations: np.ndarray, skeleton: Skeleton,
                   fps: float, *, name: str = "motion", audio: Path | None = None) -> Motion:
    """A :class:`Motion` of local rotations ``(T, J, 3, 3)`` and translations ``(T, J, 3)``."""
    positions = forward_kinematics(skeleton.parents, rotations, translations,
                                   levels=skeleton.levels)
    return Motion(positions, float(fps), skeleton, rotations, translations, name, audio)


def from_smplx(path, *, skeleton: Skeleton | None = None, model=None,
               joints: str = "all") -> Motion:
    """A :class:`Motion` of an SMPL-X motion file (rotations exact, root from ``trans``).

    Parameters
    ----------
    path : path-like
        The ``.npz`` (:func:`data_processing.smplx.read_smplx`).
    skeleton : Skeleton, optional
        The SMPL-X skeleton to put it on (a dataset's: its joints and offsets).
    model : path-like, optional
        Without ``skeleton``: the user's SMPL-X model file, whose joint regressor gives the
        offsets for the file's ``betas``. Without either, the approximate template, with a
        warning (:data:`data_processing.smplx.TEMPLATE_WARNING`).
    joints : {"all", "body"}
        Joint set of a skeleton made here (:data:`data_processing.smplx.JOINT_SETS`).
    """
    data = smplx.read_smplx(path)
    if skeleton is None and model is not None:
        skeleton = smplx.skeleton(smplx.load_model(model).joints(data.betas), joints)
    elif skeleton is None:
        log.warning("%s: %s", path, smplx.TEMPLATE_WARNING)
        skeleton = smplx.template_skeleton(joints)
    rotations, translations = smplx.local_motion(data, skeleton, source=str(path))
    return from_rotations(rotations, translations, skeleton, data.fps, name=str(path))


def from_vectors(vectors: np.ndarray, skeleton: Skeleton | None, fps: float, *,
                 kind: str = "auto", preferred: str | None = None,
                 name: str = "motion") -> Motion:
    """A :class:`Motion` of a motion array ``(T, D)`` (or positions ``(T, J, 3)``).

    Parameters
    ----------
    vectors : np.ndarray [shape=(T, D)]
        ``positions``, ``pos_vel`` or ``rot6d`` rows (:mod:`data_processing.representations`).
    skeleton : Skeleton or None
        The skeleton the rows are on (only positions can be read without one).
    fps : float > 0
        Frame rate of the rows.
    kind : {"auto", "positions", "pos_vel", "rot6d"}
        Force a kind; ``auto`` tells it from the width.
    preferred : str, optional
        The kind chosen when a width fits two (usually the dataset's representation).
    name : str
        Named in error messages.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim == 3 and vectors.shape[-1] == 3:
        vectors = vectors.reshape(len(vectors), -1)
    if vectors.ndim != 2 or len(vectors) < 1:
        raise PipelineError(f"{name}: expected a (frames, values) array, found shape "
                            f"{vectors.shape}")
    if not np.isfinite(vectors).all():
        raise PipelineError(f"{name}: contains NaN or infinite values")
    kind = representations.array_kind(vectors.shape[1], skeleton, source=name,
                                      representation=kind, preferred=preferred)
    if kind == "rot6d":
        rotations, translations = representations.rot6d_to_rotations(vectors, skeleton)
        return from_rotations(rotations, translations, skeleton, fps, name=name)
    return Motion(representations.to_positions(vectors, skeleton, kind), float(fps), skeleton,
                  name=name)


# --------------------------------------------------------------------------------------------
# Pinned roots and BVH channels


def default_translating(skeleton: Skeleton) -> list[int]:
    """Non-root joints that carry their own translation, by the layout of the skeleton.

    A root at zero offset (GENEA's ``body_world``) is a world node: its children with position
    channels (GENEA's ``b_root``, the hips) translate. Every other joint keeps its offset.
    """
    out = []
    for root in np.flatnonzero(skeleton.parents < 0):
        if np.linalg.norm(skeleton.offsets[root]) > 0.0:
            continue
        for child in skeleton.children(int(root)):
            if any(c.endswith("position") for c in skeleton.channels[child]):
                out.append(int(child))
    return out


def stand_pinned_root(positions: np.ndarray, skeleton: Skeleton,
                      tolerance: float = PINNED_TOLERANCE) -> np.ndarray:
    """Move a motion whose root is pinned at the origin so that the root is at its rest offset.

    IVA'19 positions are root-pinned (the hips at the origin), which in an animation tool puts
    the hips on the floor. A root that stays within ``tolerance`` times its offset length of
    the origin in every frame counts as pinned (a model's prediction of a pinned root wobbles a
    little); the whole motion is then shifted by the root's rest offset. Other motions, and
    roots with a zero offset (GENEA's world node), are returned unchanged.
    """
    offset = skeleton.offsets[skeleton.root]
    length = float(np.linalg.norm(offset))
    root = positions[:, skeleton.root]
    if length == 0.0 or np.linalg.norm(root, axis=-1).max() > tolerance * length:
        return positions
    return positions + offset


def unwrap_euler(motion: BVHMotion) -> BVHMotion:
    """Make every rotation channel continuous over time (add multiples of 360 degrees).

    Conversion from matrices gives angles in (-180, 180] frame by frame, so a joint turning
    past 180 degrees jumps by 360; the rotations are the same, but animation tools would
    interpolate the long way round between the two keys.
    """
    skel = motion.skeleton
    columns = [int(skel.channel_start[j]) + k for j in range(skel.n_joints)
               for k, c in enumerate(skel.channels[j]) if c.endswith("rotation")]
    frames = motion.frames.copy()
    frames[:, columns] = np.unwrap(frames[:, columns], period=360.0, axis=0)
    return BVHMotion(skel, frames, motion.frame_time)


# --------------------------------------------------------------------------------------------
# Ids and directories


def pairing_key(stem: str) -> str:
    """The key that pairs a speech file with a motion file: the stem, or N for audioN/gestureN."""
    match = re.fullmatch(r"(?:audio|gesture)(\d+)", stem)
    return match.group(1) if match else stem


def motion_id(path) -> str:
    """The id of a motion or input file (see the module docstring)."""
    return pairing_key(Path(path).stem.removeprefix(WINDOW_PREFIX))


def list_files(directory, suffixes) -> list[Path]:
    """The files of ``directory`` with one of ``suffixes``, sorted, temporary names skipped."""
    if not Path(directory).is_dir():
        raise PipelineError(f"{directory}: no such directory")
    return list_inputs(directory, suffixes)


def motion_files(directory, suffixes=MOTION_SUFFIXES) -> dict[str, Path]:
    """``id -> file`` for every motion file of a directory (one-line error if none or clashes)."""
    files: dict[str, Path] = {}
    for path in list_files(directory, suffixes):
        key = motion_id(path)
        if key in files:
            raise PipelineError(f"{directory}: {files[key].name} and {path.name} have the same "
                                f"id {key!r}")
        files[key] = path
    if not files:
        raise PipelineError(f"{directory}: no motion files ({', '.join(suffixes)})")
    return files


def match_ids(wanted, files: dict[str, Path], source) -> list[Path]:
    """The files of ``wanted`` ids, in that order; a missing or an extra id is an error."""
    wanted = list(wanted)
    missing, extra = sorted(set(wanted) - set(files)), sorted(set(files) - set(wanted))
    if missing or extra:
        problems = [f"no file for id(s) {', '.join(missing)}" if missing else "",
                    f"no ground truth for id(s) {', '.join(extra)}" if extra else ""]
        raise PipelineError(f"{source}: {'; '.join(p for p in problems if p)} "
                            f"(expected ids {', '.join(wanted)})")
    return [files[key] for key in wanted]


# --------------------------------------------------------------------------------------------
# Reading


def _array_context(path: Path, dataset: DatasetMeta | None, skeleton: Skeleton | None,
                   fps: float | None) -> tuple[Skeleton | None, float, str | None]:
    if dataset is not None:
        skeleton = dataset.skeleton if skeleton is None else skeleton
        fps = dataset.fps if fps is None else fps
    if fps is None:
        raise PipelineError(f"{path}: the frame rate of array files is needed (give the "
                            "dataset or --fps)")
    return skeleton, float(fps), None if dataset is None else dataset.motion


def _npz(path: Path, dataset: DatasetMeta | None, skeleton: Skeleton | None,
         fps: float | None) -> Motion:
    """An SMPL-X motion (arrays ``poses`` and ``trans``) or a dataset sequence."""
    try:
        with np.load(path) as data:
            names = data.files
    except (OSError, ValueError, EOFError) as error:
        raise PipelineError(f"{path}: not a readable .npz ({error})") from None
    if smplx.is_smplx(names):
        if skeleton is None and dataset is not None:
            skeleton = dataset.skeleton
        return from_smplx(path, skeleton=skeleton)
    return _sequence(path, dataset, skeleton, fps)


def _sequence(path: Path, dataset: DatasetMeta | None, skeleton: Skeleton | None,
              fps: float | None) -> Motion:
    """A dataset sequence ``.npz``: its rotations when it has them, else its positions."""
    skeleton, fps, _ = _array_context(path, dataset, skeleton, fps)
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    if "positions" not in arrays:
        raise PipelineError(f"{path}: no 'positions' array (a dataset sequence has one; an "
                            "SMPL-X motion has 'poses' and 'trans')")
    if "rot6d" in arrays and skeleton is not None:
        motion = from_vectors(arrays["rot6d"], skeleton, fps, kind="rot6d", name=str(path))
        positions = arrays["positions"].reshape(motion.n_frames, -1, 3)
        return replace(motion, positions=positions.astype(np.float64))
    return from_vectors(arrays["positions"], skeleton, fps, kind="positions", name=str(path))


def load_samples(path, *, dataset: DatasetMeta | None = None, skeleton: Skeleton | None = None,
                 fps: float | None = None, kind: str = "auto") -> list[Motion]:
    """Every motion of one file: one, or ``N`` for an ``.npy`` of ``N`` samples ``(N, T, D)``.

    Parameters
    ----------
    path : path-like
        ``.bvh``, ``.npy``, ``.txt``, a dataset sequence ``.npz`` or an SMPL-X ``.npz``.
    dataset : DatasetMeta, optional
        Skeleton, frame rate and representation of array files.
    skeleton : Skeleton, optional
        The skeleton of array files and SMPL-X motions (overrides the dataset's).
    fps : float, optional
        Frame rate of array files (overrides the dataset's); a BVH has its own.
    kind : {"auto", "positions", "pos_vel", "rot6d"}
        Kind of array rows (:func:`from_vectors`).
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    if path.suffix == ".bvh":
        bvh = read_bvh(path)
        if bvh.n_frames < 1:
            raise PipelineError(f"{path}: no frames")
        return [from_bvh(bvh, name=str(path))]
    if path.suffix == ".npz":
        return [_npz(path, dataset, skeleton, fps)]
    if path.suffix not in ARRAY_SUFFIXES:
        raise PipelineError(f"{path}: not a motion file (use .bvh, .npy, .txt or .npz)")
    skeleton, fps, preferred = _array_context(path, dataset, skeleton, fps)
    array = load_array(path)
    stack = array if array.ndim == 3 and array.shape[-1] != 3 else [array]
    return [from_vectors(rows, skeleton, fps, kind=kind, preferred=preferred, name=str(path))
            for rows in stack]


def load_motion(path, **options) -> Motion:
    """The one motion of a file (see :func:`load_samples` for the options)."""
    samples = load_samples(path, **options)
    if len(samples) != 1:
        raise PipelineError(f"{path}: {len(samples)} samples, expected one motion")
    return samples[0]


def parse_split_source(source) -> tuple[Path, str] | None:
    """``(DATA_DIR, split)`` when ``source`` reads ``DATA_DIR:SPLIT``, else ``None``."""
    head, sep, split = str(source).rpartition(":")
    if not sep or split not in SPLITS or not head:
        return None
    return Path(head), split


def sequence_audio(meta: DatasetMeta, split: str, seq_id: str) -> Path | None:
    """The speech file of a dataset sequence: the split's inputs, else the recorded source."""
    inputs = meta.root / split / "inputs"
    candidates = [inputs / f"{seq_id}{suffix}" for suffix in AUDIO_SUFFIXES]
    candidates.append(Path(meta.files.get(seq_id, {}).get("wav", "")))
    return next((p for p in candidates if p.name and p.is_file()), None)


def load_split(data_dir, split: str) -> list[Motion]:
    """The ground-truth motions of a prepared dataset split, in id order, with their speech."""
    meta = data_dir if isinstance(data_dir, DatasetMeta) else DatasetMeta.load(data_dir)
    if split not in meta.splits:
        raise PipelineError(f"{meta.root / 'meta.json'}: no split {split!r}")
    if not meta.splits[split]:
        raise PipelineError(f"{meta.root}:{split}: the split has no sequences")
    motions = []
    for seq_id in meta.splits[split]:
        motion = _sequence(meta.root / "sequences" / split / f"{seq_id}.npz", meta, None, None)
        motions.append(replace(motion, name=f"{meta.root}:{split}/{seq_id}",
                               audio=sequence_audio(meta, split, seq_id)))
    return motions


def expand_sources(sources) -> list[str | Path]:
    """Sources with directories replaced by their motion files (``DATA_DIR:SPLIT`` kept)."""
    out: list[str | Path] = []
    for source in sources:
        if parse_split_source(source) is not None:
            out.append(str(source))
        elif Path(source).is_dir():
            out.extend(motion_files(source).values())
        elif not Path(source).exists():
            raise PipelineError(f"{source}: no such file or directory")
        else:
            out.append(Path(source))
    return out


def load_sources(sources, *, target_fps: float | None = None, **options) -> list[Motion]:
    """Every motion of the sources (see the module docstring), in the order given.

    ``options`` go to :func:`load_motion` (the skeleton and frame rate of array files);
    dataset splits use their own. Every motion is brought to ``target_fps`` when given.
    """
    motions = []
    for source in expand_sources(sources):
        split = parse_split_source(source) if isinstance(source, str) else None
        loaded = load_split(*split) if split else [load_motion(source, **options)]
        motions.extend(m if target_fps is None else m.resample(target_fps) for m in loaded)
    if not motions:
        raise PipelineError("no motions given")
    return motions


# --------------------------------------------------------------------------------------------
# Writing


def save_motion(path, samples: Motion | list[Motion], *, kind: str | None = None,
                precision: int = 6) -> list[Path]:
    """Write one motion or samples of one sequence by the extension of ``path``.

    ``.bvh``: one file per sample (``<stem>_sample<k>.bvh`` for several),
    through :meth:`Motion.to_bvh`. ``.npy`` / ``.txt``: rows of ``kind`` (one of
    :data:`~data_processing.representations.ARRAY_KINDS`, float32); ``(N, T, D)`` for
    ``N > 1`` samples (``.npy`` only). Every file is written atomically.
    """
    path = Path(path)
    samples = [samples] if isinstance(samples, Motion) else list(samples)
    if path.suffix == ".bvh":
        paths = [path] if len(samples) == 1 else [path.with_name(f"{path.stem}_sample{k}.bvh")
                                                 for k in range(len(samples))]
        for out, motion in zip(paths, samples):
            write_bvh(out, motion.to_bvh().motion, precision=precision)
        return paths
    if path.suffix not in ARRAY_SUFFIXES:
        raise PipelineError(f"{path}: expected an output ending in .npy, .txt or .bvh")
    if kind is None:
        raise PipelineError(f"{path}: which motion kind to write is needed")
    arrays = np.stack([m.vectors(kind) for m in samples]).astype(np.float32)
    if path.suffix == ".txt" and len(arrays) > 1:
        raise PipelineError(f"{path}: {len(arrays)} samples do not fit a .txt table "
                            "(write .npy or .bvh)")
    return [save_array(path, arrays[0] if len(arrays) == 1 else arrays)]
