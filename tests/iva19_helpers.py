"""Session-cached data for the IVA'19 tests: a small demo dataset and models trained on it.

Each item is built once per test session under pytest's base temporary directory and reused
by every ``test_iva19_*`` module (a ``.done`` marker tells a finished build from an
interrupted one), so the whole IVA'19 suite trains each model once.
"""

from __future__ import annotations

from pathlib import Path

from tests.session_cache import cached

N_CONTEXT = 10
EPOCHS = 3  # the baseline's best dev epoch is its 3rd (test_resume stops it after the 2nd)
PROPOSED_EPOCHS = 2  # the proposed model's best dev epoch is its 2nd
BATCH = 64
NETWORK = ("--units", "64", "--gru-units", "64")
"""train.py's widths for the tests' speech models: a quarter of IVA'19's 256, a fifth of the
compute per step; on the held-out files they beat the mean pose by as much as at 256 (APE
0.81 and 0.82 of the mean pose's against 0.82 and 0.83)."""
DIM = 16
SEED = 0


def raw_recordings(tmp_path_factory) -> Path:
    """A demo speaker of 16 recordings of 20 s (another seed than the shared fixture)."""
    from data_processing.demo_speaker import write_demo_dataset

    return cached(tmp_path_factory, "iva19_raw",
                  lambda out: write_demo_dataset(out, files=16, seconds=20.0, seed=3, workers=1))


def dataset(tmp_path_factory, features: str = "MFCC") -> Path:
    """The recordings split 12/2/2 (train/dev/test files), vectors at 20 fps."""
    from data_processing import create_vector, prepare_data

    raw = raw_recordings(tmp_path_factory)

    def build(out: Path) -> None:
        prepare_data.prepare(raw, out, ratios=(0.75, 0.125, 0.125), seed=SEED)
        assert create_vector.main([str(out), str(N_CONTEXT), "--features", features,
                                   "--workers", "1"]) == 0

    return cached(tmp_path_factory, f"iva19_data_{features}", build)


def representation(tmp_path_factory, kind: str = "dae", dim: int = DIM) -> Path:
    """A representation of the MFCC dataset's motion (DAE: 15 epochs at Adam 1e-3).

    The DAE has the default (original) normalisation; 15 epochs reconstruct the held-out
    motion to 1.9 cm (30: 1.87 cm; the mean pose 10.4 cm).
    """
    from motion_repr_learning.ae import learn_dataset_encoding

    data = dataset(tmp_path_factory)
    args = [str(data), "--kind", kind, "--dim", str(dim), "--epochs", "15",
            "--learning-rate", "1e-3", "--seed", str(SEED)]
    return cached(tmp_path_factory, f"iva19_{kind}{dim}", lambda out: learn_dataset_encoding.main(
        [*args, "--chkpt-dir", str(out / "repr")])) / "repr"


def encoded(tmp_path_factory, kind: str = "dae", dim: int = DIM) -> Path:
    """The MFCC dataset encoded with :func:`representation`."""
    from motion_repr_learning.ae import encode_dataset

    data, chkpt = dataset(tmp_path_factory), representation(tmp_path_factory, kind, dim)
    return cached(tmp_path_factory, f"iva19_encoded_{kind}{dim}", lambda out: encode_dataset.main(
        [str(data), "--chkpt-dir", str(chkpt), "--out", str(out / "codes")])) / "codes"


def speech_model(tmp_path_factory, kind: str | None = None, dim: int = DIM) -> Path:
    """A trained speech model (:data:`NETWORK`): the baseline (``kind=None``, :data:`EPOCHS`)
    or on ``kind`` codes of ``dim`` (:data:`PROPOSED_EPOCHS`).

    Training is deterministic and keeps the best dev epoch, so more epochs than the best one
    plus one would give the same model: each model trains no longer than that.
    """
    import train

    data = dataset(tmp_path_factory)
    args, epochs = [str(data), "26", "False"], EPOCHS
    if kind is not None:
        args = [str(data), "26", "True", str(dim), "--encoded-dir",
                str(encoded(tmp_path_factory, kind, dim))]
        epochs = PROPOSED_EPOCHS
    key = f"iva19_model_{kind or 'baseline'}{dim if kind else ''}"
    return cached(tmp_path_factory, key, lambda out: train.main(
        [str(out / "model"), str(epochs), *args, "--batch-size", str(BATCH),
         "--seed", str(SEED), *NETWORK])) / "model"
