"""Floating-point operations of a model's forward pass: counted from its layers, and by TF.

:func:`forward_flops` runs a function of the model once (eagerly) and counts the
multiply-adds of every call of a matrix layer -- ``Dense``, ``Conv1D``/``Conv2D``, ``GRU``,
``TimeDistributed`` around one of them -- from the shapes it was called with (a multiply-add
is 2 FLOPs): a sub-network called three times counts three times. Everything else
(activations, normalisation, elementwise losses, kinematics) is a few FLOPs per element and
left out; it is memory-bound rather than compute-bound anyway.

:func:`tf_flops` is TensorFlow's own count (``tf.compat.v1.profiler``) of the matrix ops of the
function's graph; it cannot see inside loops (the ``while`` of a GRU that is not unrolled), so
it checks the analytic count on models without them (``tests/test_flops.py``), and counts a
whole training step's graph (the backward products included) where there are none.

A training step costs at most 3 times its forward pass (:data:`TRAINING_FACTOR`): the
backward pass of each matrix product is two products of the same size (the gradients of its
input and of its weights), one where the input needs no gradient (a first layer on the
data) or none where its weights get none (a branch under ``stop_gradient``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

MATRIX_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D",
              "Conv2DBackpropInput", "Conv2DBackpropFilter", "DepthwiseConv2dNative")
TRAINING_FACTOR = 3  # forward + backward (at most two products per forward one)


def _dense(layer, shape) -> int:
    return 2 * math.prod(shape[:-1]) * shape[-1] * layer.units


def _conv(layer, shape) -> int:
    """Per output position: one multiply-add per kernel tap and (grouped) input channel."""
    spatial = layer.compute_output_shape(shape)[1:-1]
    taps = math.prod(layer.kernel_size) * shape[-1] // layer.groups
    return 2 * shape[0] * math.prod(spatial) * taps * layer.filters


def _gru(layer, shape) -> int:
    """Per frame: the input and recurrent projections to the three gates."""
    batch, frames, features = shape
    return 2 * batch * frames * 3 * layer.units * (features + layer.units)


def layer_flops(layer, shape: tuple[int, ...]) -> int:
    """FLOPs of one call of a matrix layer on an input of shape ``shape`` (0: not counted)."""
    import keras

    if isinstance(layer, keras.layers.TimeDistributed):
        return layer_flops(layer.layer, (shape[0] * shape[1], *shape[2:]))
    if isinstance(layer, keras.layers.Dense):
        return _dense(layer, shape)
    if isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D):
        return _conv(layer, shape)
    if isinstance(layer, keras.layers.GRU):
        return _gru(layer, shape)
    return 0


def _counted_layers(model) -> list:
    """The matrix layers of ``model`` that are called directly (not inside TimeDistributed)."""
    import keras

    kinds = (keras.layers.TimeDistributed, keras.layers.Dense, keras.layers.Conv1D,
             keras.layers.Conv2D, keras.layers.GRU)
    layers = [layer for layer in model._flatten_layers(include_self=False)
              if isinstance(layer, kinds)]
    inner = {id(layer.layer) for layer in layers
             if isinstance(layer, keras.layers.TimeDistributed)}
    return [layer for layer in layers if id(layer) not in inner]


def forward_flops(model, fn: Callable, *args) -> Counter:
    """FLOPs of ``fn(*args)`` (one eager call) by layer class, from ``model``'s matrix layers.

    Parameters
    ----------
    model : keras.Model
        The model whose layers ``fn`` calls (built).
    fn : callable
        E.g. ``model.compute_losses`` (with a batch as ``args``).

    Returns
    -------
    collections.Counter
        ``{"Dense": n, "Conv1D": n, "GRU": n, ...}``; ``sum(...values())`` is the total.
    """
    counts: Counter = Counter()
    layers = _counted_layers(model)
    originals = [layer.call for layer in layers]

    def counting(layer, call):
        def counted(inputs, *rest, **kwargs):
            counts[type(layer).__name__] += layer_flops(layer, tuple(inputs.shape))
            return call(inputs, *rest, **kwargs)
        return counted

    for layer, call in zip(layers, originals):
        layer.call = counting(layer, call)
    try:
        fn(*args)
    finally:
        for layer, call in zip(layers, originals):
            layer.call = call
    return counts


def _nodes(node):
    """A profile node and every node below it (the scope view nests ops by name scope)."""
    yield node
    for child in node.children:
        yield from _nodes(child)


def tf_flops(fn: Callable, *args) -> int:
    """TensorFlow's count of the matrix-op FLOPs of ``fn(*args)``'s graph (loops not seen)."""
    import tensorflow as tf

    graph = tf.function(fn, autograph=False).get_concrete_function(*args).graph
    types = {op.name: op.type for op in graph.get_operations()}
    profiler = tf.compat.v1.profiler
    options = (profiler.ProfileOptionBuilder(profiler.ProfileOptionBuilder.float_operation())
               .with_empty_output().build())
    report = profiler.profile(graph, options=options)
    return sum(node.float_ops for node in _nodes(report) if types.get(node.name) in MATRIX_OPS)
