"""Import the published IVA'19 model (the authors' demo repository) as a model directory.

Usage::

    python helpers/import_iva19_model.py MODEL.hdf5 DAE_CHECKPOINT_PREFIX MAX_VAL.npy
        MEAN_POSE.npy OUT_DIR [--no-smoothing]

The four inputs are the files of the demo repository of Kucherenko et al. (IVA'19),
``Svito-zar/speech-driven-hand-gesture-generation-demo`` on GitHub:
``models/Model_MFCC_Pros_Best.hdf5`` (Keras 2), ``models/DAE_checkpoints/chkpt-final`` (the
TensorFlow 1 checkpoint prefix; its directory works too, the ``checkpoint`` file in it is
never read), ``models/max_val.npy`` and ``models/mean_pose.npy``. ``OUT_DIR`` becomes a model
directory of kind ``iva19_original`` (:mod:`speech_encoder.original`) that ``predict.py`` runs
on any speech file, with the original's features, network, decoder and smoothing::

    python predict.py OUT_DIR speech.wav out.bvh     # or out.npy / out.txt: (T, 138) positions

``OUT_DIR`` is written under a temporary name and renamed when complete; a bad input is a
one-line error naming the file, and nothing is written.
"""

from __future__ import annotations

import argparse

from data_processing.files import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="Model_MFCC_Pros_Best.hdf5 (Keras 2 speech network)")
    parser.add_argument("dae_checkpoint",
                        help="TF1 DAE checkpoint prefix, e.g. DAE_checkpoints/chkpt-final")
    parser.add_argument("max_val", help="max_val.npy (motion normalisation)")
    parser.add_argument("mean_pose", help="mean_pose.npy (motion normalisation, rest pose)")
    parser.add_argument("out_dir", help="the model directory to write")
    parser.add_argument("--no-smoothing", action="store_true",
                        help="do not apply the original's Savitzky-Golay smoothing (window 7, "
                             "order 3) to the predicted positions")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    from speech_encoder.original import SMOOTHING, import_original  # TensorFlow: after --help

    out = import_original(args.model, args.dae_checkpoint, args.max_val, args.mean_pose,
                          args.out_dir, smoothing=None if args.no_smoothing else SMOOTHING)
    print(f"{args.model} -> {out} (kind iva19_original); run it with: "
          f"python predict.py {out} SPEECH.wav OUT.bvh")
    return 0


if __name__ == "__main__":
    run_cli(main)
