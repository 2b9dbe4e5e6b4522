import keras
import numpy as np
import pytest

from gesture_vae.layers import (
    PaddedConv1D,
    TemporalBlock,
    block_lookaheads,
    conv_padding,
    temporal_stack,
)


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


def reach(network, frames: int = 41) -> tuple[int, int]:
    """Frames ``(past, future)`` an output reads, from an impulse in the middle of the input.

    An output frame ``i`` that changes when input frame ``c`` does reads ``c - i`` frames of
    future (``i < c``) or ``i - c`` of past (``i > c``).
    """
    network.set_weights([np.abs(w) + 0.1 for w in network.get_weights()])
    x = np.zeros((1, frames, 2), "float32")
    base = np.asarray(network(x))
    centre = frames // 2
    x[0, centre] = 1.0
    changed = np.flatnonzero(np.abs(np.asarray(network(x)) - base).sum(axis=(0, 2)) > 1e-6)
    return changed.max() - centre, centre - changed.min()


def test_non_causal_receptive_field():
    # A block of two k3 convolutions with dilation 2 reaches 4 frames on each side, no further.
    block = TemporalBlock(2, kernel_size=3, dilation_rate=2)
    block(np.zeros((1, 21, 2), "float32"))
    assert reach(block) == (4, 4)


@pytest.mark.parametrize(("lookahead", "past", "future"), [(0, 8, 0), (1, 7, 1), (3, 5, 3),
                                                           (4, 4, 4)])
def test_bounded_lookahead_block_moves_its_reach_to_the_past(lookahead, past, future):
    block = TemporalBlock(2, kernel_size=3, dilation_rate=2, lookahead=lookahead)
    block(np.zeros((1, 21, 2), "float32"))
    assert reach(block) == (past, future)
    assert sum(conv_padding(conv)[1] for conv in block.convs) == future


@pytest.mark.parametrize(("lookahead", "future"), [(None, 62), (0, 0), (8, 8)])
def test_bounded_lookahead_stack(lookahead, future):
    x = keras.Input((None, 2))
    stack = keras.Model(x, temporal_stack(x, (2,) * 5, kernel_size=3, dropout=0.0,
                                          lookahead=lookahead))
    assert reach(stack, frames=301) == (124 - future, future)


def test_block_lookaheads_go_to_the_least_dilated_blocks_first():
    assert block_lookaheads(8, [1, 2, 4, 8, 16], 3) == [2, 4, 2, 0, 0]
    assert block_lookaheads(500, [1, 1, 1], 5) == [4, 4, 4]
    assert block_lookaheads(None, [1, 2], 3) == [None, None]


def test_the_default_block_is_the_same_padded_one(rng):
    """No lookahead: Keras's own "same" Conv1D (today's layers and weights, bit for bit)."""
    block = TemporalBlock(4, kernel_size=3, dilation_rate=2)
    assert [(type(c), c.padding) for c in block.convs] == [(keras.layers.Conv1D, "same")] * 2
    # A padded convolution with the "same" split computes the "same" convolution.
    x = rng.normal(size=(2, 9, 3)).astype("float32")
    same = keras.layers.Conv1D(4, 3, dilation_rate=2, padding="same")
    padded = PaddedConv1D(4, 3, dilation_rate=2, future=2)
    same.build(x.shape)
    padded.build(x.shape)
    padded.set_weights(same.get_weights())
    np.testing.assert_allclose(padded(x).numpy(), same(x).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="shortens"):
        conv_padding(keras.layers.Conv1D(2, 3))


def test_dropout_only_in_training(rng):
    block = TemporalBlock(16, dropout=0.5, seed=3)
    x = rng.normal(size=(4, 10, 16)).astype("float32")
    np.testing.assert_array_equal(block(x, training=False).numpy(), block(x).numpy())
    assert not np.allclose(block(x, training=True).numpy(), block(x).numpy())


@pytest.mark.parametrize("kwargs", [{"filters": 0}, {"filters": 4, "kernel_size": 2},
                                    {"filters": 4, "dilation_rate": 0},
                                    {"filters": 4, "dropout": 1.0},
                                    {"filters": 4, "dilation_rate": 2, "lookahead": 5},
                                    {"filters": 4, "lookahead": -1}])
def test_validates_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        TemporalBlock(**kwargs)


@pytest.mark.parametrize("lookahead", [None, 5])
def test_get_config_round_trip(rng, lookahead):
    block = TemporalBlock(6, kernel_size=5, dilation_rate=4, dropout=0.2, seed=1, name="b",
                          lookahead=lookahead)
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
