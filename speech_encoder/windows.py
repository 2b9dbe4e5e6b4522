"""The speech encoder's training windows: stored (``X_<split>.npy``) or formed on the fly.

A split's windows are the rows of ``X_<split>.npy`` (``(N, W, F)``, ``W = n_context + 1``),
which repeats every feature frame ``W`` times (61 at the paper's ``N_CONTEXT`` 60: about
27 GB for 60 hours of MFCC). :class:`SequenceWindows` forms the same rows from the split's
per-sequence features (``sequences/<split>/<id>.npz``, ``audio (T, F)``): one silence-padded copy
of the features in memory and a start frame per row, so a batch is one vectorised gather.
Row ``i`` is bit for bit the stored row ``i``, so
:func:`speech_encoder.model.window_dataset` gives identical batches from either.

``train.py --windows`` chooses (:func:`split_windows`): ``stored``, ``sequences``, or ``auto``
(the default), the stored file where it exists and holds at most
:data:`data_processing.dataset.STORED_WINDOWS_LIMIT` bytes, the sequences otherwise
(``create_vector.py`` writes no larger one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_processing.dataset import STORED_WINDOWS_LIMIT, DatasetMeta, stored_windows_bytes
from data_processing.files import PipelineError

SOURCES = ("auto", "stored", "sequences")


class SequenceWindows:
    """Centred, silence-padded context windows of several sequences, gathered on demand.

    Parameters
    ----------
    features : list of np.ndarray [shape=(T_s, F)]
        The sequences' features, in row order (row ``i`` of sequence ``s`` is frame ``i``).
    silence : np.ndarray [shape=(F,)]
        Feature vector of silence, the padding at both ends of every sequence.
    n_context : int
        Context frames (even); windows have ``n_context + 1`` frames.
    """

    def __init__(self, features: list[np.ndarray], silence: np.ndarray, n_context: int):
        half = n_context // 2
        width = silence.shape[-1]
        lengths = np.array([len(f) for f in features], np.int64)
        self.padded = np.empty((int(lengths.sum()) + n_context * len(features), width),
                               np.float32)
        row = 0
        for part in features:
            self.padded[row : row + half] = silence
            self.padded[row + half : row + half + len(part)] = part
            self.padded[row + half + len(part) : row + n_context + len(part)] = silence
            row += n_context + len(part)
        sequence = np.repeat(np.arange(len(features), dtype=np.int64), lengths)
        self.starts = np.arange(int(lengths.sum()), dtype=np.int64) + n_context * sequence
        self.offsets = np.arange(n_context + 1, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(N, W, F)``, as the stored windows."""
        return (len(self.starts), len(self.offsets), self.padded.shape[1])

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index) -> np.ndarray:
        """Windows ``(len(index), W, F)`` of rows ``index`` (an integer array)."""
        return self.padded[self.starts[np.asarray(index)][:, None] + self.offsets]

    @classmethod
    def load(cls, meta: DatasetMeta, split: str) -> SequenceWindows:
        """The windows of ``split`` from ``sequences/<split>/*.npz`` (only ``audio`` is read)."""
        features = []
        for seq_id in meta.splits[split]:
            path = Path(meta.root) / "sequences" / split / f"{seq_id}.npz"
            if not path.is_file():
                raise PipelineError(f"{path}: no such file")
            with np.load(path) as data:
                features.append(data["audio"])
        return cls(features, meta.stat("silence"), meta.n_context)


def load_windows(meta: DatasetMeta, split: str, n_rows: int) -> np.ndarray:
    """``X_<split>.npy`` memory-mapped, checked against ``meta.json`` and the targets."""
    path = Path(meta.root) / f"X_{split}.npy"
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    windows = np.load(path, mmap_mode="r")
    expected = (n_rows, meta.window, meta.feature_size)
    if windows.shape != expected:
        raise PipelineError(f"{path}: expected windows of shape {expected} (meta.json and the "
                            f"targets), found {windows.shape}")
    return windows


def split_windows(meta: DatasetMeta, split: str, n_rows: int, source: str = "auto"):
    """The windows of ``split``, from the source ``source`` (:data:`SOURCES`).

    Parameters
    ----------
    meta : DatasetMeta
    split : str
    n_rows : int
        Rows of the split's targets; the windows must have as many.
    source : str
        ``stored``: ``X_<split>.npy``, memory-mapped; ``sequences``: :class:`SequenceWindows`;
        ``auto``: the stored file when it exists and holds at most
        :data:`~data_processing.dataset.STORED_WINDOWS_LIMIT` bytes, else the sequences.

    Returns
    -------
    np.ndarray or SequenceWindows
        Windows ``(n_rows, W, F)`` indexable by integer arrays.
    """
    if source not in SOURCES:
        raise ValueError(f"Expected a source in {SOURCES}. Received: {source!r}")
    stored = Path(meta.root) / f"X_{split}.npy"
    if source == "auto":
        small = stored_windows_bytes(n_rows, meta.window, meta.feature_size) <= STORED_WINDOWS_LIMIT
        source = "stored" if stored.is_file() and small else "sequences"
    if source == "stored":
        if not stored.is_file():
            raise PipelineError(f"{stored}: no such file (create_vector.py stores windows up "
                                f"to {STORED_WINDOWS_LIMIT / 2**30:g} GiB per split; use "
                                "--windows sequences)")
        return load_windows(meta, split, n_rows)
    windows = SequenceWindows.load(meta, split)
    if len(windows) != n_rows:
        raise PipelineError(f"{Path(meta.root) / 'sequences' / split}: {len(windows)} frames, "
                            f"but the targets have {n_rows} rows")
    return windows
