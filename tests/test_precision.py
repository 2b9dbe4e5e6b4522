"""Mixed precision (training.precision): 16-bit sub-networks, float32 losses, parity."""

import keras
import numpy as np
import pytest

from speech_encoder.config import NetworkConfig
from speech_encoder.model import SpeechToMotion, build_network
from tests.conftest import eager_functions
from training.loop import Trainer, set_seed
from training.precision import record_precision, set_precision, wrap_optimizer

WINDOW, FEATURES, OUTPUTS, BATCH, STEPS = 4, 8, 6, 32, 4
# bf16 keeps 8 significant bits (relative rounding 2^-9, 0.2%) in the sub-network's matmuls
# and activations, which CPUs and GPUs accumulate in float32. Measured: the final loss of this
# run is 0.3% from float32's while training moves it by 55%; 2% (the issue's parity target) is
# well above that rounding and well below what a broken mixed run (losses in bf16 end to end,
# a sub-network left in float32 that should not be, a wrong loss scale) moves. No dropout: its
# masks are drawn in the compute dtype, so they differ between precisions (not a rounding).
PARITY = 0.02


def tiny_iva19(seed: int = 0) -> SpeechToMotion:
    network = build_network(window=WINDOW, feature_size=FEATURES, output_size=OUTPUTS,
                            audio_mean=np.zeros(FEATURES), audio_std=np.ones(FEATURES),
                            config=NetworkConfig(units=16, blocks=1, gru_units=16, dropout=0.0),
                            seed=seed)
    return SpeechToMotion(network, np.zeros(OUTPUTS, np.float32), np.ones(OUTPUTS, np.float32))


def batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, WINDOW, FEATURES)).astype(np.float32)
    y = np.tanh(x[:, -1, :OUTPUTS] + x[:, 0, :OUTPUTS])  # learnable targets
    return [(x, y.astype(np.float32))] * STEPS


def losses(precision: str, tmp_path) -> tuple[float, float]:
    """The first and last training loss of a short deterministic run in ``precision``."""
    set_seed(0)
    model = set_precision(tiny_iva19(), precision)
    optimizer = wrap_optimizer(keras.optimizers.Adam(1e-2), precision)
    trainer = Trainer(model, optimizer, tmp_path / precision)
    values = [trainer.train_step(batch)["loss"] for batch in batches()]
    assert all(v.dtype.name == "float32" for v in values)
    return float(values[0]), float(values[-1])


def test_sub_networks_compute_in_bf16_and_return_float32():
    model = tiny_iva19()
    x = batches()[0][0]
    reference = np.asarray(model(x))
    set_precision(model, "mixed_bfloat16")
    assert model.network.get_layer("gru").compute_dtype == "bfloat16"
    assert model.dtype_policy.name == "float32"
    assert all(w.dtype == "float32" for w in model.weights)  # variables stay float32
    mixed = np.asarray(model(x))
    assert mixed.dtype == np.float32
    assert not np.array_equal(mixed, reference)
    np.testing.assert_allclose(mixed, reference, atol=0.05)
    set_precision(model, "float32")  # undone exactly
    np.testing.assert_array_equal(np.asarray(model(x)), reference)
    with pytest.raises(ValueError, match="precision"):
        set_precision(model, "bfloat16")


def test_loss_scaling_only_for_float16():
    adam = keras.optimizers.Adam()
    assert wrap_optimizer(adam, "mixed_bfloat16") is adam
    assert isinstance(wrap_optimizer(adam, "mixed_float16"), keras.optimizers.LossScaleOptimizer)


def test_precision_is_recorded(tmp_path):
    (tmp_path / "config.json").write_text('{"kind": "a2g", "format": 1}')
    record_precision(tmp_path, "mixed_bfloat16")
    assert '"precision": "mixed_bfloat16"' in (tmp_path / "config.json").read_text()


@pytest.mark.slow
def test_bf16_training_matches_float32(tmp_path):
    with eager_functions():
        runs = {p: losses(p, tmp_path) for p in ("float32", "mixed_bfloat16")}
    first, last = runs["float32"]
    assert last < first * (1 - 5 * PARITY), runs  # training moved the loss well beyond PARITY
    assert runs["mixed_bfloat16"][1] == pytest.approx(last, rel=PARITY), runs
