"""The one building block of every Audio2Gestures network: a residual TCN block.

Sequences are ``(batch, frames, channels)``; every convolution keeps the length (zero padding
at both ends), so a network of these blocks is fully convolutional: it maps a sequence of any
length to a sequence of the same length, with no windowing and no seams. By default the
convolutions are non-causal with "same" padding (the paper's); a *bounded lookahead* splits
each kernel's reach between past and future frames instead (:class:`PaddedConv1D`; 0 future
frames: causal), so that a stream waits for fewer future frames (``docs/streaming.md``).
"""

from __future__ import annotations

import keras


def conv_padding(layer: keras.layers.Conv1D) -> tuple[int, int]:
    """Frames ``(before, after)`` a stride-1 Conv1D zero-pads around its input.

    ``"same"``: ``d (k - 1) / 2`` each side (the odd part after); ``"causal"``: all
    ``d (k - 1)`` before; :class:`PaddedConv1D`: its own split; ``"valid"`` only without reach
    (a 1x1 convolution), since it would shorten the sequence.

    Raises
    ------
    ValueError
        A ``"valid"`` convolution with reach, or a stride other than 1.
    """
    reach = layer.dilation_rate[0] * (layer.kernel_size[0] - 1)
    if layer.strides[0] != 1:
        raise ValueError(f"{layer.name}: stride {layer.strides[0]} changes the frame rate")
    if isinstance(layer, PaddedConv1D):
        return reach - layer.future, layer.future
    if layer.padding == "same":
        return reach // 2, reach - reach // 2
    if layer.padding == "causal":
        return reach, 0
    if reach:
        raise ValueError(f"{layer.name}: a 'valid' convolution of reach {reach} shortens the "
                         "sequence")
    return 0, 0


@keras.saving.register_keras_serializable(package="gesture_vae")
class PaddedConv1D(keras.layers.Conv1D):
    """A stride-1 Conv1D that reads ``future`` frames ahead and the rest of its reach behind.

    The input is zero-padded with ``d (k - 1) - future`` frames before and ``future`` after,
    then convolved without padding: the output has the input's length. ``future = 0`` is a
    causal convolution, ``future = d (k - 1) / 2`` the "same" one.

    Parameters
    ----------
    filters, kernel_size : int
        As ``keras.layers.Conv1D``.
    future : int in [0, dilation_rate (kernel_size - 1)]
        Future frames each output frame reads.
    **kwargs
        Any other ``keras.layers.Conv1D`` argument but ``padding`` and ``strides``.
    """

    def __init__(self, filters: int, kernel_size: int, *, future: int, **kwargs):
        kwargs.pop("padding", None)  # "valid", in a saved config
        super().__init__(filters, kernel_size, padding="valid", **kwargs)
        reach = self.dilation_rate[0] * (self.kernel_size[0] - 1)
        if not isinstance(future, int) or not 0 <= future <= reach:
            raise ValueError(f"Expected future in [0, {reach}] (the kernel's reach). "
                             f"Received: {future=}")
        self.future = future

    def call(self, inputs):
        """``(B, T, C_in)`` -> ``(B, T, filters)``."""
        before, after = conv_padding(self)
        return super().call(keras.ops.pad(inputs, [[0, 0], [before, after], [0, 0]]))

    def compute_output_shape(self, input_shape):
        """Same frames, ``filters`` channels."""
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        """Constructor arguments, for saving and :meth:`from_config`."""
        return {**super().get_config(), "future": self.future}


@keras.saving.register_keras_serializable(package="gesture_vae")
class TemporalBlock(keras.layers.Layer):
    """Residual TCN block: two dilated Conv1D, each followed by ReLU and dropout, plus a skip.

    ``y = relu(drop(relu(conv2(drop(relu(conv1(x)))))) + skip(x))`` where ``skip`` is a 1x1
    convolution when the channel counts differ and the identity otherwise. Kernels use Xavier
    (Glorot uniform) initialisation, as in the paper. The block reads ``d (k - 1)`` frames on
    each side ("same" padding) or, with ``lookahead``, ``lookahead`` future frames and the rest
    of its ``2 d (k - 1)`` frames of reach in the past.

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
    lookahead : int in [0, dilation_rate (kernel_size - 1)], optional
        Future frames the block reads: the first convolution takes up to half its reach of
        them, the second the rest (:class:`PaddedConv1D`). ``None``: "same" padding.
    """

    def __init__(self, filters: int, *, kernel_size: int = 3, dilation_rate: int = 1,
                 dropout: float = 0.0, seed: int | None = None, lookahead: int | None = None,
                 **kwargs):
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
        half = dilation_rate * (kernel_size - 1) // 2  # one convolution's "same" future
        if lookahead is not None and (not isinstance(lookahead, int)
                                      or not 0 <= lookahead <= 2 * half):
            raise ValueError(f"Expected lookahead in [0, {2 * half}] or None. "
                             f"Received: {lookahead=}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.dropout = dropout
        self.seed = seed
        self.lookahead = lookahead
        conv = {"activation": "relu", "kernel_initializer": "glorot_uniform"}
        if lookahead is None:
            self.convs = [keras.layers.Conv1D(filters, kernel_size, dilation_rate=dilation_rate,
                                              padding="same", name=f"conv{i}", **conv)
                          for i in (1, 2)]
        else:
            first = min(lookahead, half)
            self.convs = [PaddedConv1D(filters, kernel_size, dilation_rate=dilation_rate,
                                       future=future, name=f"conv{i}", **conv)
                          for i, future in ((1, first), (2, lookahead - first))]
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
                "dilation_rate": self.dilation_rate, "dropout": self.dropout, "seed": self.seed,
                "lookahead": self.lookahead}


def temporal_stack(x, channels: tuple[int, ...], *, kernel_size: int, dropout: float,
                   dilation_base: int = 2, seed: int | None = None, name: str = "tcn",
                   lookahead: int | None = None):
    """Apply one :class:`TemporalBlock` per entry of ``channels`` (dilation ``base ** i``).

    With ``lookahead`` the stack reads at most that many future frames: the blocks take them
    in order, each up to its "same" share ``d (k - 1)`` (:func:`block_lookaheads`).

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
    lookahead : int >= 0, optional
        Future frames of the whole stack; ``None``: "same" padding everywhere.
    """
    dilations = [dilation_base**i for i in range(len(channels))]
    futures = block_lookaheads(lookahead, dilations, kernel_size)
    for i, (filters, dilation, future) in enumerate(zip(channels, dilations, futures)):
        block_seed = None if seed is None else seed + 2 * i
        x = TemporalBlock(filters, kernel_size=kernel_size, dilation_rate=dilation,
                          dropout=dropout, seed=block_seed, lookahead=future,
                          name=f"{name}_block{i}")(x)
    return x


def block_lookaheads(lookahead: int | None, dilations: list[int],
                     kernel_size: int) -> list[int | None]:
    """Future frames of each block of a stack that reads ``lookahead`` future frames in all.

    The nearest future goes to the first (least dilated) blocks, each up to its "same" share
    ``d (k - 1)`` (so a ``lookahead`` beyond the "same" stack's future reads what the "same"
    stack reads). ``None`` gives ``None`` (the "same" blocks) everywhere.
    """
    if lookahead is None:
        return [None] * len(dilations)
    futures = []
    for dilation in dilations:
        futures.append(min(lookahead, dilation * (kernel_size - 1)))
        lookahead -= futures[-1]
    return futures
