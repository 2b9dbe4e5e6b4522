"""The HA2G model: the networks of :mod:`ha2g.layers` wired as in the official code.

One training step (Liu et al., CVPR'22; ``train_eval/train_hierarchy.py``)::

    audio (B, T, F) --audio learner--> low, mid, high (B, T, 32)
        --blend weights of level k (speaker embedding, or learnable logits)--> audio_k
    seed: the first seed_frames of the target, with a constraint bit
    generator 1: seed of its bones, audio_1, words, z_1          -> bones of level <= 1
    generator k: seed of its bones, where after the seed frames the bones of the levels
                 below hold generator k-1's output; audio_k, words, z_k -> bones of level <= k
    the last generator's output is the motion; the discriminator scores it

Motion vectors are ``dir_vec - mean_dir_vec`` (:mod:`data_processing.dir_vec`), ``D = 3 B``.
:meth:`HA2G.generator_losses` and :meth:`HA2G.discriminator_losses` are the two sub-steps of
:class:`training.loop.Trainer` (generator side, then the discriminator after the warm-up).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from data_processing.body import Body
from ha2g import losses
from ha2g.config import HA2GConfig
from ha2g.layers import (
    build_audio_learner,
    build_blend_net,
    build_discriminator,
    build_generator,
    build_speaker_code,
    build_text_encoder,
)


def level_columns(body: Body) -> list[np.ndarray]:
    """Per level, the motion-vector columns ``(3 B_k,)`` of its bones (levels ``<=`` k)."""
    return [(3 * body.level_bones(k)[:, None] + np.arange(3)).ravel()
            for k in range(1, body.n_levels + 1)]


def previous_slots(columns: list[np.ndarray]) -> list[np.ndarray | None]:
    """Per level, where each of its columns sits in the previous level's output.

    Columns the previous level does not have point one past its last column (a zero column).
    """
    slots = [None]
    for before, now in zip(columns, columns[1:]):
        where = {int(c): i for i, c in enumerate(before)}
        slots.append(np.array([where.get(int(c), len(before)) for c in now]))
    return slots


class HA2G(keras.Model):
    """Hierarchical audio-to-gesture model: audio learner, cascaded generators, discriminator.

    Parameters
    ----------
    config : HA2GConfig
    feature_size : int
        Audio feature dimensions ``F``.
    body : Body
        Bones and pose levels (its ``n_levels`` is the cascade's).
    dir_mean : np.ndarray [shape=(3 B,)]
        Mean bone directions (added back for the physical prior).
    angle_mean, angle_variance : np.ndarray [shape=(P,)]
        Training statistics of the physical prior's angles (``body.pairs``).
    n_words : int
        Vocabulary size (0: audio only, no text encoders).
    n_speakers : int
        Speakers (0: single speaker, random style codes, learnable blend logits).
    """

    def __init__(self, config: HA2GConfig, *, feature_size: int, body: Body,
                 dir_mean: np.ndarray, angle_mean: np.ndarray, angle_variance: np.ndarray,
                 n_words: int = 0, n_speakers: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.config, self.body, self.parts = config, body, config.parts
        self.n_words, self.n_speakers = n_words, n_speakers
        self.columns = level_columns(body)
        self.slots = previous_slots(self.columns)
        self.dir_mean = np.asarray(dir_mean, np.float32)
        self.angle_mean = np.asarray(angle_mean, np.float32)
        self.angle_variance = np.asarray(angle_variance, np.float32)
        levels, seed = body.n_levels, config.seed
        self.audio_learner = build_audio_learner(config, feature_size)
        self.contrast = self.parts.contrastive and n_words > 0
        self.text_encoder = (build_text_encoder(config, n_words, seed=seed + 900)
                             if self.contrast else None)
        self.generators = [build_generator(config, level=k + 1, out_size=len(cols),
                                           n_words=n_words, seed=seed + 100 * (k + 1))
                           for k, cols in enumerate(self.columns)]
        self.speaker_codes = ([build_speaker_code(config, n_speakers, level=k + 1)
                               for k in range(levels)] if n_speakers else None)
        blend = self.parts.blend
        self.blend_net = build_blend_net(config, n_speakers, levels) if n_speakers and blend \
            else None
        self.blend_logits = (self.add_weight(shape=(3, levels), initializer="zeros",
                                             name="blend_logits")
                             if blend and not n_speakers else None)
        self.discriminator = build_discriminator(config, len(self.dir_mean), seed=seed + 50)
        self.seed_generator = keras.random.SeedGenerator(seed + 7)
        self.current_step, self.warmup_steps = (lambda: 0), 0
        self.built = True  # every network is functional, built at construction

    def use_step_counter(self, counter, warmup_steps: int) -> None:
        """Read the training step from ``counter``: the adversarial loss starts at ``warmup_steps``.

        Pass the generator optimizer's ``iterations`` (checkpointed with it). It is read
        through a closure so that it is not tracked as a variable of the model.
        """
        self.current_step, self.warmup_steps = (lambda: counter), int(warmup_steps)

    @property
    def generator_variables(self) -> list:
        """Trainable variables of everything but the discriminator."""
        critic = {id(v) for v in self.discriminator.trainable_variables}
        return [v for v in self.trainable_variables if id(v) not in critic]

    # -- pieces ----------------------------------------------------------------------------

    def blend_weights(self, speakers=None):
        """Blend weights ``(B or 1, 3, levels)`` of (low, mid, high) per pose level."""
        if self.blend_net is not None:
            return self.blend_net(speakers)
        return keras.ops.softmax(self.blend_logits, axis=0)[None]

    def level_audio(self, features, speakers=None) -> list:
        """The audio input ``(B, T, audio_size)`` of every level from ``[low, mid, high]``."""
        low, mid, high = features
        if not self.parts.blend:
            return [high] * self.body.n_levels
        w = self.blend_weights(speakers)[:, :, None, None, :]
        return [w[:, 0, ..., k] * low + w[:, 1, ..., k] * mid + w[:, 2, ..., k] * high
                for k in range(self.body.n_levels)]

    def style_codes(self, noise, speakers=None) -> list[tuple]:
        """Per level ``(z, mu, logvar)`` from standard normal ``noise`` ``[(B, Z), ...]``.

        Single speaker: ``z`` is the noise (``mu``, ``logvar`` are ``None``); with speakers,
        the reparameterised draw from each generator's speaker embedding.
        """
        if self.speaker_codes is None:
            return [(n, None, None) for n in noise]
        codes = []
        for net, n in zip(self.speaker_codes, noise):
            mu, logvar = net(speakers)
            codes.append((mu + keras.ops.exp(0.5 * logvar) * n, mu, logvar))
        return codes

    def noise(self, batch) -> list:
        """Standard normal style-code noise ``[(batch, Z)] * levels`` from the model's seed."""
        return [keras.random.normal((batch, self.config.z_size), seed=self.seed_generator)
                for _ in range(self.body.n_levels)]

    def cascade(self, level_audio: list, seed, words, z: list, training: bool = False) -> list:
        """Every level's output ``(B, T, D_k)``, coarse to fine.

        Parameters
        ----------
        level_audio : list of tensor [shape=(B, T, audio_size)]
        seed : tensor [shape=(B, seed_frames, D)]
            The seed frames (motion vectors).
        words : tensor [shape=(B, T)] or None
            Word ids (text mode).
        z : list of tensor [shape=(B, Z)]
            Style code per level.
        training : bool
        """
        shape = keras.ops.shape(level_audio[0])
        batch, frames, n_seed = shape[0], shape[1], self.config.seed_frames
        seed = keras.ops.convert_to_tensor(seed, "float32")
        padding = keras.ops.zeros((batch, frames - n_seed, len(self.dir_mean)))
        seed_sequence = keras.ops.concatenate([seed, padding], axis=1)
        words = None if words is None else keras.ops.convert_to_tensor(words, "int32")
        in_seed = (keras.ops.arange(frames) < n_seed)[None, :, None]
        bit = keras.ops.cast(keras.ops.broadcast_to(in_seed, (batch, frames, 1)), "float32")
        outputs = []
        for k, generator in enumerate(self.generators):
            pose = keras.ops.take(seed_sequence, self.columns[k], axis=-1)
            if k:
                extended = keras.ops.concatenate(
                    [outputs[-1], keras.ops.zeros((batch, frames, 1))], axis=-1)
                pose = keras.ops.where(in_seed, pose,
                                       keras.ops.take(extended, self.slots[k], axis=-1))
            inputs = [keras.ops.concatenate([pose, bit], axis=-1), level_audio[k]]
            inputs += [words] if self.n_words else []
            outputs.append(generator([*inputs, z[k]], training=training))
        return outputs

    def call(self, inputs: dict, training=False):
        """Generate one clip: motion vectors ``(B, T, D)``.

        ``inputs`` holds ``audio`` ``(B, T, F)`` normalised, ``seed`` ``(B, seed_frames, D)``,
        ``noise`` ``(levels, B, Z)`` and, as the run needs, ``words`` ``(B, T)`` and
        ``speaker`` ``(B,)``.
        """
        speakers = inputs.get("speaker")
        audio = self.level_audio(self.audio_learner(inputs["audio"], training=training),
                                 speakers)
        noise = [inputs["noise"][k] for k in range(self.body.n_levels)]
        z = [code for code, _, _ in self.style_codes(noise, speakers)]
        return self.cascade(audio, inputs["seed"], inputs.get("words"), z, training)[-1]

    # -- losses ----------------------------------------------------------------------------

    def _forward(self, batch: dict, training: bool):
        """Audio features, style codes and every level's output for a training batch."""
        audio, motion = batch["audio"], batch["motion"]
        speakers, words = batch.get("speaker"), batch.get("words")
        features = self.audio_learner(audio, training=training)
        level_audio = self.level_audio(features, speakers)
        codes = self.style_codes(self.noise(keras.ops.shape(audio)[0]), speakers)
        seed = motion[:, : self.config.seed_frames]
        outputs = self.cascade(level_audio, seed, words, [c[0] for c in codes], training)
        return features, level_audio, codes, outputs

    def loss_weights(self) -> dict:
        """Weight of every generator term at the current step (the GAN after the warm-up)."""
        c = self.config
        active = keras.ops.cast(self.current_step() >= self.warmup_steps, "float32")
        return {"huber": c.huber_weight, "adversarial": c.gan_weight * active,
                "kld": c.kld_weight, "diversity": c.diversity_weight,
                "contrastive_high": c.contrastive_weight, "contrastive_low": c.contrastive_push,
                "physical": c.physical_weight}

    @tf.autograph.experimental.do_not_convert  # plain tensor code: nothing to convert
    def generator_losses(self, batch: dict, training: bool = False) -> dict:
        """Every generator-side term by name, and their weighted sum as ``"loss"``.

        Parameters
        ----------
        batch : dict
            ``audio`` ``(B, T, F)`` normalised, ``motion`` ``(B, T, D)`` vectors, and in text
            mode ``words`` ``(B, T)``, with speakers ``speaker`` ``(B,)``.
        training : bool

        Returns
        -------
        dict of scalar tensors
            ``huber`` (sum over levels) and ``huber<k>`` per level; ``adversarial`` and
            ``diversity`` when their weights are not 0; ``kld`` with speakers;
            ``contrastive_high`` and ``contrastive_low`` (text mode, full ablation);
            ``physical`` when the body has limb angles; ``adversarial_weight``.
        """
        c, motion = self.config, batch["motion"]
        features, level_audio, codes, outputs = self._forward(batch, training)
        per_level = {f"huber{k + 1}": losses.huber(out, keras.ops.take(motion, cols, axis=-1),
                                                   c.huber_beta)
                     for k, (out, cols) in enumerate(zip(outputs, self.columns))}
        terms = {"huber": tf.add_n(list(per_level.values()))}
        if c.gan_weight:
            terms["adversarial"] = losses.generator_adversarial(
                self.discriminator(outputs[-1], training=training))
        if c.diversity_weight:
            terms["diversity"] = self._diversity(batch, level_audio, codes, outputs[-1],
                                                 training)
        if self.speaker_codes is not None:
            terms["kld"] = losses.kl_normal(codes[-1][1], codes[-1][2])
        if self.contrast:
            terms.update(self._contrastive(batch["words"], features, training))
        if len(self.body.pairs) and c.physical_weight:
            dirs = keras.ops.reshape(outputs[-1] + self.dir_mean,
                                     (*keras.ops.shape(outputs[-1])[:2], -1, 3))
            terms["physical"] = losses.physical_prior(dirs, self.body.pairs.tolist(),
                                                      self.angle_mean, self.angle_variance)
        weights = self.loss_weights()
        total = tf.add_n([weights[name] * value for name, value in terms.items()])
        return {"loss": total, **terms, **per_level,
                "adversarial_weight": weights["adversarial"]}

    def _diversity(self, batch, level_audio, codes, motion, training):
        """The diversity regulariser against another style code (another speaker's, or noise)."""
        speakers = batch.get("speaker")
        if speakers is not None:
            speakers = keras.random.shuffle(speakers, seed=self.seed_generator)
        other = self.style_codes(self.noise(keras.ops.shape(motion)[0]), speakers)
        seed = batch["motion"][:, : self.config.seed_frames]
        other_motion = self.cascade(level_audio, seed, batch.get("words"),
                                    [z for z, _, _ in other], training)[-1]
        return losses.diversity(motion, other_motion, codes[-1][0], other[-1][0],
                                beta=self.config.diversity_beta,
                                clamp=self.config.diversity_clamp)

    def _contrastive(self, words, features, training) -> dict:
        """Text features pulled to the high-level audio features, pushed from the low ones."""
        low, _, high = features
        text = self.text_encoder(words, training=training)
        width = self.config.audio_size
        flat = [keras.ops.reshape(x, (-1, width)) for x in (text, high, low)]
        return {"contrastive_high": losses.contrastive(flat[0], flat[1]),
                "contrastive_low": -losses.contrastive(flat[0], flat[2])}

    @tf.autograph.experimental.do_not_convert  # plain tensor code: nothing to convert
    def discriminator_losses(self, batch: dict, training: bool = False) -> dict:
        """The discriminator's loss on the batch's motion and the generator's (fixed) output."""
        fake = tf.stop_gradient(self._forward(batch, training)[3][-1])
        real_score = self.discriminator(batch["motion"], training=training)
        fake_score = self.discriminator(fake, training=training)
        return {"loss": losses.discriminator_adversarial(real_score, fake_score),
                "real": keras.ops.mean(real_score), "fake": keras.ops.mean(fake_score)}
