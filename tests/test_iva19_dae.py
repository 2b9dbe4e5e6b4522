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
