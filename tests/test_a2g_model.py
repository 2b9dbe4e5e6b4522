import numpy as np
import pytest
import tensorflow as tf

from data_processing.demo_speaker import synthesize_session
from data_processing.representations import rot6d_vector, to_positions
from gesture_vae.config import VARIANTS, make_config
from gesture_vae.model import GestureVAE, interpolate_knots, knot_count


@pytest.fixture(scope="module")
def demo_motion():
    """rot6d vectors (T, D) of 4 s of the demo speaker at 60 fps, with their skeleton."""
    _, motion, _ = synthesize_session(2, 6.0)
    vectors = rot6d_vector(motion)[:240].astype(np.float32)
    return vectors, motion.skeleton


def make_model(demo_motion, variant="full", **overrides):
    vectors, skeleton = demo_motion
    config = make_config("demo", variant=variant, **overrides)
    std = vectors.std(axis=0)
    return GestureVAE(config, feature_size=5, skeleton=skeleton, motion_mean=vectors.mean(axis=0),
                      motion_std=np.where(std > 1e-6, std, 1.0), fps=30.0)


def batch(demo_motion, model, frames=32, size=2, rng=None):
    rng = rng or np.random.default_rng(0)
    vectors, _ = demo_motion
    starts = rng.integers(0, len(vectors) - frames, size)
    motion = vectors[starts[:, None] + np.arange(frames)]
    normalised = (motion - model.geometry.mean.numpy()) / model.geometry.std.numpy()
    return {"audio": rng.normal(size=(size, frames, 5)).astype(np.float32),
            "motion": normalised.astype(np.float32)}


def test_geometry_agrees_with_numpy_fk(demo_motion):
    vectors, skeleton = demo_motion
    model = make_model(demo_motion)
    normalised = (vectors - model.geometry.mean.numpy()) / model.geometry.std.numpy()
    rotations, positions = model.geometry.pose(tf.constant(normalised[None]))
    expected = to_positions(vectors, skeleton, "rot6d") / 100.0  # cm -> m
    np.testing.assert_allclose(positions.numpy()[0], expected, atol=2e-5)
    assert rotations.shape == (1, len(vectors), len(skeleton.rotating), 3, 3)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_losses_of_every_variant(demo_motion, variant):
    model = make_model(demo_motion, variant)
    parts = VARIANTS[variant]
    out = model.compute_losses(batch(demo_motion, model), training=True)
    expected = {"loss", "align", "kl", "kl_weight", "diversity_weight"}
    for prefix in ("recon", "audio"):
        expected |= {f"{prefix}_rotation", f"{prefix}_position", f"{prefix}_speed"}
    if parts.split:
        expected |= {"random_rotation", "random_relaxed", "random_speed"}
    if parts.bicycle:
        expected.add("bicycle")
    if parts.diversity:
        expected.add("diversity")
    assert set(out) == expected
    assert all(np.isfinite(float(v)) for v in out.values())
    assert (model.mapping_net is None) == (not parts.mapping)
    assert model.decoder.input_shape[-1] == 16 * (2 if parts.split else 1)


def test_every_network_gets_gradients(demo_motion):
    model = make_model(demo_motion, "full")
    data = batch(demo_motion, model)
    model.compute_losses(data)  # build
    with tf.GradientTape() as tape:
        loss = model.compute_losses(data, training=True)["loss"]
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    assert not missing
    assert all(np.isfinite(g.numpy()).all() for g in grads)


def test_fully_convolutional_and_batch_independent(demo_motion, rng):
    model = make_model(demo_motion, "split")
    for frames in (7, 100):
        audio = rng.normal(size=(3, frames, 5)).astype(np.float32)
        codes = rng.normal(size=(3, frames, 16)).astype(np.float32)
        together = model((audio, codes)).numpy()
        assert together.shape == (3, frames, model.motion_size)
        alone = model((audio[1:2], codes[1:2])).numpy()
        np.testing.assert_allclose(alone[0], together[1], atol=1e-5)


def test_schedules_follow_the_step_counter(demo_motion):
    # 4 KL cycles of 100 steps: the official sawtooth (floor 1e-4) and the project's ramp
    model = make_model(demo_motion, "full", steps=400)
    project = make_model(demo_motion, "full", steps=400, kl_ramp=0.5, kl_floor=0.0)
    data = batch(demo_motion, model)
    step = tf.Variable(0, dtype=tf.int64)
    model.use_step_counter(step)
    project.use_step_counter(step)
    for value, kl, held, diversity in ((0, 1e-7, 0.0, 0.1), (25, 0.25e-3, 0.5e-3, 0.09375),
                                       (75, 0.75e-3, 1e-3, 0.08125), (300, 1e-7, 0.0, 0.025),
                                       (400, 1e-7, 0.0, 0.0)):
        step.assign(value)
        out = model.compute_losses(data)
        assert float(out["kl_weight"]) == pytest.approx(kl)
        assert float(out["diversity_weight"]) == pytest.approx(diversity)
        assert float(project.compute_losses(data)["kl_weight"]) == pytest.approx(held)


def test_loss_is_the_weighted_sum_of_the_terms(demo_motion):
    model = make_model(demo_motion, "full")
    out = {k: float(v) for k, v in model.compute_losses(batch(demo_motion, model)).items()}
    c = model.config
    expected = sum(out[f"{p}_rotation"] * c.rotation_weight for p in ("recon", "audio", "random"))
    expected += (out["recon_speed"] + out["audio_speed"]) * c.speed_weight  # 1 (start.sh)
    expected += out["random_speed"] * c.random_speed_weight  # 5
    expected += (out["recon_position"] + out["audio_position"]) * c.position_weight
    expected += out["random_relaxed"] * c.relaxed_weight + out["align"] * c.align_weight
    expected += out["bicycle"] * c.bicycle_weight + out["diversity"] * c.diversity_weight
    expected += out["kl"] * out["kl_weight"]
    assert out["loss"] == pytest.approx(expected, rel=1e-5)


def test_interpolate_knots_known_values():
    knots = np.array([[[0.0], [2.0], [4.0]]])
    got = np.asarray(interpolate_knots(knots, 5, 2))
    np.testing.assert_allclose(got[0, :, 0], [0.0, 1.0, 2.0, 3.0, 4.0])
    assert knot_count(5, 2) == 3
    np.testing.assert_allclose(np.asarray(interpolate_knots(knots, 3, 1)), knots)


def test_interpolated_noise_keeps_unit_variance(rng):
    period, frames = 4, 9
    knots = rng.standard_normal((20000, knot_count(frames, period), 1))
    noise = np.asarray(interpolate_knots(knots, frames, period, keep_variance=True))[..., 0]
    np.testing.assert_allclose(noise.var(axis=0), 1.0, atol=0.05)  # every phase
    lag1 = np.mean(noise[:, 1:5] * noise[:, :4], axis=0)
    assert lag1.min() > 0.6  # smooth: neighbouring frames are strongly correlated


@pytest.mark.parametrize(("seconds", "white"), [(0.0, True), (1.0, False)])
def test_training_noise_is_white_or_smooth(demo_motion, seconds, white):
    # noise_seconds = 0 (official): i.i.d. per frame; 1 s (project): smooth over the knots.
    model = make_model(demo_motion, "split", noise_seconds=seconds)
    noise = np.asarray(model._random_noise(np.zeros((400, 32, 16), np.float32)))
    np.testing.assert_allclose(noise.var(), 1.0, atol=0.05)
    lag1 = np.mean(noise[:, 1:] * noise[:, :-1])
    assert abs(lag1) < 0.02 if white else lag1 > 0.9
