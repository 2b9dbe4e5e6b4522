"""The analytic FLOP count (training.flops) against TensorFlow's own count."""

import keras
import numpy as np

from training.flops import TRAINING_FACTOR, forward_flops, layer_flops, tf_flops


def small_model() -> keras.Model:
    """Every counted layer kind; the GRU unrolled so that TensorFlow's profiler sees its steps."""
    inputs = keras.Input((12, 5))
    x = keras.layers.Conv1D(7, 3, padding="same")(inputs)
    x = keras.layers.Conv1D(6, 3, dilation_rate=2)(x)
    x = keras.layers.TimeDistributed(keras.layers.Dense(9))(x)
    x = keras.layers.GRU(4, return_sequences=True, unroll=True)(x)
    image = keras.layers.Reshape((8, 4, 1))(x)
    x = keras.layers.Conv2D(3, (3, 2), strides=(2, 1))(image)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def test_analytic_count_equals_tensorflows():
    model = small_model()
    x = np.zeros((3, 12, 5), np.float32)
    counts = forward_flops(model, model, x)
    assert set(counts) == {"Conv1D", "TimeDistributed", "GRU", "Conv2D", "Dense"}
    assert sum(counts.values()) == tf_flops(model, x)


def test_layer_formulas():
    dense = keras.layers.Dense(4)
    assert layer_flops(dense, (2, 3, 5)) == 2 * 6 * 5 * 4
    gru = keras.layers.GRU(8)
    assert layer_flops(gru, (2, 10, 3)) == 2 * 2 * 10 * 3 * 8 * (3 + 8)
    assert layer_flops(keras.layers.ReLU(), (2, 3)) == 0
    assert TRAINING_FACTOR == 3


def test_a_sub_network_called_twice_counts_twice():
    dense = keras.layers.Dense(3)
    model = keras.Sequential([keras.Input((4,)), dense])
    x = np.zeros((2, 4), np.float32)
    once = sum(forward_flops(model, model, x).values())
    twice = forward_flops(model, lambda v: model(model(v)[:, :1] + v), x)
    assert sum(twice.values()) == 2 * once == 2 * 2 * 2 * 4 * 3
