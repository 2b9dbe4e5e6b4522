"""The GENEA numerical evaluation in one command (:mod:`evaluation.genea`).

Average jerk and acceleration, Hellinger distances of speed and acceleration histograms, CCA
with the natural motion and FGD (embedding and raw space, with noise floors), on 3D joint
positions at 30 fps, each column named after the convention it follows (``*_genea``: the
GENEA Challenge scripts, Kucherenko et al. 2022/2023; ``fgd_<protocol>``: our or the TED/HA2G
extractor, :mod:`evaluation.fgd_extractor`).

Usage::

    python evaluation/genea_eval.py --natural demo/iva19:test
        --method proposed results/proposed/ --method baseline results/baseline/ DATA_DIR
        [--data DATA_DIR] [--fps F] [--fgd EXTRACTOR_DIR ...] [--eval-fps 30]
        [--bin-width 0.05] [--top 49] [--acc-top 49] [--root-relative] [--out OUT]

``--natural`` and each method's source are motion files, directories of them or
``DATA_DIR:SPLIT`` (:func:`data_processing.motion.load_sources`); a method's files are matched
to the natural sequences by id. Array files are read on the skeleton and at the frame rate of
the method's own ``DATA_DIR`` (its third value), else of ``--data`` at ``--fps`` (default: the
dataset of a ``DATA_DIR:SPLIT`` natural source). An ``.npy`` of ``N`` samples ``(N, T, D)``
is scored by its sample 0, as the report scores it. The first row scores the
natural motion against itself (Hellinger 0, CCA 1, FGD 0, with the FGD noise floor beside;
the caption repeats each floor). ``--out OUT`` writes ``OUT.csv`` and ``OUT.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, run_cli
from data_processing.motion import (
    Motion,
    expand_sources,
    load_samples,
    load_sources,
    load_split,
    parse_split_source,
)
from data_processing.representations import ARRAY_KINDS
from evaluation import genea
from evaluation.tables import markdown_table, number_cell, write_frame

NATURAL = "natural"


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description="GENEA numerical evaluation of methods "
                                                 "against the natural motion.")
    parser.add_argument("--natural", nargs="+", required=True,
                        help="natural motion: files, directories or DATA_DIR:SPLIT")
    parser.add_argument("--method", nargs="+", action="append", default=[], required=True,
                        metavar="NAME SRC [DATA_DIR]",
                        help="a method's name, its motion files (directory or file) and "
                             "optionally the dataset its arrays are on (default: --data)")
    parser.add_argument("--data", type=Path,
                        help="dataset whose skeleton and frame rate array files are on "
                             "(default: the natural source's dataset)")
    parser.add_argument("--fps", type=float, help="frame rate of array files")
    parser.add_argument("--representation", choices=ARRAY_KINDS,
                        help="kind of array files when their width fits several")
    parser.add_argument("--fgd", nargs="+", type=Path, default=[], metavar="EXTRACTOR_DIR",
                        help="FGD extractors (evaluation/fgd.py train; e.g. one per protocol)")
    parser.add_argument("--eval-fps", type=float, default=genea.GENEA_FPS,
                        help="frame rate of the evaluation (default: 30, GENEA's)")
    parser.add_argument("--bin-width", type=float, default=genea.HIST_WIDTH,
                        help="histogram bin width in units/s or /s^2 (default: 0.05)")
    parser.add_argument("--top", type=float, default=genea.HIST_TOP,
                        help="last histogram bin edge (default: 49, GENEA's)")
    parser.add_argument("--acc-top", type=float, default=genea.HIST_TOP,
                        help="last acceleration histogram edge in units/s^2 (default: 49, "
                             "GENEA's, the speed histogram's)")
    parser.add_argument("--root-relative", action="store_true",
                        help="positions relative to the root joint (GENEA: global)")
    parser.add_argument("--out", type=Path, help="write OUT.csv and OUT.md")
    args = parser.parse_args(argv)
    wrong = [m[0] for m in args.method if len(m) not in (2, 3)]
    if wrong:
        parser.error(f"--method {wrong[0]}: give NAME SRC [DATA_DIR]")
    return args


def _dataset(args) -> DatasetMeta | None:
    if args.data is not None:
        return DatasetMeta.load(args.data)
    split = next((parse_split_source(s) for s in args.natural if parse_split_source(s)), None)
    return DatasetMeta.load(split[0]) if split else None


def first_samples(source, **options) -> list[Motion]:
    """A method's motions: every file of ``source``, sample 0 of a file of several samples.

    ``source`` is a file, a directory or ``DATA_DIR:SPLIT``; ``options`` go to
    :func:`data_processing.motion.load_samples`.
    """
    split = parse_split_source(source)
    if split is not None:
        return load_split(*split)
    return [load_samples(path, **options)[0] for path in expand_sources([source])]


def evaluate_methods(args) -> pd.DataFrame:
    """One row per method (the natural motion first), the columns of :mod:`evaluation.genea`."""
    for name in ("eval_fps", "bin_width", "top", "acc_top"):
        if not getattr(args, name) > 0:
            raise PipelineError(f"--{name.replace('_', '-')} must be > 0, got "
                                f"{getattr(args, name)}")
    meta = _dataset(args)
    options = {"kind": args.representation or "auto", "dataset": meta, "fps": args.fps}
    natural = load_sources(args.natural, **options)
    extractors = []
    if args.fgd:
        from evaluation.fgd_extractor import FeatureExtractor  # TensorFlow only when asked

        extractors = [FeatureExtractor.load(d) for d in args.fgd]
    protocols = [e.config.protocol for e in extractors]
    if len(set(protocols)) != len(protocols):
        raise PipelineError(f"--fgd: two extractors of one protocol ({', '.join(protocols)}); "
                            "their columns would clash")
    conventions = genea.Options(args.eval_fps, args.root_relative, args.bin_width, args.top,
                                args.acc_top)
    methods = [(NATURAL, natural, " ".join(args.natural))]
    for name, source, *data in args.method:
        own = {**options, "dataset": DatasetMeta.load(data[0]), "fps": None} if data else options
        methods.append((name, first_samples(source, **own), source))
    rows = {}
    for name, motions, source in methods:
        rows[name] = genea.evaluate(motions, natural, options=conventions,
                                    extractors=extractors, source=source)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def floor_text(table: pd.DataFrame) -> str:
    """The caption's FGD noise floors (the natural row's: they do not depend on the method)."""
    floors = [f"`{column}` {table.loc[NATURAL, column]:.3f}" for column in table.columns
              if column.startswith("fgd_") and column.endswith("_floor")]
    if not floors:
        return ""
    return (" FGD noise floors (two disjoint halves of the natural motion: alternate files): "
            + ", ".join(floors) + "; a gap in FGD between two methods smaller than its floor "
            "says nothing.")


def to_markdown(table: pd.DataFrame, args) -> str:
    """The table as markdown, with the conventions in a caption."""
    caption = (f"GENEA numerical evaluation at {args.eval_fps:g} fps, "
               f"{'root-relative' if args.root_relative else 'global'} positions; histogram "
               f"bins of {args.bin_width:g} up to {args.top:g} (speed) and {args.acc_top:g} "
               "(acceleration). `*_genea`: the GENEA "
               "Challenge scripts' conventions; `fgd_<protocol>`: FGD with that extractor, "
               "`_raw` in raw clip space, `_floor` between two halves of the natural motion."
               f"{floor_text(table)}\n\n")
    rows = [[name, *(number_cell(v) for v in values)]
            for name, values in zip(table.index, table.to_numpy().tolist())]
    return caption + markdown_table(["method", *table.columns], rows, align="---:")


def main(argv=None) -> int:
    """Evaluate, print the markdown table, write ``--out``."""
    args = parse_args(argv)
    table = evaluate_methods(args)
    markdown = to_markdown(table, args)
    print(markdown, end="")
    if args.out:
        write_frame(table, args.out, markdown)
    return 0


if __name__ == "__main__":
    run_cli(main)
