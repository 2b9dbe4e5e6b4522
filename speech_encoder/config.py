"""Settings of the IVA'19 speech encoder: network sizes and optimisation (no TensorFlow).

Kept apart from :mod:`speech_encoder.model` so that ``train.py --help`` shows the defaults
without loading TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NetworkConfig:
    """Sizes of the IVA'19 speech network.

    Parameters
    ----------
    units : int > 0
        Width of the time-distributed dense layers (256).
    blocks : int > 0
        Number of dense blocks (3).
    gru_units : int > 0
        GRU width (256).
    dropout : float in [0, 1)
        Dropout rate after every block (0.1).
    """

    units: int = 256
    blocks: int = 3
    gru_units: int = 256
    dropout: float = 0.1


@dataclass
class TrainSettings:
    """Optimisation settings (IVA'19 defaults: Adam 1e-3, batch 2056, MSE).

    Parameters
    ----------
    epochs : int > 0
    batch_size : int > 0
    learning_rate : float > 0
    patience : int > 0, optional
        Early stopping on the dev loss; ``None`` trains all epochs (best dev epoch kept).
    seed : int
    """

    epochs: int = 100
    batch_size: int = 2056
    learning_rate: float = 1e-3
    patience: int | None = None
    seed: int = 0
