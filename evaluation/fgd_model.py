"""The FGD feature extractors' models: 1-D convolutional autoencoders of feature clips.

Two architectures (``ExtractorConfig.architecture``), both deterministic (no sampling: the
embedding is the encoder's output, the "mean" in VAE terms), both trained through
:class:`training.loop.Trainer` (``compute_losses``):

``conv_ae`` (:class:`MotionAutoencoder`, ours)
    Encoder ``Conv1D(c0, 3)`` then ``Conv1D(c, 4, stride 2)`` per further channel count,
    flatten, ``Dense(hidden)``, ``Dense(embedding_dim)``; the decoder mirrors it with
    upsampling. Loss: mean squared reconstruction error.
``pose_encoder_conv`` (:class:`TEDAutoencoder`, the TED/HA2G evaluator)
    ``PoseEncoderConv`` / ``PoseDecoderConv`` of the official code (Yoon et al. 2020,
    ``ai4r/Gesture-Generation-from-Trimodal-Context``, ``scripts/model/embedding_net.py``;
    the same file HA2G's ``scripts/train_feature_extractor.py`` trains), layer for layer:

    ========  ==================================================================================
    encoder   Conv(D->32, k3) BN LReLU(0.2), Conv(32->64, k3) BN LReLU(0.2), Conv(64->64, k4,
              s2) BN LReLU(0.2), Conv(64->32, k3), all unpadded; flatten channel-major (as
              PyTorch); Linear(->256) BN, Linear(256->128) BN, Linear(128->32), ``fc_mu`` and
              ``fc_logvar`` Linear(32->32); the embedding is ``mu``
    decoder   Linear(32->64) BN, Linear(64->4 T); view ``(4, T)``; ConvTranspose(4->32, k3) BN
              LReLU(0.2), ConvTranspose(32->32, k3) BN LReLU(0.2), Conv(32->32, k3),
              Conv(32->D, k3)
    ========  ==================================================================================

    ``nn.LeakyReLU(True)`` in the dense parts sets ``negative_slope=True``, i.e. 1.0: those
    activations are the identity, kept here as ``LeakyReLU(1.0)``. BatchNorm as PyTorch's
    (momentum 0.1, eps 1e-5); weights initialised as PyTorch's defaults (uniform
    ``+-1/sqrt(fan_in)``). Loss (official ``train_iter``): per clip, mean L1 of the
    reconstruction plus mean L1 of its frame-to-frame differences (velocity), averaged over
    the batch (the official sums over the batch; Adam's updates do not depend on that
    constant factor, up to its epsilon).
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


    def embed(self, clips, training=False):
        """Embeddings ``(B, embedding_dim)`` of clips ``(B, clip_frames, n_features)``."""
        return self.encoder(clips, training=training)


# --------------------------------------------------------------------------------------------
# The TED/HA2G evaluator: PoseEncoderConv / PoseDecoderConv

TED_DECODER_HIDDEN = {34: 64, 64: 128}  # PoseDecoderConv's pre_net width per clip length
TED_LATENT = 32  # PoseEncoderConv's out_net output and fc_mu size (fixed in the official code)
BN_MOMENTUM, BN_EPSILON = 0.9, 1e-5  # PyTorch's BatchNorm1d (momentum 0.1), as Keras counts it


def _torch_init(fan_in: int) -> dict:
    """Initialisers of PyTorch's ``Linear``/``Conv1d`` defaults: uniform ``+-1/sqrt(fan_in)``.

    ``VarianceScaling(1/3, fan_in, uniform)`` has the bound ``sqrt(3 / 3 / fan_in)``; Keras
    counts a transposed convolution's fan-in as PyTorch does (output channels x kernel).
    """
    bound = 1.0 / math.sqrt(fan_in)
    return {"kernel_initializer": keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
            "bias_initializer": keras.initializers.RandomUniform(-bound, bound)}


def _conv(filters: int, kernel: int, in_channels: int, name: str, *, strides: int = 1,
          transpose: bool = False):
    layer = keras.layers.Conv1DTranspose if transpose else keras.layers.Conv1D
    fan_in = (filters if transpose else in_channels) * kernel
    return layer(filters, kernel, strides=strides, padding="valid", name=name,
                 **_torch_init(fan_in))


def _dense(units: int, in_features: int, name: str):
    return keras.layers.Dense(units, name=name, **_torch_init(in_features))


def _bn(name: str):
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _conv_length(frames: int, kernel: int, stride: int = 1) -> int:
    return (frames - kernel) // stride + 1


def build_pose_encoder_conv(clip_frames: int, n_features: int,
                            embedding_dim: int = TED_LATENT) -> keras.Model:
    """The official ``PoseEncoderConv``: clips ``(B, T, D)`` -> ``[mu, logvar]``, each ``(B, E)``.

    ``T = 34`` gives the official ``Linear(384, 256)`` (``12 x 32`` after the convolutions).
    """
    clips = keras.Input((clip_frames, n_features), name="clips")
    h, width = clips, n_features
    for i, (filters, kernel, stride) in enumerate([(32, 3, 1), (64, 3, 1), (64, 4, 2)]):
        h = _conv(filters, kernel, width, f"conv{i}", strides=stride)(h)
        h = keras.layers.LeakyReLU(0.2)(_bn(f"conv{i}_bn")(h))
        width = filters
    h = _conv(32, 3, width, "conv3")(h)
    frames = _conv_length(_conv_length(_conv_length(_conv_length(clip_frames, 3), 3), 4, 2), 3)
    if frames < 1:
        raise ValueError(f"Expected clips of at least 13 frames. Received: {clip_frames}")
    h = keras.layers.Flatten()(keras.layers.Permute((2, 1))(h))  # channel-major, as PyTorch
    for i, (units, fan_in) in enumerate([(256, 32 * frames), (128, 256)]):
        h = _bn(f"out{i}_bn")(_dense(units, fan_in, f"out{i}")(h))
        h = keras.layers.LeakyReLU(1.0)(h)  # nn.LeakyReLU(True): negative_slope 1.0
    h = _dense(TED_LATENT, 128, "out2")(h)
    mu = _dense(embedding_dim, TED_LATENT, "fc_mu")(h)
    logvar = _dense(embedding_dim, TED_LATENT, "fc_logvar")(h)
    return keras.Model(clips, [mu, logvar], name="pose_encoder_conv")


def build_pose_decoder_conv(clip_frames: int, n_features: int,
                            embedding_dim: int = TED_LATENT) -> keras.Model:
    """The official ``PoseDecoderConv`` (no pre-poses): ``(B, E)`` -> clips ``(B, T, D)``.

    Defined, as in the official code, for ``T`` = 34 and 64 frames only.
    """
    if clip_frames not in TED_DECODER_HIDDEN:
        raise ValueError(f"Expected clip_frames in {sorted(TED_DECODER_HIDDEN)} (the official "
                         f"PoseDecoderConv). Received: {clip_frames}")
    hidden = TED_DECODER_HIDDEN[clip_frames]
    z = keras.Input((embedding_dim,), name="embedding")
    h = _bn("pre0_bn")(_dense(hidden, embedding_dim, "pre0")(z))
    h = keras.layers.LeakyReLU(1.0)(h)  # nn.LeakyReLU(True)
    h = _dense(4 * clip_frames, hidden, "pre1")(h)
    h = keras.layers.Permute((2, 1))(keras.layers.Reshape((4, clip_frames))(h))  # view(B, 4, T)
    h = keras.layers.LeakyReLU(0.2)(_bn("deconv0_bn")(_conv(32, 3, 4, "deconv0",
                                                             transpose=True)(h)))
    h = keras.layers.LeakyReLU(0.2)(_bn("deconv1_bn")(_conv(32, 3, 32, "deconv1",
                                                             transpose=True)(h)))
    h = _conv(32, 3, 32, "conv0")(h)
    out = _conv(n_features, 3, 32, "out")(h)
    return keras.Model(z, out, name="pose_decoder_conv")


class TEDAutoencoder(keras.Model):
    """The TED/HA2G FGD evaluator: ``PoseEncoderConv`` + ``PoseDecoderConv`` (module docstring).

    Parameters
    ----------
    clip_frames : int
        Frames per clip (34 in the official evaluator; 64 also defined).
    n_features : int > 0
        Values per frame (27: 9 direction vectors of the TED 10-joint layout).
    embedding_dim : int > 0
        Size of ``mu`` (32 in the official code).
    """

    def __init__(self, clip_frames: int, n_features: int, *, embedding_dim: int = TED_LATENT,
                 **kwargs):
        super().__init__(**kwargs)
        self.clip_frames, self.n_features, self.embedding_dim = (clip_frames, n_features,
                                                                 embedding_dim)
        self.encoder = build_pose_encoder_conv(clip_frames, n_features, embedding_dim)
        self.decoder = build_pose_decoder_conv(clip_frames, n_features, embedding_dim)

    def embed(self, clips, training=False):
        """The embedding ``mu`` ``(B, embedding_dim)`` of clips ``(B, clip_frames, n_features)``."""
        return self.encoder(clips, training=training)[0]

    def call(self, clips, training=False):
        """Reconstruct clips ``(B, clip_frames, n_features)`` from ``mu`` (AE mode)."""
        return self.decoder(self.embed(clips, training=training), training=training)

    def compute_losses(self, batch, training=False) -> dict:
        """The official loss: mean L1 of the reconstruction + mean L1 of its velocity."""
        recon = self(batch, training=training)
        position = keras.ops.mean(keras.ops.abs(recon - batch))
        velocity = keras.ops.mean(keras.ops.abs(
            (recon[:, 1:] - recon[:, :-1]) - (batch[:, 1:] - batch[:, :-1])))
        return {"loss": position + velocity, "l1": position, "velocity_l1": velocity}

    def get_config(self) -> dict:
        """Constructor arguments, for saving and reloading."""
        return {**super().get_config(), "clip_frames": self.clip_frames,
                "n_features": self.n_features, "embedding_dim": self.embedding_dim}


ARCHITECTURES = ("conv_ae", "pose_encoder_conv")


def build_model(config) -> keras.Model:
    """The built, untrained autoencoder of an :class:`evaluation.fgd_extractor.ExtractorConfig`.

    ``config.architecture`` picks :class:`MotionAutoencoder` (``conv_ae``) or
    :class:`TEDAutoencoder` (``pose_encoder_conv``); both offer ``embed(clips)``.
    """
    n_features = 3 * len(config.bones)
    architecture = getattr(config, "architecture", "conv_ae")
    if architecture == "pose_encoder_conv":
        model = TEDAutoencoder(config.clip_frames, n_features,
                               embedding_dim=config.embedding_dim)
    elif architecture == "conv_ae":
        model = MotionAutoencoder(config.clip_frames, n_features,
                                  embedding_dim=config.embedding_dim, channels=config.channels,
                                  hidden=config.hidden)
    else:
        raise ValueError(f"Expected an architecture in {ARCHITECTURES}. Received: "
                         f"{architecture!r}")
    model(np.zeros((1, config.clip_frames, n_features), np.float32))
    return model
