"""The one building block of every Audio2Gestures network: a residual TCN block.

Sequences are ``(batch, frames, channels)``; every convolution is non-causal with "same"
padding, so a network of these blocks is fully convolutional: it maps a sequence of any length
to a sequence of the same length, with no windowing and no seams.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="gesture_vae")
class TemporalBlock(keras.layers.Layer):
    """Residual TCN block: two dilated Conv1D, each followed by ReLU and dropout, plus a skip.

    ``y = relu(drop(relu(conv2(drop(relu(conv1(x)))))) + skip(x))`` where ``skip`` is a 1x1
    convolution when the channel counts differ and the identity otherwise. Kernels use Xavier
    (Glorot uniform) initialisation, as in the paper.

    Parameters
    ----------
    filters : int > 0
        Output channels.
    kernel_size : int > 0, odd
        Temporal kernel size (odd, so "same" padding is centred).
    dilation_rate : int > 0
        Dilation of both convolutions.
    dropout : float in [0, 1)
        Dropout rate after each convolution.
    seed : int, optional
        Seed of the dropout masks.
    """

    def __init__(self, filters: int, *, kernel_size: int = 3, dilation_rate: int = 1,
                 dropout: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"Expected filters to be a positive integer. Received: {filters=}")
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"Expected kernel_size to be a positive odd integer. Received: {kernel_size=}"
            )
        if not isinstance(dilation_rate, int) or dilation_rate < 1:
            raise ValueError(
                f"Expected dilation_rate to be a positive integer. Received: {dilation_rate=}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected dropout in [0, 1). Received: {dropout=}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.dropout = dropout
        self.seed = seed
        self.convs = [
            keras.layers.Conv1D(filters, kernel_size, dilation_rate=dilation_rate, padding="same",
                                activation="relu", kernel_initializer="glorot_uniform",
                                name=f"conv{i}")
            for i in (1, 2)
        ]
        self.drops = [keras.layers.Dropout(dropout, seed=None if seed is None else seed + i)
                      for i in (0, 1)]
        self.skip = None

    def build(self, input_shape):
        """Create the convolutions (and the 1x1 skip when the channel counts differ)."""
        if input_shape[-1] != self.filters:
            self.skip = keras.layers.Conv1D(self.filters, 1, kernel_initializer="glorot_uniform",
                                            name="skip")
            self.skip.build(input_shape)
        self.convs[0].build(input_shape)
        self.convs[1].build((*input_shape[:-1], self.filters))

    def call(self, inputs, training=False):
        """``(B, T, C_in)`` -> ``(B, T, filters)``; dropout only when ``training``."""
        h = inputs
        for conv, drop in zip(self.convs, self.drops):
            h = drop(conv(h), training=training)
        skip = inputs if self.skip is None else self.skip(inputs)
        return keras.ops.relu(h + skip)

    def compute_output_shape(self, input_shape):
        """Same frames, ``filters`` channels."""
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        """Constructor arguments, for saving and :meth:`from_config`."""
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "dilation_rate": self.dilation_rate, "dropout": self.dropout, "seed": self.seed}


def temporal_stack(x, channels: tuple[int, ...], *, kernel_size: int, dropout: float,
                   dilation_base: int = 2, seed: int | None = None, name: str = "tcn"):
    """Apply one :class:`TemporalBlock` per entry of ``channels`` (dilation ``base ** i``).

    Parameters
    ----------
    x : keras.KerasTensor [shape=(batch, frames, channels_in)]
        Functional-API input.
    channels : tuple of int
        Output channels of each block.
    kernel_size : int
        Kernel of every convolution.
    dropout : float
        Dropout rate.
    dilation_base : int
        2 for the encoders and the decoder (dilations 1, 2, 4, ...), 1 for the mapping net.
    seed : int, optional
        Base seed of the dropout masks.
    name : str
        Prefix of the block names.
    """
    for i, filters in enumerate(channels):
        block_seed = None if seed is None else seed + 2 * i
        x = TemporalBlock(filters, kernel_size=kernel_size, dilation_rate=dilation_base**i,
                          dropout=dropout, seed=block_seed, name=f"{name}_block{i}")(x)
    return x
