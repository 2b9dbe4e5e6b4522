import keras
import numpy as np
import pytest

from gesture_vae.layers import TemporalBlock, temporal_stack


def test_shapes_any_length_and_skip(rng):
    block = TemporalBlock(8, kernel_size=3, dilation_rate=2)
    for frames in (1, 5, 37):
        out = block(rng.normal(size=(2, frames, 4)).astype("float32"))
        assert tuple(out.shape) == (2, frames, 8)
    assert block.skip is not None  # 4 -> 8 channels: 1x1 convolution on the skip
    same = TemporalBlock(4)
    same(np.zeros((1, 3, 4), "float32"))
    assert same.skip is None


def test_residual_identity_when_convolutions_are_zero(rng):
    block = TemporalBlock(3, kernel_size=3)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    block(x)
    block.set_weights([np.zeros_like(w) for w in block.get_weights()])
    np.testing.assert_allclose(block(x).numpy(), np.maximum(x, 0.0), atol=1e-7)


def test_non_causal_receptive_field():
    # One impulse in the middle: a block of two k3 convolutions with dilation 2 reaches
    # 4 frames on each side, and no further.
    block = TemporalBlock(2, kernel_size=3, dilation_rate=2)
    x = np.zeros((1, 21, 2), "float32")
    block(x)
    block.set_weights([np.abs(w) + 0.1 for w in block.get_weights()])
    base = block(x).numpy()
    x[0, 10] = 1.0
    changed = np.flatnonzero(np.abs(block(x).numpy() - base).sum(axis=(0, 2)) > 1e-6)
    assert changed.min() == 6
    assert changed.max() == 14


def test_dropout_only_in_training(rng):
    block = TemporalBlock(16, dropout=0.5, seed=3)
    x = rng.normal(size=(4, 10, 16)).astype("float32")
    np.testing.assert_array_equal(block(x, training=False).numpy(), block(x).numpy())
    assert not np.allclose(block(x, training=True).numpy(), block(x).numpy())


@pytest.mark.parametrize("kwargs", [{"filters": 0}, {"filters": 4, "kernel_size": 2},
                                    {"filters": 4, "dilation_rate": 0},
                                    {"filters": 4, "dropout": 1.0}])
def test_validates_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        TemporalBlock(**kwargs)


def test_get_config_round_trip(rng):
    block = TemporalBlock(6, kernel_size=5, dilation_rate=4, dropout=0.2, seed=1, name="b")
    x = rng.normal(size=(1, 9, 3)).astype("float32")
    block(x)
    clone = TemporalBlock.from_config(block.get_config())
    clone(x)
    clone.set_weights(block.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), block(x).numpy(), atol=1e-6)
    assert clone.get_config() == block.get_config()


def test_temporal_stack_dilations():
    x = keras.Input((None, 3))
    model = keras.Model(x, temporal_stack(x, (4, 5, 6), kernel_size=3, dropout=0.0))
    blocks = [layer for layer in model.layers if isinstance(layer, TemporalBlock)]
    assert [b.dilation_rate for b in blocks] == [1, 2, 4]
    assert [b.filters for b in blocks] == [4, 5, 6]
    assert tuple(model(np.zeros((2, 11, 3), "float32")).shape) == (2, 11, 6)
