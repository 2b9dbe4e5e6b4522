"""The FGD feature extractor's model: a 1-D convolutional autoencoder of feature clips.

Encoder ``Conv1D(c0, 3)`` then ``Conv1D(c, 4, stride 2)`` per further channel count, flatten,
``Dense(hidden)``, ``Dense(embedding_dim)``; the decoder mirrors it with upsampling. It is
deterministic (no sampling): the embedding is the encoder's output. Loss: mean squared
reconstruction error (:meth:`MotionAutoencoder.compute_losses`, for
:class:`training.loop.Trainer`).
"""

from __future__ import annotations

import math

import keras
import numpy as np


def build_encoder(clip_frames: int, n_features: int, *, channels, hidden: int,
                  embedding_dim: int) -> keras.Model:
    """Clips ``(B, clip_frames, n_features)`` -> embeddings ``(B, embedding_dim)``."""
    clips = keras.Input((clip_frames, n_features), name="clips")
    h = keras.layers.Conv1D(channels[0], 3, padding="same", name="conv0")(clips)
    h = keras.layers.LeakyReLU(0.2)(h)
    for i, width in enumerate(channels[1:], start=1):
        h = keras.layers.Conv1D(width, 4, strides=2, padding="same", name=f"conv{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(hidden, name="hidden")(h))
    embedding = keras.layers.Dense(embedding_dim, name="embedding")(h)
    return keras.Model(clips, embedding, name="encoder")


def build_decoder(clip_frames: int, n_features: int, *, channels, hidden: int,
                  embedding_dim: int) -> keras.Model:
    """Embeddings ``(B, embedding_dim)`` -> clips ``(B, clip_frames, n_features)``."""
    steps = len(channels) - 1
    reduced = math.ceil(clip_frames / 2**steps)
    z = keras.Input((embedding_dim,), name="embedding")
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(hidden, name="hidden")(z))
    h = keras.layers.Dense(reduced * channels[-1], name="expand")(h)
    h = keras.layers.Reshape((reduced, channels[-1]))(keras.layers.LeakyReLU(0.2)(h))
    for i, width in enumerate(reversed(channels[:-1])):
        h = keras.layers.UpSampling1D(2)(h)
        h = keras.layers.Conv1D(width, 3, padding="same", name=f"deconv{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Cropping1D((0, reduced * 2**steps - clip_frames))(h)
    out = keras.layers.Conv1D(n_features, 3, padding="same", name="out")(h)
    return keras.Model(z, out, name="decoder")


class MotionAutoencoder(keras.Model):
    """Convolutional autoencoder of feature clips; its encoder is the FGD extractor.

    Parameters
    ----------
    clip_frames : int > 0
        Frames per clip.
    n_features : int > 0
        Feature values per frame (3 per bone).
    embedding_dim : int > 0
    channels : sequence of int > 0
        Encoder conv channels (the decoder mirrors them).
    hidden : int > 0
        Dense width around the embedding.
    """

    def __init__(self, clip_frames: int, n_features: int, *, embedding_dim: int = 32,
                 channels=(64, 128, 128), hidden: int = 256, **kwargs):
        super().__init__(**kwargs)
        channels = [int(c) for c in channels]
        sizes = {"clip_frames": clip_frames, "n_features": n_features,
                 "embedding_dim": embedding_dim, "hidden": hidden}
        bad = {k: v for k, v in sizes.items() if not (isinstance(v, int) and v > 0)}
        if bad or not channels or min(channels) < 1:
            raise ValueError(f"Expected positive sizes and channels. Received: {bad or ''} "
                             f"channels={channels}")
        self.clip_frames, self.n_features = clip_frames, n_features
        self.embedding_dim, self.channels, self.hidden = embedding_dim, channels, hidden
        shape = {"channels": channels, "hidden": hidden, "embedding_dim": embedding_dim}
        self.encoder = build_encoder(clip_frames, n_features, **shape)
        self.decoder = build_decoder(clip_frames, n_features, **shape)

    def call(self, clips, training=False):
        """Reconstruct clips ``(B, clip_frames, n_features)``."""
        return self.decoder(self.encoder(clips, training=training), training=training)

    def compute_losses(self, batch, training=False) -> dict:
        """Mean squared reconstruction error of a batch of clips."""
        error = keras.ops.mean(keras.ops.square(self(batch, training=training) - batch))
        return {"loss": error}

    def get_config(self) -> dict:
        """Constructor arguments, for saving and reloading."""
        return {**super().get_config(), "clip_frames": self.clip_frames,
                "n_features": self.n_features, "embedding_dim": self.embedding_dim,
                "channels": self.channels, "hidden": self.hidden}


def build_model(config) -> MotionAutoencoder:
    """The built, untrained autoencoder of an :class:`evaluation.fgd_extractor.ExtractorConfig`."""
    model = MotionAutoencoder(config.clip_frames, 3 * len(config.bones),
                              embedding_dim=config.embedding_dim, channels=config.channels,
                              hidden=config.hidden)
    model(np.zeros((1, config.clip_frames, 3 * len(config.bones)), np.float32))
    return model
