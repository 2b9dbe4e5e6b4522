import numpy as np
import pytest

from motion_repr_learning.ae.dae import DenoisingAutoencoder

# -- the model ----------------------------------------------------------------------------------


def test_dae_shapes_and_training_modes(rng):
    model = DenoisingAutoencoder(12, 3, noise_std=0.5, dropout=0.5, seed=1)
    x = rng.normal(size=(2, 12)).astype("float32")
    code = model.encoder(x, training=False)
    assert code.shape == (2, 3)
    assert np.abs(code).max() <= 1.0  # tanh
    out = np.asarray(model(x, training=False))
    np.testing.assert_allclose(out, model(x, training=False))
    np.testing.assert_allclose(out, model.decoder(code, training=False), rtol=1e-6)
    assert not np.allclose(out, model(x, training=True))  # noise and dropout when training
    assert {type(layer).__name__ for layer in model.encoder.layers} == {"Dropout", "Dense"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dim": 0}, "dim=0"), ({"noise_std": -1.0}, "noise_std=-1.0"),
    ({"dropout": 1.0}, "dropout=1.0"),
])
def test_dae_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DenoisingAutoencoder(**{"output_size": 6, "dim": 2, **kwargs})


def test_dae_config_round_trip():
    model = DenoisingAutoencoder(6, 2, noise_std=0.1, dropout=0.2, l2=1e-5, seed=4)
    clone = DenoisingAutoencoder.from_config(model.get_config())
    assert clone.get_config() == model.get_config()


def test_dae_known_values():
    model = DenoisingAutoencoder(2, 2, dropout=0.0)
    for part in (model.encoder, model.decoder):
        part.layers[-1].set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    x = np.array([[0.5, -0.2]], "float32")
    expected = np.tanh(np.tanh(x))
    np.testing.assert_allclose(model(x), expected, rtol=1e-6)
    loss = float(model.compute_losses(x)["loss"])
    assert loss == pytest.approx(np.mean((expected - x) ** 2), rel=1e-5)


def test_the_loss_in_data_units_and_the_original_weight_decay():
    """IVA'19 ``loss_reconstruction`` (error x max_val) plus 0.5 x ``tf.nn.l2_loss`` per matrix."""
    import tensorflow as tf

    scale = np.array([2.0, 10.0], "float32")
    model = DenoisingAutoencoder(2, 2, dropout=0.0, l2=0.25, error_scale=scale)
    x = np.array([[0.5, -0.2], [0.1, 0.3]], "float32")
    error = np.asarray(model(x)) - x
    loss = float(model.compute_losses(x)["loss"])
    assert loss == pytest.approx(np.mean((error * scale) ** 2), rel=1e-5)
    assert loss != pytest.approx(np.mean(error**2), rel=1e-2)
    kernels = [part.layers[-1].kernel for part in (model.encoder, model.decoder)]
    original = sum(0.5 * float(tf.nn.l2_loss(k)) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(original, rel=1e-5)
    with pytest.raises(ValueError, match="error_scale of shape"):
        DenoisingAutoencoder(2, 2, error_scale=[1.0, 2.0, 3.0])
