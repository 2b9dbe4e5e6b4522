"""Build the interactive browser viewer of a set of motion files and their speech.

Usage::

    python helpers/make_viewer.py OUT_DIR --audio SPEECH.wav
        --motion "ground truth=gt.bvh" "ours=pred.bvh" ... [--data DATA_DIR]
        [--representation auto] [--title TITLE] [--report report.md] [--plots A.png ...]

Writes ``OUT_DIR/index.html``, one page that opens from the file system with no server and no
network (see :mod:`helpers.viewer`): the skeletons side by side or overlaid, the speech in
sync, play/pause, timeline, speed, camera orbit, method toggles, samples, the report.

Each ``--motion`` is ``NAME=FILE`` (or just ``FILE``, named by its stem): a ``.bvh`` (its own
skeleton and frame rate), or with ``--data`` an array ``.npy``/``.txt`` on the dataset's
skeleton and frame rate, or a dataset sequence ``.npz`` (anything
:func:`data_processing.motion.load_samples` reads). A NAME given more than once, or an
``.npy`` of ``N`` samples ``(N, T, D)``, makes the samples of a stochastic method. The first
motion is the reference (the ground truth): the others' skeletons are compared with it.

A missing or unreadable file is a one-line error naming it, and nothing is written; a
skeleton that differs from the reference's, or a motion longer or shorter than the audio, is
drawn with a note in its panel (and a warning here).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, run_cli
from data_processing.motion import Motion, load_samples
from helpers.viewer import DEFAULT_TITLE, build_viewer, markdown_html


def parse_motion_spec(spec: str) -> tuple[str, Path]:
    """``NAME=FILE`` (or ``FILE``, named by its stem) as ``(name, path)``."""
    name, sep, path = spec.partition("=")
    if not sep or Path(spec).exists():  # a file whose name holds "=" is a file
        return Path(spec).stem, Path(spec)
    if not name.strip() or not path:
        raise PipelineError(f"--motion {spec!r}: expected NAME=FILE")
    return name.strip(), Path(path)


def load_methods(specs, *, meta: DatasetMeta | None = None,
                 representation: str = "auto") -> dict[str, list[Motion]]:
    """Every ``--motion``, loaded, grouped by name in the order first given."""
    methods: dict[str, list[Motion]] = {}
    for spec in specs:
        name, path = parse_motion_spec(spec)
        if path.suffix in (".npy", ".txt") and meta is None:
            raise PipelineError(f"{path}: an array needs the dataset's skeleton (give --data)")
        methods.setdefault(name, []).extend(load_samples(path, dataset=meta, kind=representation))
    return methods


def report_html(path) -> str:
    """The metrics table (and its plots) of a report: ``.md`` converted, ``.html`` as it is."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    return text if path.suffix.lower() in (".html", ".htm") else markdown_html(text,
                                                                               base=path.parent)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", metavar="OUT_DIR", help="where index.html goes")
    parser.add_argument("--motion", "-m", nargs="+", required=True, metavar="NAME=FILE",
                        help="one per panel (a NAME repeated: samples); the first is the "
                             "reference")
    parser.add_argument("--audio", help="the speech (.wav, .flac, .ogg, .mp3)")
    parser.add_argument("--data", metavar="DATA_DIR",
                        help="prepared dataset whose skeleton and frame rate arrays use")
    parser.add_argument("--representation", default="auto",
                        choices=("auto", "positions", "pos_vel", "rot6d"),
                        help="kind of array inputs (default: told by the width)")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="the page's title")
    parser.add_argument("--report", metavar="FILE",
                        help="metrics table to show beside: report.md (its plots inlined) or "
                             "an .html fragment")
    parser.add_argument("--plots", nargs="+", default=[], metavar="IMAGE",
                        help="more images to show under the table")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    meta = DatasetMeta.load(args.data) if args.data else None
    methods = load_methods(args.motion, meta=meta, representation=args.representation)
    table = report_html(args.report) if args.report else None
    page = build_viewer(args.out_dir, motions=methods, audio=args.audio, title=args.title,
                        table_html=table, plots=args.plots)
    samples = sum(len(s) for s in methods.values())
    print(f"wrote {page}: {len(methods)} method(s), {samples} motion(s), "
          f"{page.stat().st_size / 2**20:.1f} MB")
    return 0


if __name__ == "__main__":
    run_cli(main)
