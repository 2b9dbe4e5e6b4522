"""The IVA'19 denoising autoencoder (DAE): MotionE and MotionD as one Keras model.

``[D, DIM, D]``: the encoder (MotionE) is one tanh layer to DIM, the decoder (MotionD) one tanh
layer back to D, each preceded by dropout; Gaussian noise is added to the input during
training. Inputs are normalised motion vectors (see
:mod:`motion_repr_learning.ae.representation`); the loss is their mean squared reconstruction
error, in normalised units or, with ``error_scale`` (the normalisation's scale), in the data's
units as the original ``utils.loss_reconstruction`` (the Trainer adds the L2 penalty of the
weights).
"""

from __future__ import annotations

import keras
import numpy as np


class DenoisingAutoencoder(keras.Model):
    """IVA'19 DAE ``[D, DIM, D]``: ``encoder`` (MotionE) and ``decoder`` (MotionD).

    Parameters
    ----------
    output_size : int > 0
        Motion vector width ``D``.
    dim : int > 0
        Code width ``DIM``.
    noise_std : float >= 0
        Standard deviation of the Gaussian input noise (normalised units).
    dropout : float in [0, 1)
        Dropout rate before each layer.
    l2 : float >= 0
        L2 penalty on both weight matrices.
    seed : int, optional
        Seed of dropout and noise.
    error_scale : array-like [shape=(output_size,)], optional
        The reconstruction error is multiplied by it before squaring: with the
        normalisation's scale the loss is in the data's units (IVA'19). ``None``: normalised
        units.
    """

    def __init__(self, output_size: int, dim: int, *, noise_std: float = 0.0,
                 dropout: float = 0.1, l2: float = 0.0, seed: int | None = None,
                 error_scale=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("output_size", output_size), ("dim", dim)):
            if int(value) <= 0:
                raise ValueError(f"Expected {name} > 0. Received: {name}={value}")
        if noise_std < 0:
            raise ValueError(f"Expected noise_std >= 0. Received: noise_std={noise_std}")
        if not 0 <= dropout < 1:
            raise ValueError(f"Expected 0 <= dropout < 1. Received: dropout={dropout}")
        self.output_size, self.dim = int(output_size), int(dim)
        self.noise_std, self.dropout, self.l2, self.seed = noise_std, dropout, l2, seed
        self.error_scale = None if error_scale is None else np.asarray(error_scale, np.float32)
        if self.error_scale is not None and self.error_scale.shape != (self.output_size,):
            raise ValueError(f"Expected error_scale of shape ({self.output_size},). "
                             f"Received: {self.error_scale.shape}")
        seeds = (None, None, None) if seed is None else (seed, seed + 1, seed + 2)
        self.noise = keras.layers.GaussianNoise(noise_std, seed=seeds[0])
        self.encoder = self._layer(dim, seeds[1], "encoder")
        self.decoder = self._layer(output_size, seeds[2], "decoder")
        self.build((None, self.output_size))

    def build(self, input_shape):
        """Create the weights of both layers."""
        self.encoder.build(input_shape)
        self.decoder.build((None, self.dim))

    def _layer(self, units: int, seed: int | None, name: str) -> keras.Sequential:
        regularizer = keras.regularizers.L2(self.l2) if self.l2 else None
        return keras.Sequential([
            keras.layers.Dropout(self.dropout, seed=seed),
            keras.layers.Dense(units, activation="tanh", kernel_regularizer=regularizer),
        ], name=name)

    def call(self, y, training=False):
        """Reconstruct normalised motion ``(N, D)`` (noise and dropout only when training)."""
        noisy = self.noise(y, training=training)
        return self.decoder(self.encoder(noisy, training=training), training=training)

    def compute_losses(self, batch, training=False) -> dict:
        """Reconstruction MSE of a batch of normalised motion vectors ``(B, D)``.

        ``mean(((output - batch) * error_scale) ** 2)``: in the data's units with the
        normalisation's scale, else in normalised units.
        """
        error = self(batch, training=training) - batch
        if self.error_scale is not None:
            error = error * self.error_scale
        return {"loss": keras.ops.mean(keras.ops.square(error))}

    def get_config(self) -> dict:
        """Constructor arguments."""
        return {**super().get_config(), "output_size": self.output_size, "dim": self.dim,
                "noise_std": self.noise_std, "dropout": self.dropout, "l2": self.l2,
                "seed": self.seed,
                "error_scale": None if self.error_scale is None else self.error_scale.tolist()}
