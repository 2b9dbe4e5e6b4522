"""Generate motion for speech with a trained model: ``X_test_*.npy`` windows or a WAV file.

Usage::

    python predict.py MODEL INPUT OUTPUT [--batch-size 1024] [--format txt|npy|bvh]
        [--samples N] [--seed K] [--insert CLIP.bvh@SECONDS] [--blend S] [--data DATA_DIR]

``MODEL`` is an IVA'19 speech model (``NAME.keras`` with its ``NAME.json``) or an
Audio2Gestures run directory (``gesture_vae/train.py``). ``INPUT`` is a ``.wav`` file, whose
features are computed with the model's saved settings (feature set, mel preset, fps), or, for
IVA'19 models, an ``X_test_<id>.npy`` file of context windows (from ``create_vector.py``).
``OUTPUT`` gets exactly one motion vector per audio frame at the dataset fps, by its extension:
``.npy`` or ``.txt`` (vectors: ``pos_vel`` for IVA'19, ``rot6d`` for Audio2Gestures) or
``.bvh`` on the dataset's skeleton (:mod:`helpers.to_bvh`; IVA'19 positions are fitted by
inverse kinematics). An IVA'19 model that predicts codes of a learned representation (DAE or
PCA) is decoded through it automatically; audio of any length works (batch by batch).

Audio2Gestures runs draw ``--samples`` motions (seed ``--seed``): an ``.npy`` output holds
``(N, T, D)`` when ``N > 1``, a ``.bvh`` output becomes ``<stem>_sample<k>.bvh``. ``--insert``
places a motion clip on the timeline (paper section 5.6, :class:`gesture_vae.sample.Sampler`).

When ``INPUT`` is a directory, every ``*.npy`` and ``*.wav`` in it is predicted into the
directory ``OUTPUT`` as ``<id>.<format>`` (``id`` = the file stem without ``X_test_``); the
directory appears only when every file succeeded. Every file gets the same ``--seed``, so a
file's motion does not depend on the other files.

Models are found through :data:`LOADERS` by the ``kind`` recorded in their sidecar JSON
(``NAME.json`` beside ``NAME.keras``, or ``DIR/model.json`` for a model directory); a model
family plugs in by adding a loader that returns an object with ``card`` (``features``,
``mel_preset``, ``fps``, ``n_context``, ``feature_size``), ``from_windows(windows)`` and
``from_features(features)``, both returning motion vectors ``(T, D)`` and taking a
``batch_size`` keyword.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from data_processing.bvh import Skeleton, write_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, atomic_path, read_json, run_cli, save_array
from gesture_vae.run import is_run

WINDOW_PREFIX = "X_test_"
FORMATS = ("txt", "npy", "bvh")


def _load_iva19(path: Path):
    from motion_repr_learning.speech_model import IVA19Model

    return IVA19Model(path)


LOADERS: dict[str, Callable[[Path], object]] = {"iva19": _load_iva19}


def load_gesture_model(path):
    """Load any trained model of the project.

    An Audio2Gestures run directory gives a :class:`gesture_vae.sample.Sampler`; other models
    are loaded through :data:`LOADERS` by the ``kind`` in their sidecar JSON.
    """
    from motion_repr_learning.speech_model import sidecar_path

    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: no such model")
    if is_run(path):
        from gesture_vae.sample import Sampler

        return Sampler.load(path)
    kind = read_json(sidecar_path(path)).get("kind")
    if kind not in LOADERS:
        raise PipelineError(f"{sidecar_path(path)}: unknown model kind {kind!r} "
                            f"(known: {', '.join(LOADERS)})")
    return LOADERS[kind](path)


def sequence_id(path) -> str:
    """The id of an input file: its stem without the ``X_test_`` prefix."""
    stem = Path(path).stem
    return stem[len(WINDOW_PREFIX):] if stem.startswith(WINDOW_PREFIX) else stem


def _check_window_source(path: Path, card) -> None:
    """Fail when ``test_inputs/X_test_*.npy`` comes from a dataset with other features."""
    meta_path = path.parent.parent / "meta.json"
    if path.parent.name != "test_inputs" or not meta_path.is_file():
        return
    meta = DatasetMeta.load(meta_path.parent)
    found = (meta.features, meta.mel_preset, meta.fps, meta.n_context)
    expected = (card.features, card.mel_preset, card.fps, card.n_context)
    if found != expected:
        raise PipelineError(
            f"{path}: windows of {found[0]} features (mel preset {found[1]}, {found[2]:g} fps, "
            f"n_context {found[3]}), but the model expects {expected[0]} (mel preset "
            f"{expected[1]}, {expected[2]:g} fps, n_context {expected[3]})"
        )


def _is_sampler(model) -> bool:
    from gesture_vae.sample import Sampler

    return isinstance(model, Sampler)


def predict_file(model, path, *, batch_size: int = 1024, samples: int = 1, seed: int = 0,
                 insert=(), blend: float | None = None) -> np.ndarray:
    """Motion vectors ``(T, D)`` for one ``.npy`` windows file or one ``.wav`` file.

    An Audio2Gestures run gives ``(samples, T, D)`` when ``samples > 1``; ``samples``,
    ``seed``, ``insert`` and ``blend`` are its options (see :meth:`Sampler.generate`).
    """
    from data_processing import audio

    path = Path(path)
    if _is_sampler(model):
        if path.suffix != ".wav":
            raise PipelineError(f"{path}: an Audio2Gestures run takes .wav audio")
        options = {} if blend is None else {"blend": blend}
        motion = model.generate(model.features(path), samples=samples, seed=seed,
                                insert=insert, **options).motion
        return motion[0] if samples == 1 else motion
    if samples != 1 or insert:
        raise PipelineError(f"{model.path}: an IVA'19 model gives one motion per input; "
                            "--samples and --insert need an Audio2Gestures run")
    card = model.card
    if path.suffix == ".wav":
        features = audio.file_features(path, card.features, fps=card.fps,
                                       mel_preset=card.mel_preset)
        return model.from_features(features, batch_size=batch_size)
    if path.suffix == ".npy":
        if not path.is_file():
            raise PipelineError(f"{path}: no such file")
        _check_window_source(path, card)
        try:
            windows = np.load(path, mmap_mode="r")
        except ValueError as error:
            raise PipelineError(f"{path}: not a readable .npy array ({error})") from None
        try:
            return model.from_windows(windows, batch_size=batch_size)
        except PipelineError as error:
            raise PipelineError(f"{path}: {error}") from None
    raise PipelineError(f"{path}: expected X_test_*.npy windows or a .wav file")


def bvh_target(model, data_dir=None) -> tuple[DatasetMeta | Skeleton, float]:
    """The skeleton (or dataset) and frame rate that BVH outputs of ``model`` are written on."""
    if _is_sampler(model):
        return model.run.skeleton, model.fps
    data_dir = Path(data_dir or model.card.dataset)
    if not (data_dir / "meta.json").is_file():
        raise PipelineError(f"{data_dir}: the model's dataset is not there; BVH output needs "
                            "its skeleton (give --data DATA_DIR)")
    return DatasetMeta.load(data_dir), model.card.fps


def write_motion(path, motion: np.ndarray, model, *, data_dir=None) -> list[Path]:
    """Write vectors ``(T, D)`` or samples ``(N, T, D)`` as ``.npy``, ``.txt`` or ``.bvh``."""
    from helpers.to_bvh import motion_to_bvh

    path = Path(path)
    if path.suffix not in (".npy", ".txt", ".bvh"):
        raise PipelineError(f"{path}: expected an output ending in .npy, .txt or .bvh")
    if path.suffix == ".npy":
        return [save_array(path, motion)]
    if path.suffix == ".txt":
        if motion.ndim != 2:
            raise PipelineError(f"{path}: {len(motion)} samples do not fit a .txt table "
                                "(write .npy or .bvh)")
        return [save_array(path, motion)]
    target, fps = bvh_target(model, data_dir)
    stack = motion[None] if motion.ndim == 2 else motion
    paths = [path] if len(stack) == 1 else [path.with_name(f"{path.stem}_sample{k}.bvh")
                                            for k in range(len(stack))]
    for out, vectors in zip(paths, stack):
        write_bvh(out, motion_to_bvh(vectors, target, fps=fps, source=str(out)).motion,
                  precision=4)
    return paths


def predict_directory(model, in_dir: Path, out_dir: Path, *, fmt: str = "txt",
                      data_dir=None, **options) -> list[Path]:
    """Predict every ``.npy`` and ``.wav`` of ``in_dir`` into ``out_dir`` (all or nothing).

    ``options`` go to :func:`predict_file`.
    """
    inputs = sorted(p for p in in_dir.iterdir() if p.suffix in (".npy", ".wav"))
    if not inputs:
        raise PipelineError(f"{in_dir}: no .npy or .wav files")
    written = []
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for path in inputs:
            paths = write_motion(tmp / f"{sequence_id(path)}.{fmt}",
                                 predict_file(model, path, **options), model, data_dir=data_dir)
            written += [out_dir / p.name for p in paths]
    return written


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    from gesture_vae.sample import BLEND, Insertion

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="IVA'19 model (.keras with its .json sidecar) or an "
                                      "Audio2Gestures run directory")
    parser.add_argument("input", help="X_test_<id>.npy windows, a .wav file, or a directory")
    parser.add_argument("output", help="motion .npy, .txt or .bvh (a directory for a directory)")
    parser.add_argument("--batch-size", type=int, default=1024,
                        help="IVA'19 windows per forward pass (bounds memory; default 1024)")
    parser.add_argument("--format", choices=FORMATS, default="txt",
                        help="file format in directory mode (default txt)")
    parser.add_argument("--data", metavar="DATA_DIR",
                        help="dataset whose skeleton BVH outputs use (default: the model's)")
    a2g = parser.add_argument_group("Audio2Gestures runs")
    a2g.add_argument("--samples", type=int, default=1, help="motions to draw (default 1)")
    a2g.add_argument("--seed", type=int, default=0, help="seed of the codes (default 0)")
    a2g.add_argument("--insert", action="append", default=[], type=Insertion.parse,
                     metavar="CLIP.bvh@SECONDS", help="place a BVH clip at SECONDS (repeatable)")
    a2g.add_argument("--blend", type=float, default=BLEND,
                     help=f"cross-fade of inserted clips in seconds (default {BLEND:g})")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    source, target = Path(args.input), Path(args.output)
    options = {"batch_size": args.batch_size, "samples": args.samples, "seed": args.seed,
               "insert": args.insert, "blend": args.blend}
    if source.is_dir():
        model = load_gesture_model(args.model)
        written = predict_directory(model, source, target, fmt=args.format, data_dir=args.data,
                                    **options)
        print(f"predicted {len(written)} files -> {target}")
        return 0
    if target.suffix not in (".npy", ".txt", ".bvh"):
        raise PipelineError(f"{target}: expected an output ending in .npy, .txt or .bvh")
    model = load_gesture_model(args.model)
    motion = predict_file(model, source, **options)
    written = write_motion(target, motion, model, data_dir=args.data)
    fps = model.fps if _is_sampler(model) else model.card.fps
    print(f"{source} -> {', '.join(map(str, written))} {motion.shape} at {fps:g} fps")
    return 0


if __name__ == "__main__":
    run_cli(main)
