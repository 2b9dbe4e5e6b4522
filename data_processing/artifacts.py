"""Trained artifacts on disk: every one is a directory whose ``config.json`` carries its ``kind``.

One format for all of them, so any tool can tell what a directory holds::

    {"kind": "iva19", "format": 1, ...the artifact's own settings...}

========================  ============================================================
kind                      artifact (written by)
========================  ============================================================
``iva19``                 IVA'19 speech-to-motion model (``train.py``)
``iva19_original``        the published IVA'19 model, imported (``import_iva19_model.py``)
``a2g``                   Audio2Gestures run (``gesture_vae/train.py``)
``ha2g``                  HA2G run (``ha2g/train.py``)
``dae``, ``pca``          IVA'19 motion representation (``learn_dataset_encoding.py``)
``fgd_extractor``         FGD feature extractor (``evaluation/fgd.py train``)
========================  ============================================================

The model families that generate motion are looked up by ``kind`` in
:data:`helpers.families.FAMILIES`.
"""

from __future__ import annotations

from pathlib import Path

from data_processing.files import PipelineError, read_json, write_json

CONFIG = "config.json"
FORMAT_VERSION = 1


def config_path(directory) -> Path:
    """``DIR/config.json``."""
    return Path(directory) / CONFIG


def is_artifact(path, kinds=None) -> bool:
    """Whether ``path`` is an artifact directory (of one of ``kinds`` when given)."""
    path = config_path(path)
    if not path.is_file():
        return False
    try:
        kind = read_json(path).get("kind")
    except PipelineError:
        return False
    return kind is not None and (kinds is None or kind in kinds)


def write_config(directory, kind: str, settings: dict) -> Path:
    """Write ``DIR/config.json`` (atomically) with ``kind`` and ``settings``."""
    reserved = {"kind", "format"} & set(settings)
    if reserved:
        raise ValueError(f"Expected settings without {sorted(reserved)}. Received: {settings}")
    return write_json(config_path(directory), {"kind": kind, "format": FORMAT_VERSION,
                                               **settings})


def read_config(directory, kinds=None) -> dict:
    """The ``config.json`` of an artifact directory, checked to be of one of ``kinds``.

    Raises
    ------
    PipelineError
        No such directory or file, no ``kind``, another kind or another format version; the
        message names the file and says what was expected.
    """
    directory = Path(directory)
    path = config_path(directory)
    if not directory.is_dir():
        what = f"a directory of kind {' or '.join(kinds)}" if kinds else "an artifact directory"
        raise PipelineError(f"{directory}: no such directory (expected {what} with {CONFIG})")
    if not path.is_file():
        raise PipelineError(f"{path}: no such file ({directory} is not a trained artifact)")
    data = read_json(path)
    kind = data.get("kind")
    if kind is None:
        raise PipelineError(f"{path}: no 'kind' (not written by this project, or by a version "
                            "before artifacts carried one; retrain it)")
    if kinds is not None and kind not in kinds:
        raise PipelineError(f"{path}: a {kind!r} artifact, expected {' or '.join(kinds)}")
    if data.get("format") != FORMAT_VERSION:
        raise PipelineError(f"{path}: format {data.get('format')}, expected {FORMAT_VERSION} "
                            "(retrain it with this version)")
    return data
