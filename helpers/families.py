"""The model families: one registry from an artifact's ``kind`` to the code that loads it.

Every trained model is a directory whose ``config.json`` carries its ``kind``
(:mod:`data_processing.artifacts`); :func:`load_model` reads it and hands the directory to the
family's ``load``. Every loaded model implements :class:`GestureModel`, so ``predict.py``, the
experiment runner and the viewer never ask which family they hold. Adding a family is one
line in :data:`FAMILIES` plus its package.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

import numpy as np

from data_processing.artifacts import read_config
from data_processing.bvh import Skeleton
from data_processing.files import PipelineError
from data_processing.motion import Motion

FAMILIES = {
    "iva19": "speech_encoder.model:IVA19Model",
    "a2g": "gesture_vae.sample:Sampler",
    "ha2g": "ha2g.sample:Sampler",
    "iva19_original": "speech_encoder.original:IVA19OriginalModel",
}
"""``kind`` -> ``"module:class"`` whose ``load(directory)`` returns a :class:`GestureModel`."""


class GestureModel(Protocol):
    """What every model family offers once loaded.

    Attributes
    ----------
    kind : str
        The family's key in :data:`FAMILIES`.
    path : pathlib.Path
        The artifact directory.
    fps : float
        Frame rate of the features it reads and of the motion it writes.
    skeleton : Skeleton
        The dataset skeleton its motion is on.
    representation : str
        The array kind it writes to ``.npy``/``.txt`` (``pos_vel``, ``rot6d``).
    options : tuple of str
        Names of the family-specific keyword options of :meth:`generate`.
    """

    kind: str
    path: Path
    fps: float
    skeleton: Skeleton
    representation: str
    options: tuple[str, ...]

    def features(self, wav) -> np.ndarray:
        """Speech features ``(T, F)`` of a WAV file, computed as the training data's were."""

    def generate(self, speech, *, samples: int = 1, seed: int = 0, **options) -> list[Motion]:
        """``samples`` motions for one speech input, one frame per feature frame.

        Parameters
        ----------
        speech : path-like or np.ndarray [shape=(T, F)]
            A ``.wav`` file, or its features (:meth:`features`); a family may accept more
            (IVA'19: ``X_test_*.npy`` context windows).
        samples : int > 0
            Motions to draw (a deterministic family gives ``samples`` copies of one motion).
        seed : int
            Seed of every random choice of the sampling.
        **options
            Family-specific (:attr:`options`), e.g. Audio2Gestures' ``insert`` and ``blend``.
        """


def family(kind: str):
    """The class registered for ``kind``."""
    module, _, name = FAMILIES[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def load_model(path) -> GestureModel:
    """Load any trained model of the project from its artifact directory."""
    if Path(path).suffix == ".keras":
        raise PipelineError(
            f"{path}: IVA'19 models are directories (config.json, model.keras): pass "
            f"{Path(path).with_suffix('')}, as train.py now writes it (docs/architecture.md "
            "says how to convert an older NAME.keras + NAME.json)")
    kind = read_config(path, kinds=tuple(FAMILIES))["kind"]
    return family(kind).load(path)
