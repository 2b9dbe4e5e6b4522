"""Audio2Gestures on skeletons whose non-root joints translate (``rot6d`` of width 6 R + 3 P)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from data_processing.bvh import BVHMotion, read_bvh
from data_processing.motion import from_vectors
from data_processing.representations import rot6d_size, rot6d_vector
from gesture_vae.config import make_config
from gesture_vae.data import Normalisation, SequenceSet
from gesture_vae.model import GestureVAE, SkeletonGeometry
from gesture_vae.run import Run
from gesture_vae.sample import Sampler
from gesture_vae.train import code_statistics
from tests.a2g_helpers import TINY
from tests.conftest import TINY_BVH
from tests.test_channels import WORLD_BVH

# Hips (root) and spine both have animated position channels (P = 2); the arm only rotates.
SPINE_BVH = """HIERARCHY
ROOT Hips
{
\tOFFSET 0.0 90.0 0.0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Spine
\t{
\t\tOFFSET 0.0 10.0 0.0
\t\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\t\tJOINT Arm
\t\t{
\t\t\tOFFSET 15.0 0.0 0.0
\t\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 25.0 0.0 0.0
\t\t\t}
\t\t}
\t}
}
MOTION
Frames: 2
Frame Time: 0.0333333
1.0 90.0 -2.0 10.0 0.0 -5.0 3.0 12.0 -5.0 10.0 20.0 30.0 45.0 10.0 -10.0
1.5 90.5 -2.5 20.0 5.0 -5.0 -4.0 8.0 1.5 20.0 -5.0 15.0 0.0 20.0 -20.0
"""

UNITS_PER_METRE = 100.0
FEATURES = 5


def walk(bvh: BVHMotion, n_frames: int, seed: int = 0) -> BVHMotion:
    """The file's frames, then a seeded random walk of every channel (2 units per frame)."""
    steps = np.random.default_rng(seed).normal(scale=2.0, size=(n_frames, bvh.skeleton.n_channels))
    frames = np.concatenate([bvh.frames, bvh.frames[-1] + np.cumsum(steps, axis=0)])
    return BVHMotion(bvh.skeleton, frames, bvh.frame_time)


def statistics(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std ``(D,)`` of ``(T, D)`` rows, constant columns at std 1."""
    std = vectors.std(axis=0)
    return vectors.mean(axis=0), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def tf_positions(bvh: BVHMotion) -> np.ndarray:
    """Positions ``(T, J, 3)`` (file units) of the float32 rot6d vectors by the TF geometry."""
    vectors = rot6d_vector(bvh).astype(np.float32)
    mean, std = statistics(vectors)
    geometry = SkeletonGeometry(bvh.skeleton, mean, std, UNITS_PER_METRE)
    pose = tf.function(geometry.pose, input_signature=[tf.TensorSpec((None, None, len(mean)))])
    _, positions = pose(tf.constant((vectors - mean) / std)[None])  # any batch and length
    return positions.numpy()[0] * UNITS_PER_METRE


@pytest.mark.parametrize(("text", "moving"), [(TINY_BVH, ["Hips"]),
                                              (SPINE_BVH, ["Hips", "Spine"]),
                                              (WORLD_BVH, ["world", "hips", "spine"])],
                         ids=["root-only", "hips-and-spine", "world-root"])
def test_geometry_matches_the_bvh_fk(tmp_path, text, moving):
    path = tmp_path / "made.bvh"
    path.write_text(text)
    bvh = walk(read_bvh(path), 40)
    skel = bvh.skeleton
    assert [skel.names[j] for j in skel.translating] == moving
    assert rot6d_size(skel) == 6 * len(skel.rotating) + 3 * len(moving)
    truth = bvh.positions()
    np.testing.assert_allclose(tf_positions(bvh), truth, atol=1e-3)  # cm: float32
    if len(moving) > 1:  # the non-root translations matter: offsets alone are centimetres off
        fixed = skel.translations(bvh.root_translation())
        positions = BVHMotion.from_rotations(skel, bvh.local_rotations(), None, bvh.frame_time,
                                             translations=fixed).positions()
        assert np.abs(positions - truth).max() > 1.0


def test_geometry_matches_the_bvh_fk_on_genea(genea_bvh):
    bvh = read_bvh(genea_bvh)
    bvh = BVHMotion(bvh.skeleton, bvh.frames[:120], bvh.frame_time)
    error = np.linalg.norm(tf_positions(bvh) - bvh.positions(), axis=-1)
    assert error.max() < 2e-3  # cm


def test_a2g_trains_and_samples_with_translating_joints(tmp_path):
    path = tmp_path / "spine.bvh"
    path.write_text(SPINE_BVH)
    bvh = walk(read_bvh(path), 70)
    skel = bvh.skeleton
    vectors = rot6d_vector(bvh).astype(np.float32)
    audio = np.random.default_rng(1).normal(size=(len(vectors), FEATURES)).astype(np.float32)
    norm = Normalisation(*statistics(audio), *statistics(vectors))
    data = SequenceSet(norm.audio(audio), norm.motion(vectors), np.array([len(vectors)]))
    config = make_config("demo", variant="full", **TINY)
    keras.utils.set_random_seed(config.seed)
    model = GestureVAE(config, feature_size=FEATURES, skeleton=skel,
                       motion_mean=norm.motion_mean, motion_std=norm.motion_std, fps=bvh.fps)
    batch = next(data.random_batches(config.crop_frames, config.batch_size, seed=config.seed))
    before = [w.numpy() for w in model.decoder.trainable_weights]
    with tf.GradientTape() as tape:  # the Trainer's step, eager: tracing it takes long
        losses = model.compute_losses(batch, training=True)
    grads = tape.gradient(losses["loss"], model.trainable_variables)
    keras.optimizers.Adam(config.learning_rate).apply(grads, model.trainable_variables)
    assert all(np.isfinite(float(v)) for v in losses.values())
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    assert any(not np.array_equal(a, w.numpy())
               for a, w in zip(before, model.decoder.trainable_weights))

    run = Run(tmp_path / "run", config, {"fps": bvh.fps}, skel, norm)
    sampler = Sampler(model, run, code_statistics(model, data, config.crop_frames))
    generated = sampler.sample(audio[:20], samples=2)
    assert generated.motion.shape == (2, 20, rot6d_size(skel))
    _, expected = model.geometry.pose(norm.motion(generated.motion))
    np.testing.assert_allclose(generated.positions, expected.numpy() * UNITS_PER_METRE,
                               atol=1e-3)
    motion = from_vectors(generated.motion[0], skel, bvh.fps, kind="rot6d")
    moving = generated.motion[0, :, 6 * len(skel.rotating):].reshape(20, len(skel.translating), 3)
    np.testing.assert_allclose(motion.translations[:, skel.translating], moving, atol=1e-5)
    np.testing.assert_allclose(motion.positions, generated.positions[0], atol=1e-9)
