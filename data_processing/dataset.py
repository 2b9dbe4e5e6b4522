"""The prepared dataset as later steps see it: ``DATA_DIR/meta.json`` and what it points to.

``create_vector.py`` writes, in ``DATA_DIR``::

    meta.json                  this description (written last: its presence means complete)
    skeleton.json              the dataset's skeleton
    stats/audio_{mean,std}.npy per feature, training split only
    stats/motion_{mean,std}.npy per output column, training split only
    stats/motion_absmax.npy    per column max |Y_train - mean| (the DAE's `centred` scale)
    stats/silence.npy          the feature vector of silence (context padding)
    X_{split}.npy              (N, N_CONTEXT + 1, F) context windows, raw features; written
                               only up to STORED_WINDOWS_LIMIT bytes (train.py forms them
                               from sequences/ otherwise: speech_encoder/windows.py)
    Y_{split}.npy              (N, D) motion vectors (pos_vel or rot6d)
    test_inputs/X_test_<id>.npy  windows of one test file
    sequences/<split>/<id>.npz   audio (T, F), motion (T, D), rot6d (T, 6R + 3P),
                                 positions (T, 3J) with root translation, same T

``prepare_data.py`` leaves ``<split>/transcripts/`` beside them when the recordings have
transcripts; ``meta.json`` records each sequence's (:meth:`DatasetMeta.transcript`,
:meth:`DatasetMeta.words`).

Every later step reads :class:`DatasetMeta` instead of asking for the flags again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from data_processing.bvh import Skeleton
from data_processing.files import (
    PipelineError,
    complete_interrupted_commit,
    load_array,
    read_json,
    write_json,
)
from data_processing.transcripts import frame_words, read_transcript

SPLITS = ("train", "dev", "test")
STATS = ("audio_mean", "audio_std", "motion_mean", "motion_std", "motion_absmax", "silence")
FORMAT_VERSION = 1
STORED_WINDOWS_LIMIT = 2**30
"""Largest ``X_{split}.npy`` (bytes) ``create_vector.py`` writes; above it, and by default when
training on a larger file, the windows are formed from ``sequences/`` on the fly."""


def stored_windows_bytes(n_rows: int, window: int, feature_size: int) -> int:
    """Bytes of ``n_rows`` float32 windows ``(window, feature_size)``, as ``X_{split}.npy``."""
    return n_rows * window * feature_size * 4


@dataclass
class DatasetMeta:
    """Settings and contents of a prepared dataset (``meta.json``).

    Parameters
    ----------
    fps : float
        Frame rate of features and motion.
    features : str
        Feature set name (see :mod:`data_processing.audio`).
    mel_preset : str
        Log-mel preset (``iva19`` or ``a2g``).
    feature_size : int
        Feature dimensions ``F``.
    n_context : int
        Context frames around each frame (IVA'19 ``N_CONTEXT``; windows are ``n_context + 1``).
    motion : str
        Motion representation of ``Y``: ``pos_vel`` or ``rot6d``.
    output_size : int
        Width ``D`` of ``Y``.
    source_fps : float
        Frame rate of the BVH files.
    splits : dict
        Sequence ids per split.
    files : dict
        Source ``wav`` and ``bvh`` path of every id, and its ``transcript`` where it has one.
    versions : dict
        Library versions that built the dataset.
    mfcc_rate : str
        Sample rate the MFCC were computed at (:data:`data_processing.audio.MFCC_RATES`);
        ``16k`` in datasets made before the option.
    """

    fps: float
    features: str
    mel_preset: str
    feature_size: int
    n_context: int
    motion: str
    output_size: int
    source_fps: float
    splits: dict
    files: dict
    versions: dict = field(default_factory=dict)
    mfcc_rate: str = "16k"
    format: int = FORMAT_VERSION
    root: Path | None = field(default=None, repr=False, compare=False)

    def feature_settings(self) -> dict:
        """What a model trained on the dataset records to compute its features again.

        The dataset's directory, frame rate, feature set, mel preset, feature size and MFCC
        rate (``file_features`` takes them; a run refuses to resume on another dataset).
        """
        return {"data_dir": str(Path(self.root).resolve()), "fps": self.fps,
                "features": self.features, "mel_preset": self.mel_preset,
                "feature_size": self.feature_size, "mfcc_rate": self.mfcc_rate}

    @property
    def window(self) -> int:
        """Frames per context window, ``n_context + 1``."""
        return self.n_context + 1

    @classmethod
    def load(cls, data_dir) -> DatasetMeta:
        """Read ``DATA_DIR/meta.json`` (one-line error when missing or from another version)."""
        data_dir = Path(data_dir)
        complete_interrupted_commit(data_dir)
        path = data_dir / "meta.json"
        if not path.is_file():
            raise PipelineError(
                f"{path}: no such file (run data_processing/create_vector.py on {data_dir} first)"
            )
        data = read_json(path)
        if data.get("format") != FORMAT_VERSION:
            raise PipelineError(
                f"{path}: dataset format {data.get('format')}, expected {FORMAT_VERSION} "
                "(rebuild it with create_vector.py)"
            )
        try:
            return cls(**data, root=data_dir)
        except TypeError as error:
            raise PipelineError(f"{path}: malformed dataset description ({error})") from None

    def save(self, directory=None) -> Path:
        """Write ``meta.json`` atomically into ``directory`` (default: :attr:`root`)."""
        data = asdict(self)
        del data["root"]
        return write_json(Path(directory or self.root) / "meta.json", data)

    @cached_property
    def skeleton(self) -> Skeleton:
        """The dataset's skeleton."""
        return Skeleton.load(self.root / "skeleton.json")

    def stat(self, name: str) -> np.ndarray:
        """A normalisation statistic from ``stats/`` (see :data:`STATS`)."""
        if name not in STATS:
            raise ValueError(f"Expected a statistic in {STATS}. Received: {name!r}")
        return load_array(self.root / "stats" / f"{name}.npy")

    def sequence(self, split: str, seq_id: str) -> dict[str, np.ndarray]:
        """The per-sequence arrays of one id: ``audio``, ``motion``, ``rot6d``, ``positions``."""
        path = self.root / "sequences" / split / f"{seq_id}.npz"
        if not path.is_file():
            raise PipelineError(f"{path}: no such file")
        with np.load(path) as data:
            return {key: data[key] for key in data.files}

    def sequences(self, split: str) -> list[dict[str, np.ndarray]]:
        """All sequences of a split, in id order."""
        return [self.sequence(split, seq_id) for seq_id in self.splits[split]]

    @property
    def has_transcripts(self) -> bool:
        """Whether every sequence has a transcript (``False``: an audio-only dataset)."""
        return bool(self.files) and all("transcript" in f for f in self.files.values())

    def transcript(self, split: str, seq_id: str) -> Path | None:
        """The transcript file of a sequence, ``None`` when it has none.

        Looked for in the split's ``transcripts/`` first (the dataset may have moved), then at
        the recorded path.
        """
        recorded = self.files.get(seq_id, {}).get("transcript")
        if not recorded:
            return None
        moved = self.root / split / "transcripts" / Path(recorded).name
        return moved if moved.is_file() else Path(recorded)

    def words(self, split: str, seq_id: str) -> list[str] | None:
        """The word spoken at each frame of a sequence, ``None`` without a transcript.

        One string per frame of the sequence (``""``: silence), by
        :func:`data_processing.transcripts.frame_words` at :attr:`fps`.
        """
        path = self.transcript(split, seq_id)
        if path is None:
            return None
        n_frames = len(self.sequence(split, seq_id)["audio"])
        return frame_words(read_transcript(path), n_frames, self.fps)

