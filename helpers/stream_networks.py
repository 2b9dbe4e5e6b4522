"""NumPy forward passes of the streamed networks (IVA'19, Audio2Gestures), for small chunks.

A Keras call costs milliseconds of dispatch per layer in eager mode (hundreds of milliseconds
for a TCN on a loaded CPU), more than the arithmetic of a 100 ms chunk. :class:`NumpyNetwork`
reads a functional Keras model's graph and weights once and evaluates it with NumPy in
float32, layer for layer at inference: :class:`gesture_vae.layers.TemporalBlock`, ``Conv1D``
(``"same"``, ``"causal"`` or a bounded lookahead's split), ``Dense``, ``TimeDistributed``,
``Normalization`` (and its inverse), ``BatchNormalization``, ``ReLU``, ``GRU`` (last output,
``reset_after``), ``Dropout`` (the identity) and nested functional models, so its outputs
equal the Keras model's to float32 rounding. Another layer is a one-line error.
"""

from __future__ import annotations

import keras
import numpy as np

from data_processing.files import PipelineError
from gesture_vae.layers import TemporalBlock, conv_padding

ACTIVATIONS = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0.0)}


def _activation(layer):
    name = layer.activation.__name__
    if name not in ACTIVATIONS:
        raise PipelineError(f"{layer.name}: activation {name!r} has no NumPy streaming version")
    return ACTIVATIONS[name]


def conv1d(layer: keras.layers.Conv1D):
    """``(B, T, C_in)`` -> ``(B, T, C_out)`` of a length-keeping Conv1D.

    ``"same"``, ``"causal"`` or a bounded lookahead's :class:`gesture_vae.layers.PaddedConv1D`
    (:func:`gesture_vae.layers.conv_padding`).
    """
    kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
    d, k = layer.dilation_rate[0], kernel.shape[0]
    try:
        before, after = conv_padding(layer)
    except ValueError as error:
        raise PipelineError(f"{error}: it cannot be streamed") from None
    act = _activation(layer)
    flat = kernel.reshape(k * kernel.shape[1], kernel.shape[2])  # taps stacked on channels

    def apply(x):
        batch, length, channels = x.shape
        padded = np.zeros((batch, before + length + after, channels), np.float32)
        padded[:, before : before + length] = x
        taps = np.concatenate([padded[:, j * d : j * d + length] for j in range(k)], axis=-1)
        out = taps.reshape(batch * length, flat.shape[0]) @ flat + bias
        return act(out).reshape(batch, length, flat.shape[1])

    return apply


def dense(layer: keras.layers.Dense):
    """``(..., C_in)`` -> ``(..., units)``."""
    kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
    act = _activation(layer)

    def apply(x):
        out = x.reshape(-1, x.shape[-1]) @ kernel + bias
        return act(out).reshape(*x.shape[:-1], kernel.shape[1])

    return apply


def temporal_block(layer: TemporalBlock):
    """:meth:`gesture_vae.layers.TemporalBlock.call` at inference."""
    convs = [conv1d(c) for c in layer.convs]
    skip = conv1d(layer.skip) if layer.skip is not None else (lambda x: x)

    def apply(x):
        h = x
        for conv in convs:
            h = conv(h)
        return np.maximum(h + skip(x), 0.0)

    return apply


def normalization(layer: keras.layers.Normalization):
    """``(x - mean) / std``, or ``mean + x std`` when inverting (std floored at epsilon)."""
    mean = np.asarray(layer.mean, np.float32)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float32)),
                     np.float32(keras.config.epsilon()))
    if layer.invert:
        return lambda x: mean + x * std
    return lambda x: (x - mean) / std


def batch_normalization(layer: keras.layers.BatchNormalization):
    """Inference batch normalisation with the moving statistics (last axis)."""
    gamma, beta, mean, variance = (np.asarray(w, np.float32) for w in layer.get_weights())
    scale = gamma / np.sqrt(variance + np.float32(layer.epsilon))
    return lambda x: (x - mean) * scale + beta


def relu(layer: keras.layers.ReLU):
    """A ReLU layer with its defaults only (no ceiling, slope or threshold)."""
    if layer.max_value is not None or layer.negative_slope or layer.threshold:
        raise PipelineError(f"{layer.name}: a ReLU with a ceiling, slope or threshold has no "
                            "NumPy streaming version")
    return lambda x: np.maximum(x, 0.0)


def gru(layer: keras.layers.GRU):
    """The last output of a GRU (``reset_after``, tanh and sigmoid, zero initial state)."""
    project, recur = gru_parts(layer)
    return lambda x: recur(project(x))


def gru_parts(layer: keras.layers.GRU):
    """A GRU as its per-frame input projection and its recurrence over those projections.

    Returns
    -------
    project : callable
        ``(..., C_in)`` -> ``(..., 3 units)``: ``x W + b_in`` (gates z, r, h).
    recur : callable
        ``(B, T, 3 units)`` -> ``(B, units)``: the last state.
    """
    cell = layer.cell
    if (layer.return_sequences or layer.go_backwards or not cell.reset_after
            or cell.activation.__name__ != "tanh"
            or cell.recurrent_activation.__name__ != "sigmoid"):
        raise PipelineError(f"{layer.name}: only a forward GRU giving its last output "
                            "(reset_after, tanh, sigmoid) has a NumPy streaming version")
    kernel, recurrent, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
    units = recurrent.shape[0]

    def recur(inputs):
        h = np.zeros((inputs.shape[0], units), np.float32)
        for t in range(inputs.shape[1]):
            inner = h @ recurrent + bias[1]
            gates = 1.0 / (1.0 + np.exp(-(inputs[:, t, : 2 * units] + inner[:, : 2 * units])))
            z, r = gates[:, :units], gates[:, units:]
            candidate = np.tanh(inputs[:, t, 2 * units :] + r * inner[:, 2 * units :])
            h = z * h + (1.0 - z) * candidate
        return h

    return (lambda x: x @ kernel + bias[0]), recur


def _layer_function(layer):
    simple = {TemporalBlock: temporal_block, keras.layers.Conv1D: conv1d,
              keras.layers.Dense: dense, keras.layers.Normalization: normalization,
              keras.layers.BatchNormalization: batch_normalization, keras.layers.ReLU: relu,
              keras.layers.GRU: gru}
    for kind, build in simple.items():
        if isinstance(layer, kind):
            return build(layer)
    if isinstance(layer, keras.layers.Dropout):
        return lambda x: x
    if isinstance(layer, keras.layers.TimeDistributed):
        return _layer_function(layer.layer)
    if isinstance(layer, keras.Model):
        return NumpyNetwork(layer)
    raise PipelineError(f"{layer.name}: a {type(layer).__name__} layer has no NumPy streaming "
                        "version")


def _node(layer, known: set):
    """The node of ``layer`` in the graph being read: the one whose input is ``known``."""
    for node in layer._inbound_nodes:
        if len(node.input_tensors) == 1 and id(node.input_tensors[0]) in known:
            return node
    raise PipelineError(f"{layer.name}: not a single-input layer of a chain NumPy can stream")


class NumpyNetwork:
    """A functional Keras model of single-input layers, evaluated with NumPy.

    Parameters
    ----------
    model : keras.Model
        One input ``(B, T, C)``; one output or a list of them.
    """

    def __init__(self, model: keras.Model):
        self.name, self.model = model.name, model
        self.input = id(model.inputs[0])
        self.outputs = [id(o) for o in model.outputs]
        self.steps, known = [], {self.input}
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            node = _node(layer, known)
            self.steps.append((id(node.input_tensors[0]), id(node.outputs[0]),
                               _layer_function(layer), layer))
            known.add(id(node.outputs[0]))

    def __call__(self, x: np.ndarray, training: bool = False):
        """The outputs for ``x``: an array, or a list with several outputs."""
        values = {self.input: np.asarray(x, np.float32)}
        for source, target, apply, _ in self.steps:
            values[target] = apply(values[source])
        outputs = [values[o] for o in self.outputs]
        return outputs if len(outputs) > 1 else outputs[0]


def _chain(model: keras.Model) -> list:
    """The layers of a chain model in order, nested chain models expanded."""
    layers, current = [], id(model.inputs[0])
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        current = id(_node(layer, {current}).outputs[0])
        layers += _chain(layer) if isinstance(layer, keras.Model) else [layer]
    if [current] != [id(o) for o in model.outputs]:
        raise PipelineError(f"{model.name}: not a chain of layers")
    return layers


class RecurrentChain:
    """A chain network around one GRU: per-frame layers, the recurrence, per-window layers.

    Everything before the GRU, and the GRU's input projection, acts on each frame alone, so a
    stream computes it once per frame (:meth:`frames`) and reruns only the recurrence and
    what follows on each window (:meth:`windows`): the same arithmetic as
    :class:`NumpyNetwork` on the windows.

    Parameters
    ----------
    model : keras.Model
        Windows ``(B, W, F)`` -> ``(B, D)``, one GRU in the chain (IVA'19).
    """

    def __init__(self, model: keras.Model):
        layers = _chain(model)
        recurrent = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.GRU)]
        if len(recurrent) != 1:
            raise PipelineError(f"{model.name}: expected one GRU, found {len(recurrent)}")
        split = recurrent[0]
        project, self.recur = gru_parts(layers[split])
        self.per_frame = [_layer_function(layer) for layer in layers[:split]] + [project]
        self.per_window = [_layer_function(layer) for layer in layers[split + 1 :]]

    def frames(self, x: np.ndarray) -> np.ndarray:
        """Per-frame values ``(T, 3 units)`` of feature frames ``(T, F)``."""
        x = np.asarray(x, np.float32)[None]
        for apply in self.per_frame:
            x = apply(x)
        return x[0]

    def windows(self, windows: np.ndarray) -> np.ndarray:
        """Outputs ``(B, D)`` of windows of per-frame values ``(B, W, 3 units)``."""
        x = self.recur(windows)
        for apply in self.per_window:
            x = apply(x)
        return x
