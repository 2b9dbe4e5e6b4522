"""Generate motion for speech with any trained model of the project.

Usage::

    python predict.py MODEL INPUT OUTPUT [--format txt|npy|bvh] [--samples N] [--seed K]
        [--batch-size B] [--insert CLIP.bvh@SECONDS ...] [--blend S]

``MODEL`` is a model directory (``config.json`` names its family:
:data:`helpers.families.FAMILIES`): an IVA'19 model (``train.py``), the published IVA'19 model
(``helpers/import_iva19_model.py``) or an Audio2Gestures run (``gesture_vae/train.py``).
``INPUT`` is an audio file (any format soundfile reads:
:data:`data_processing.files.AUDIO_SUFFIXES`), whose features are computed with the model's
saved settings, or (IVA'19) an ``X_test_<id>.npy`` file of context windows.
``OUTPUT`` gets one frame per audio frame at the model's fps, by its extension: ``.npy`` or
``.txt`` (the family's vectors: ``pos_vel`` for IVA'19, ``rot6d`` for Audio2Gestures) or
``.bvh`` on the dataset's skeleton (:func:`data_processing.motion.save_motion`, the one
export path).

``--samples N`` motions are drawn with seed ``--seed`` (stochastic families): an ``.npy``
output holds ``(N, T, D)`` when ``N > 1``, a ``.bvh`` output becomes ``<stem>_sample<k>.bvh``.
Family options are given only to the families that take them (``--batch-size``: IVA'19,
``--insert`` and ``--blend``: Audio2Gestures clip insertion); another family refuses them
with a one-line error.

When ``INPUT`` is a directory, every ``*.npy`` and audio file in it is predicted into the
directory ``OUTPUT`` as ``<id>.<format>`` (:func:`data_processing.motion.motion_id`); the
directory appears only when every file succeeded. Every file gets the same ``--seed``, so a
file's motion does not depend on the other files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_processing.files import AUDIO_SUFFIXES, PipelineError, atomic_path, run_cli
from data_processing.motion import list_files, motion_id, save_motion
from helpers.families import GestureModel, load_model

FORMATS = ("txt", "npy", "bvh")
INPUT_SUFFIXES = (".npy", *AUDIO_SUFFIXES)


def predict_file(model: GestureModel, path, out_path, *, samples: int = 1, seed: int = 0,
                 **options) -> list[Path]:
    """Generate for one input file and write ``out_path`` (one file, or one BVH per sample)."""
    out_path = Path(out_path)
    if out_path.suffix not in (".npy", ".txt", ".bvh"):
        raise PipelineError(f"{out_path}: expected an output ending in .npy, .txt or .bvh")
    unknown = sorted(set(options) - set(model.options))
    if unknown:
        raise PipelineError(f"{model.path}: a {model.kind} model takes no "
                            f"{', '.join('--' + k.replace('_', '-') for k in unknown)}")
    motions = model.generate(Path(path), samples=samples, seed=seed, **options)
    return save_motion(out_path, motions, kind=model.representation, precision=4)


def predict_directory(model: GestureModel, in_dir, out_dir, *, fmt: str = "txt",
                      **options) -> list[Path]:
    """Predict every ``.npy`` and audio file of ``in_dir`` into ``out_dir`` (all or nothing)."""
    inputs = list_files(in_dir, INPUT_SUFFIXES)
    if not inputs:
        raise PipelineError(f"{in_dir}: no .npy or audio files ({', '.join(AUDIO_SUFFIXES)})")
    out_dir = Path(out_dir)
    written = []
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for path in inputs:
            paths = predict_file(model, path, tmp / f"{motion_id(path)}.{fmt}", **options)
            written += [out_dir / p.name for p in paths]
    return written


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments (family options default to ``None``: not given)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model directory (config.json names its family)")
    parser.add_argument("input", help="an audio file (.wav, .flac, ...), X_test_<id>.npy "
                                          "windows, or a directory")
    parser.add_argument("output", help="motion .npy, .txt or .bvh (a directory for a directory)")
    parser.add_argument("--format", choices=FORMATS, default="txt",
                        help="file format in directory mode (default txt)")
    parser.add_argument("--samples", type=int, default=1, help="motions to draw (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")
    family = parser.add_argument_group("family options")
    family.add_argument("--batch-size", type=int, help="IVA'19: windows per forward pass "
                                                       "(bounds memory; default 1024)")
    family.add_argument("--insert", action="append", metavar="CLIP.bvh@SECONDS",
                        help="Audio2Gestures: place a BVH clip at SECONDS (repeatable)")
    family.add_argument("--blend", type=float,
                        help="Audio2Gestures: cross-fade of inserted clips in seconds")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error(f"--samples must be >= 1, got {args.samples}")
    return args


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    options = {k: v for k, v in (("batch_size", args.batch_size), ("insert", args.insert),
                                 ("blend", args.blend)) if v is not None}
    source, target = Path(args.input), Path(args.output)
    if not source.is_dir() and target.suffix not in (".npy", ".txt", ".bvh"):
        raise PipelineError(f"{target}: expected an output ending in .npy, .txt or .bvh")
    model = load_model(args.model)
    if source.is_dir():
        written = predict_directory(model, source, target, fmt=args.format,
                                    samples=args.samples, seed=args.seed, **options)
        print(f"predicted {len(written)} files -> {target}")
        return 0
    written = predict_file(model, source, target, samples=args.samples, seed=args.seed,
                           **options)
    print(f"{source} -> {', '.join(map(str, written))} at {model.fps:g} fps")
    return 0


if __name__ == "__main__":
    run_cli(main)
