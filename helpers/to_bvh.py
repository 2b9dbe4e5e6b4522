"""Export a motion output as BVH on the dataset's skeleton (Blender, MotionBuilder).

Usage::

    python helpers/to_bvh.py INPUT OUT.bvh --data DATA_DIR [--representation auto]
        [--fps FPS] [--translating JOINT ...]

``INPUT`` is a ``.npy`` or ``.txt`` array, one row per frame, at the dataset's frame rate
(``rot6d`` vectors, ``pos_vel`` vectors or positions; the width tells which,
``--representation`` settles widths that fit two). It is read and written through
:mod:`data_processing.motion`, the one BVH export path of the project
(:meth:`data_processing.motion.Motion.to_bvh`): rotations are written as they are, positions
are fitted by inverse kinematics (twist from the rest pose; the mean position error of the fit
is printed) with a root pinned at the origin (IVA'19) placed at its rest offset, and Euler
angles are unwrapped over time. A row of any other width is an error naming the file, what
was expected and what was found; nothing is written then.
"""

from __future__ import annotations

import argparse

from data_processing.bvh import Skeleton, write_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, run_cli
from data_processing.motion import BVHExport, load_motion
from data_processing.representations import ARRAY_KINDS


def joint_indices(skeleton: Skeleton, names) -> list[int]:
    """Indices of named joints that can translate, with a one-line error for a bad name."""
    index = {name: i for i, name in enumerate(skeleton.names)}
    missing = [n for n in names if n not in index]
    if missing:
        raise PipelineError(f"no joint named {missing[0]!r} in the skeleton "
                            f"({', '.join(skeleton.names[:6])}, ...)")
    still = [n for n in names
             if not any(c.endswith("position") for c in skeleton.channels[index[n]])]
    if still:
        raise PipelineError(f"joint {still[0]!r} has no position channels to translate")
    return [index[n] for n in names]


def export_bvh(input_path, out_path, data_dir, *, representation: str = "auto",
               fps: float | None = None, translating_names=None) -> BVHExport:
    """Read an array file on a dataset's skeleton and write it as ``out_path`` BVH."""
    meta = DatasetMeta.load(data_dir)
    if fps is not None and not fps > 0:
        raise PipelineError(f"--fps must be > 0, got {fps}")
    motion = load_motion(input_path, dataset=meta, fps=fps, kind=representation)
    translating = (None if translating_names is None
                   else joint_indices(meta.skeleton, translating_names))
    export = motion.to_bvh(translating=translating)
    write_bvh(out_path, export.motion)
    return export


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="motion array .npy/.txt: rot6d, pos_vel or positions")
    parser.add_argument("output", help="the BVH file to write")
    parser.add_argument("--data", required=True, metavar="DATA_DIR",
                        help="prepared dataset (meta.json, skeleton.json) the motion is on")
    parser.add_argument("--representation", default="auto", choices=("auto", *ARRAY_KINDS),
                        help="kind of the rows (default: told by the width)")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of the rows (default: the dataset's)")
    parser.add_argument("--translating", nargs="*", default=None, metavar="JOINT",
                        help="non-root joints whose translation is fitted from positions "
                             "(default: the hips below a zero-offset world root, as in GENEA; "
                             "give none for roots only)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    export = export_bvh(args.input, args.output, args.data, representation=args.representation,
                        fps=args.fps, translating_names=args.translating)
    motion = export.motion
    print(f"wrote {args.output}: {motion.n_frames} frames at {motion.fps:g} fps, "
          f"{motion.skeleton.n_joints} joints")
    if export.fit is not None:
        print(f"IK fit: mean position error {export.fit.error:.4g}, max "
              f"{export.fit.max_error:.4g} (skeleton units)")
    return 0


if __name__ == "__main__":
    run_cli(main)
