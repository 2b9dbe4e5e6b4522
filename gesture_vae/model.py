"""The Audio2Gestures networks and the model that trains them (Li et al., ICCV'21).

Four functional networks, all made of :class:`~gesture_vae.layers.TemporalBlock`::

    audio encoder    audio (T, F)  -> shared code mu, logvar (T, 16)
    motion encoder   motion (T, D) -> shared code mu, logvar (T, 16)
                                      [+ motion-specific code mu, logvar (T, 16)]
    decoder          shared [+ specific] codes (T, 16 [+ 16]) -> motion (T, D)
    mapping net      noise (T, 16) -> motion-specific code mu, logvar (T, 16)

Motion vectors are the dataset's ``rot6d`` vectors ``[6D of every rotating joint | xyz of
every translating joint]`` (``D = 6 R + 3 P``; ``P = 1``, the root alone, on the demo speaker)
z-scored with the training statistics (``motion_mean``, ``motion_std``); the decoder outputs
the same normalised layout, translations included. For the losses, 6D goes to rotation
matrices and forward kinematics (TensorFlow, :mod:`data_processing.tf_geometry`) gives joint
positions, in metres.

:class:`GestureVAE` wires the networks according to the variant (``config.VARIANTS``) and
reports every loss term by name from :meth:`GestureVAE.compute_losses`, the interface of
:class:`training.loop.Trainer`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from data_processing.bvh import Skeleton
from data_processing.representations import rot6d_size
from data_processing.tf_geometry import forward_kinematics, rot6d_to_matrix
from gesture_vae import losses
from gesture_vae.config import A2GConfig
from gesture_vae.layers import temporal_stack

# --------------------------------------------------------------------------------------------
# Geometry: normalised vectors -> rotations and positions


class SkeletonGeometry:
    """Turn normalised ``rot6d`` vectors into local rotations and joint positions (TensorFlow).

    The ``3 P`` columns after the rotations are the local translations of the skeleton's
    translating joints (:attr:`~data_processing.bvh.Skeleton.translating`); every other
    joint keeps its offset, as in :func:`data_processing.representations.rot6d_to_rotations`.

    Parameters
    ----------
    skeleton : Skeleton
        The dataset's skeleton (offsets in the dataset's units).
    motion_mean, motion_std : np.ndarray [shape=(D,)]
        Normalisation of the vectors (training split).
    units_per_metre : float
        Positions come out in metres: dataset units divided by this.
    """

    def __init__(self, skeleton: Skeleton, motion_mean: np.ndarray, motion_std: np.ndarray,
                 units_per_metre: float):
        n_joints, n_rot, n_moving = (skeleton.n_joints, len(skeleton.rotating),
                                     len(skeleton.translating))
        width = rot6d_size(skeleton)
        if len(motion_mean) != width or len(motion_std) != len(motion_mean):
            raise ValueError(
                f"Expected rot6d statistics of width {width} for {n_rot} rotating and "
                f"{n_moving} translating joints. Received: {len(motion_mean)} and "
                f"{len(motion_std)}"
            )
        self.parents = skeleton.parents
        self.n_rotating, self.n_translating = n_rot, n_moving
        self.mean = tf.constant(motion_mean, tf.float32)
        self.std = tf.constant(motion_std, tf.float32)
        self.offsets = tf.constant(skeleton.offsets / units_per_metre, tf.float32)
        rotation_slot = np.full(n_joints, n_rot)  # slot n_rot holds the identity
        rotation_slot[skeleton.rotating] = np.arange(n_rot)
        self.rotation_slot = tf.constant(rotation_slot)
        # slots n_joints + p hold the translation of skeleton.translating[p]
        translation_slot = np.arange(n_joints)
        translation_slot[skeleton.translating] = n_joints + np.arange(n_moving)
        self.translation_slot = tf.constant(translation_slot)
        self.units_per_metre = units_per_metre

    def vectors(self, normalised: tf.Tensor) -> tf.Tensor:
        """Undo the z-scoring: ``(..., D)`` in the dataset's units."""
        return normalised * self.std + self.mean

    def pose(self, normalised: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Rotations ``(..., R, 3, 3)`` of the rotating joints and positions ``(..., J, 3)`` (m).

        Parameters
        ----------
        normalised : tf.Tensor [shape=(..., 6 R + 3 P)]
            Normalised ``rot6d`` vectors.
        """
        vectors = self.vectors(normalised)
        six = tf.reshape(vectors[..., : 6 * self.n_rotating],
                         tf.concat([tf.shape(vectors)[:-1], [self.n_rotating, 6]], axis=0))
        rotations = rot6d_to_matrix(six)
        identity = tf.broadcast_to(tf.eye(3), tf.concat([tf.shape(six)[:-2], [1, 3, 3]], 0))
        local = tf.gather(tf.concat([rotations, identity], axis=-3), self.rotation_slot, axis=-3)
        moving = tf.reshape(vectors[..., 6 * self.n_rotating :],
                            tf.concat([tf.shape(vectors)[:-1], [self.n_translating, 3]], axis=0))
        moving = moving / self.units_per_metre
        offsets = tf.broadcast_to(self.offsets, tf.concat([tf.shape(moving)[:-2],
                                                            tf.shape(self.offsets)], 0))
        translations = tf.gather(tf.concat([offsets, moving], axis=-2), self.translation_slot,
                                 axis=-2)
        return rotations, forward_kinematics(self.parents, local, translations)


# --------------------------------------------------------------------------------------------
# The four networks (functional)


def _gaussian_heads(x, hidden: int, units: int, initial_logvar: float, name: str):
    """Two MLPs ``in -> hidden -> units`` (ReLU between) giving ``mu`` and ``logvar``.

    The ``logvar`` output starts at ``initial_logvar`` (its bias), so that the posterior's
    noise does not drown the code at the start of training.
    """
    out = []
    for part, bias in (("mu", 0.0), ("logvar", initial_logvar)):
        h = keras.layers.Dense(hidden, activation="relu", name=f"{name}_{part}_hidden")(x)
        out.append(keras.layers.Dense(units, bias_initializer=keras.initializers.Constant(bias),
                                      name=f"{name}_{part}")(h))
    return out


def build_audio_encoder(config: A2GConfig, feature_size: int) -> keras.Model:
    """Audio features ``(B, T, F)`` -> shared code ``[mu, logvar]`` ``(B, T, code_size)``."""
    audio = keras.Input((None, feature_size), name="audio")
    h = temporal_stack(audio, config.scaled(config.audio_channels),
                       kernel_size=config.kernel_size, dropout=config.dropout,
                       lookahead=config.lookahead, seed=config.seed, name="audio")
    heads = _gaussian_heads(h, config.scaled(config.head_hidden), config.code_size,
                            config.initial_logvar, "shared")
    return keras.Model(audio, heads, name="audio_encoder")


def build_motion_encoder(config: A2GConfig, motion_size: int) -> keras.Model:
    """Motion ``(B, T, D)`` -> shared ``[mu, logvar]`` (+ specific ``[mu, logvar]`` if split).

    With the split, the TCN features go through one linear layer per part (64 -> 32) before
    each part's Gaussian heads.
    """
    motion = keras.Input((None, motion_size), name="motion")
    h = temporal_stack(motion, config.scaled(config.motion_channels),
                       kernel_size=config.kernel_size, dropout=config.dropout,
                       lookahead=config.lookahead, seed=config.seed + 100, name="motion")
    if not config.components.split:
        heads = _gaussian_heads(h, config.scaled(config.head_hidden), config.code_size,
                                config.initial_logvar, "shared")
        return keras.Model(motion, heads, name="motion_encoder")
    heads = []
    for part in ("shared", "specific"):
        features = keras.layers.Dense(config.scaled(config.head_hidden), name=f"{part}_split")(h)
        heads += _gaussian_heads(features, config.scaled(config.head_hidden), config.code_size,
                                 config.initial_logvar, part)
    return keras.Model(motion, heads, name="motion_encoder")


def build_decoder(config: A2GConfig, motion_size: int) -> keras.Model:
    """Codes ``(B, T, code_size [x 2 if split])`` -> normalised motion ``(B, T, D)``."""
    width = config.code_size * (2 if config.components.split else 1)
    codes = keras.Input((None, width), name="codes")
    h = temporal_stack(codes, config.scaled(config.decoder_channels),
                       kernel_size=config.kernel_size, dropout=config.dropout,
                       lookahead=config.lookahead, seed=config.seed + 200, name="decoder")
    h = keras.layers.Dense(config.scaled(config.decoder_hidden), activation="relu",
                           name="out_hidden")(h)
    # Zero-initialised output layer: training starts from the mean pose instead of random
    # jitter, which the speed loss would otherwise answer by killing every temporal signal.
    motion = keras.layers.Dense(motion_size, kernel_initializer="zeros", name="motion")(h)
    return keras.Model(codes, motion, name="decoder")


def build_mapping_net(config: A2GConfig) -> keras.Model:
    """Noise ``(B, T, code_size)`` -> motion-specific code ``[mu, logvar]``.

    Blocks of ``code_size`` channels with dilation 1 (the official three k3 convolutions,
    here residual blocks like every other network) and Gaussian heads ``16 -> 16 -> 16``.
    """
    noise = keras.Input((None, config.code_size), name="noise")
    h = temporal_stack(noise, (config.code_size,) * config.mapping_blocks,
                       kernel_size=config.kernel_size, dropout=config.dropout, dilation_base=1,
                       lookahead=config.lookahead, seed=config.seed + 300, name="mapping")
    heads = _gaussian_heads(h, config.code_size, config.code_size, config.initial_logvar,
                            "mapped")
    return keras.Model(noise, heads, name="mapping_net")


# --------------------------------------------------------------------------------------------
# Smooth noise


def knot_count(n_frames: int, period: int) -> int:
    """Knots needed to cover ``n_frames`` frames with knots ``period`` frames apart."""
    return -(-(n_frames - 1) // period) + 1


def interpolate_knots(knots, n_frames: int, period: int, *, keep_variance: bool = False):
    """Interpolate values given every ``period`` frames (knot ``k`` at frame ``k period``).

    Frame ``t`` lies between knots ``k = t // period`` and ``k + 1`` at ``a = t / period - k``
    and gets ``(1 - a) v_k + a v_{k+1}``. With ``keep_variance`` the result is divided by
    ``sqrt((1 - a)^2 + a^2)``: i.i.d. standard normal knots then give a standard normal at
    every frame that changes smoothly over ``period`` frames. ``period = 1`` returns the knots.

    Parameters
    ----------
    knots : array [shape=(B, K, C)]
        ``K >= knot_count(n_frames, period)`` knot values.
    n_frames : int
        Frames to produce.
    period : int >= 1
        Frames between knots.
    keep_variance : bool
        Rescale to keep the variance of i.i.d. knots.

    Returns
    -------
    tensor [shape=(B, n_frames, C)]
    """
    position = keras.ops.arange(n_frames, dtype="float32") / float(period)
    below = keras.ops.floor(position)
    a = (position - below)[None, :, None]
    index = keras.ops.cast(below, "int32")
    knots = keras.ops.convert_to_tensor(knots, dtype="float32")
    after = keras.ops.minimum(index + 1, keras.ops.shape(knots)[1] - 1)  # a = 0 at the end
    mixed = (1.0 - a) * keras.ops.take(knots, index, axis=1) + a * keras.ops.take(
        knots, after, axis=1)
    return mixed / keras.ops.sqrt((1.0 - a) ** 2 + a**2) if keep_variance else mixed


def noise_period(config: A2GConfig, fps: float) -> int:
    """Frames between noise knots (``config.noise_seconds`` at ``fps``; 1 means i.i.d.)."""
    return max(1, int(round(config.noise_seconds * fps)))


# --------------------------------------------------------------------------------------------
# The model


class GestureVAE(keras.Model):
    """Split-latent conditional VAE: the networks of a variant and its losses.

    Parameters
    ----------
    config : A2GConfig
        Architecture, variant and loss weights.
    feature_size : int
        Audio feature dimensions ``F``.
    skeleton : Skeleton
        The dataset's skeleton.
    motion_mean, motion_std : np.ndarray [shape=(D,)]
        Normalisation of the ``rot6d`` vectors (training split).
    fps : float
        Frame rate (sets the noise period).
    """

    def __init__(self, config: A2GConfig, *, feature_size: int, skeleton: Skeleton,
                 motion_mean: np.ndarray, motion_std: np.ndarray, fps: float, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.parts = config.components
        self.motion_size = len(motion_mean)
        self.geometry = SkeletonGeometry(skeleton, motion_mean, motion_std,
                                         config.units_per_metre)
        self.period = noise_period(config, fps)
        self.audio_encoder = build_audio_encoder(config, feature_size)
        self.motion_encoder = build_motion_encoder(config, self.motion_size)
        self.decoder = build_decoder(config, self.motion_size)
        self.mapping_net = build_mapping_net(config) if self.parts.mapping else None
        self.seed_generator = keras.random.SeedGenerator(config.seed + 400)
        self.current_step = lambda: 0

    def use_step_counter(self, counter) -> None:
        """Read the training step (for the KL and diversity schedules) from ``counter``.

        Pass ``optimizer.iterations``: it is checkpointed with the optimizer, so the schedules
        resume where they stopped. Without a counter the schedules stay at step 0. The
        counter is read through a closure so that it is not tracked as one of the model's
        own variables.
        """
        self.current_step = lambda: counter

    # -- pieces ----------------------------------------------------------------------------

    def _sample(self, mu, logvar, training: bool):
        """Reparameterised draw ``mu + exp(logvar / 2) eps`` when training, else ``mu``."""
        if not training:
            return mu
        eps = keras.random.normal(keras.ops.shape(mu), seed=self.seed_generator)
        return mu + keras.ops.exp(0.5 * logvar) * eps

    def encode_motion(self, motion, training: bool = False) -> dict:
        """Normalised motion -> ``{"shared": (mu, logvar), "specific": (mu, logvar)}``."""
        heads = self.motion_encoder(motion, training=training)
        codes = {"shared": (heads[0], heads[1])}
        if self.parts.split:
            codes["specific"] = (heads[2], heads[3])
        return codes

    def code_from_noise(self, noise, training: bool = False):
        """Noise shaped like the motion-specific code -> ``(code, posterior or None)``.

        Without the mapping net the noise is the code; with it the code is drawn from the
        mapping net's Gaussian (its mean when not training).
        """
        if self.mapping_net is None:
            return noise, None
        mu, logvar = self.mapping_net(noise, training=training)
        return self._sample(mu, logvar, training), (mu, logvar)

    def decode(self, shared, specific=None, training: bool = False):
        """Codes -> normalised motion ``(B, T, D)``; ``specific`` is ignored without the split."""
        codes = keras.ops.concatenate([shared, specific], axis=-1) if self.parts.split else shared
        return self.decoder(codes, training=training)

    def call(self, inputs, training=False):
        """Generate: ``(audio, specific_code)`` -> normalised motion (code unused by baseline)."""
        audio, specific = inputs
        shared, _ = self.audio_encoder(audio, training=training)
        return self.decode(shared, specific, training=training)

    def _random_noise(self, like):
        """Standard normal noise shaped like ``like`` ``(B, T, C)`` (static ``T``).

        White (i.i.d. per frame) when the knot period is 1 frame (``noise_seconds = 0``, the
        official code), else smooth (knots ``noise_seconds`` apart, interpolated).
        """
        shape = keras.ops.shape(like)
        if self.period == 1:
            return keras.random.normal(shape, seed=self.seed_generator)
        knots = keras.random.normal((shape[0], knot_count(like.shape[1], self.period), shape[2]),
                                    seed=self.seed_generator)
        return interpolate_knots(knots, like.shape[1], self.period, keep_variance=True)

    # -- losses ----------------------------------------------------------------------------

    def _motion_terms(self, prefix: str, pose, truth, relaxed: bool = False) -> dict:
        (rotations, positions), (true_rotations, true_positions) = pose, truth
        position = (losses.relaxed_position(positions, true_positions, self.config.rho) if relaxed
                    else losses.position_l1(positions, true_positions))
        return {f"{prefix}_rotation": losses.geodesic(rotations, true_rotations),
                f"{prefix}_{'relaxed' if relaxed else 'position'}": position,
                f"{prefix}_speed": losses.speed_l1(positions, true_positions)}

    def _weights(self) -> dict:
        """Weight of every term at the current step (schedules included)."""
        c = self.config
        step = self.current_step()
        weights = {"kl": c.kl_weight * losses.cyclic_ramp(step, c.steps, c.kl_cycles, c.kl_ramp,
                                                           c.kl_floor),
                   "align": c.align_weight, "bicycle": c.bicycle_weight,
                   "diversity": c.diversity_weight * losses.linear_decay(step, c.steps)}
        for prefix in ("recon", "audio", "random"):
            weights.update({f"{prefix}_rotation": c.rotation_weight,
                            f"{prefix}_position": c.position_weight,
                            f"{prefix}_speed": c.speed_weight})
        weights["random_speed"] = c.random_speed_weight
        weights["random_relaxed"] = c.relaxed_weight
        return weights

    def compute_losses(self, batch: dict, training: bool = False) -> dict:
        """Every loss term by name, and their weighted sum as ``"loss"``.

        Parameters
        ----------
        batch : dict
            ``audio`` ``(B, T, F)`` and ``motion`` ``(B, T, D)``, both normalised.
        training : bool
            Dropout and reparameterised sampling on.

        Returns
        -------
        dict of scalar tensors
            ``recon_*``, ``audio_*`` (rotation, position, speed), ``align``, ``kl``; with the
            split ``random_*`` (rotation, relaxed, speed); ``bicycle`` and ``diversity`` when
            the variant has them; the current ``kl_weight`` and ``diversity_weight``.
        """
        audio, motion = batch["audio"], batch["motion"]
        audio_mu, audio_logvar = self.audio_encoder(audio, training=training)
        codes = self.encode_motion(motion, training=training)
        posteriors = [(audio_mu, audio_logvar), *codes.values()]
        shared_audio = self._sample(audio_mu, audio_logvar, training)
        shared_motion = self._sample(*codes["shared"], training)
        specific = self._sample(*codes["specific"], training) if self.parts.split else None

        truth = self.geometry.pose(motion)
        poses = {"recon": self.geometry.pose(self.decode(shared_motion, specific, training)),
                 "audio": self.geometry.pose(self.decode(shared_audio, specific, training))}
        terms = {"align": losses.code_l1(shared_audio, shared_motion)}
        if self.parts.split:
            random_code = self._random_code(codes["specific"][0], posteriors, training)
            random_motion = self.decode(shared_audio, random_code, training)
            poses["random"] = self.geometry.pose(random_motion)
            if self.parts.bicycle:
                again = self.encode_motion(random_motion, training=training)
                terms["bicycle"] = (
                    losses.code_l1(again["shared"][0], tf.stop_gradient(shared_audio))
                    + losses.code_l1(again["specific"][0], tf.stop_gradient(random_code)))
            if self.parts.diversity:
                terms["diversity"] = losses.diversity(poses["random"][1], poses["audio"][1])
        for name, pose in poses.items():
            terms.update(self._motion_terms(name, pose, truth, relaxed=name == "random"))
        terms["kl"] = tf.add_n([losses.kl_normal(mu, logvar, self.config.kl_sum)
                                for mu, logvar in posteriors])
        weights = self._weights()
        total = tf.add_n([weights[name] * value for name, value in terms.items()])
        return {"loss": total, **terms, "kl_weight": weights["kl"],
                "diversity_weight": weights["diversity"]}

    def _random_code(self, specific_mu, posteriors: list, training: bool):
        """The random motion-specific code of each crop (and its posterior, if mapped).

        As in the official code, each crop's noise has the per-channel mean and std (over
        time) of that crop's own motion-specific code: the random code keeps the crop's style
        and varies its details. Sampling draws the statistics of random training clips
        (``stats/code_{mean,std}.npy``) instead (:meth:`gesture_vae.sample.Sampler.
        specific_codes`).
        """
        reference = tf.stop_gradient(specific_mu)
        mean = tf.reduce_mean(reference, axis=1, keepdims=True)
        std = tf.math.reduce_std(reference, axis=1, keepdims=True)
        code, mapped = self.code_from_noise(mean + std * self._random_noise(reference), training)
        if mapped is not None:
            posteriors.append(mapped)
        return code
