"""The networks of HA2G, each a functional Keras model (Liu et al., CVPR'22, official code).

Sequences are ``(batch, frames, channels)``, one frame per motion frame::

    audio learner   audio features (T, F) -> low, mid, high features (T, audio_size) each
    text encoder    word ids (T,) -> text features (T, audio_size)
    generator k     pose seed (T, D_k + 1), audio (T, audio_size) [, word ids (T,)],
                    style code (z_size,) -> bone directions (T, D_k)
    discriminator   bone directions (T, D) -> probability of being real (1,)

The audio learner is an SE-ResNet over (frames, feature bins) whose stages stride over the
feature bins only, so every stage keeps one row per motion frame; the low, mid and high
features are the outputs of stages 2, 3 and 4, each flattened over (bins x channels) and
projected linearly. (The official network strides over time too and upsamples back to the
clip's frames; here the dataset's features are already one per motion frame.)
"""

from __future__ import annotations

import math

import keras

from ha2g.config import HA2GConfig

LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default, as in the official generator and critic
BN_MOMENTUM = 0.9  # torch.nn.BatchNorm's running statistics (its momentum 0.1)


def _check_positive(**values) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"Expected {name} to be a positive integer. Received: {name}={value}")


# --------------------------------------------------------------------------------------------
# Hierarchical audio learner


def squeeze_excite(x, filters: int, reduction: int, name: str):
    """Squeeze-excitation: channels scaled by ``sigmoid(W2 relu(W1 mean(x)))``."""
    _check_positive(filters=filters, reduction=reduction)
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = keras.layers.Dense(max(1, filters // reduction), activation="relu",
                           name=f"{name}_reduce")(s)
    s = keras.layers.Dense(filters, activation="sigmoid", name=f"{name}_expand")(s)
    return keras.layers.Multiply(name=f"{name}_scale")([x, s])


def se_basic_block(x, filters: int, *, stride: int, reduction: int, name: str):
    """SE basic block: conv-relu-BN, conv-BN, squeeze-excitation, + shortcut, relu.

    ``stride`` applies to the feature-bin axis only (the time axis keeps every frame).
    """
    _check_positive(filters=filters, stride=stride)
    strides = (1, stride)
    h = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu",
                            kernel_initializer="he_normal", name=f"{name}_conv1")(x)
    h = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn1")(h)
    h = keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal",
                            name=f"{name}_conv2")(h)
    h = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn2")(h)
    h = squeeze_excite(h, filters, reduction, f"{name}_se")
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False,
                                       name=f"{name}_down")(x)
        shortcut = keras.layers.BatchNormalization(momentum=BN_MOMENTUM,
                                                   name=f"{name}_down_bn")(shortcut)
    added = keras.layers.Add(name=f"{name}_add")([h, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(added)


def build_audio_learner(config: HA2GConfig, feature_size: int) -> keras.Model:
    """Audio features ``(B, T, F)`` -> ``[low, mid, high]`` features ``(B, T, audio_size)``."""
    _check_positive(feature_size=feature_size)
    audio = keras.Input((None, feature_size), name="audio")
    x = keras.layers.Reshape((-1, feature_size, 1), name="as_image")(audio)
    x = keras.layers.Conv2D(config.audio_filters[0], 3, padding="same", activation="relu",
                            kernel_initializer="he_normal", name="stem")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    taps, bins = [], feature_size
    for stage, (filters, blocks) in enumerate(zip(config.audio_filters, config.audio_blocks)):
        stride = 1 if stage == 0 else 2
        bins = math.ceil(bins / stride)
        for block in range(blocks):
            x = se_basic_block(x, filters, stride=stride if block == 0 else 1,
                               reduction=config.se_reduction, name=f"stage{stage + 1}_{block}")
        if stage:
            taps.append(x)
    features = []
    for tap, name in zip(taps, ("low", "mid", "high")):
        flat = keras.layers.Reshape((-1, tap.shape[-2] * tap.shape[-1]), name=f"{name}_flat")(tap)
        features.append(keras.layers.Dense(config.audio_size, name=name)(flat))
    return keras.Model(audio, features, name="audio_learner")


# --------------------------------------------------------------------------------------------
# Text


def causal_block(x, channels: int, *, kernel_size: int, dilation: int, dropout: float,
                 seed: int, name: str):
    """TCN block (Bai et al., 2018): two causal dilated convolutions, ReLU, dropout, + skip."""
    _check_positive(channels=channels, kernel_size=kernel_size, dilation=dilation)
    h = x
    for i in (1, 2):
        h = keras.layers.Conv1D(channels, kernel_size, dilation_rate=dilation, padding="causal",
                                activation="relu", name=f"{name}_conv{i}")(h)
        h = keras.layers.Dropout(dropout, seed=seed + i, name=f"{name}_drop{i}")(h)
    skip = x if x.shape[-1] == channels else keras.layers.Conv1D(channels, 1,
                                                                  name=f"{name}_skip")(x)
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([h, skip]))


def build_text_encoder(config: HA2GConfig, n_words: int, *, seed: int,
                       name: str = "text_encoder") -> keras.Model:
    """Word ids ``(B, T)`` -> text features ``(B, T, audio_size)`` (``TextEncoderTCN``).

    Embedding (dropout ``word_dropout``), ``text_layers`` causal blocks of ``text_channels``
    with dilations 1, 2, 4, ..., and a linear layer initialised with N(0, 0.01) weights.
    """
    _check_positive(n_words=n_words)
    words = keras.Input((None,), dtype="int32", name="words")
    x = keras.layers.Embedding(n_words, config.word_size, name="embedding")(words)
    x = keras.layers.Dropout(config.word_dropout, seed=seed, name="embedding_drop")(x)
    for i in range(config.text_layers):
        x = causal_block(x, config.text_channels, kernel_size=config.text_kernel,
                         dilation=2**i, dropout=config.dropout, seed=seed + 10 * (i + 1),
                         name=f"tcn{i}")
    out = keras.layers.Dense(config.audio_size, name="decoder",
                             kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01,
                                                                                seed=seed))(x)
    return keras.Model(words, out, name=name)


# --------------------------------------------------------------------------------------------
# Generators and discriminator


def bidirectional_stack(x, units: int, layers: int, dropout: float, seed: int, name: str):
    """``layers`` bidirectional GRU layers (directions summed), dropout between them."""
    _check_positive(units=units, layers=layers)
    for i in range(layers):
        if i:
            x = keras.layers.Dropout(dropout, seed=seed + i, name=f"{name}_drop{i}")(x)
        gru = keras.layers.GRU(units, return_sequences=True)
        x = keras.layers.Bidirectional(gru, merge_mode="sum", name=f"{name}_gru{i}")(x)
    return x


def build_generator(config: HA2GConfig, *, level: int, out_size: int, n_words: int,
                    seed: int) -> keras.Model:
    """Generator of one pose level (``Hierarchical_PoseGenerator``).

    Inputs ``[pose (B, T, out_size + 1), audio (B, T, audio_size), (words (B, T),) z (B, Z)]``;
    the per-frame input is their concatenation (the style code repeated over the frames) and
    its own text encoder's features when ``n_words`` is non-zero. Output: ``(B, T, out_size)``.
    """
    _check_positive(level=level, out_size=out_size)
    name = f"generator{level}"
    pose = keras.Input((None, out_size + 1), name="pose")
    audio = keras.Input((None, config.audio_size), name="audio")
    z = keras.Input((config.z_size,), name="z")
    inputs, parts = [pose, audio], [pose, audio]
    if n_words:
        words = keras.Input((None,), dtype="int32", name="words")
        inputs.append(words)
        parts.append(build_text_encoder(config, n_words, seed=seed + 500,
                                        name=f"{name}_text")(words))
    inputs.append(z)
    parts.append(keras.ops.zeros_like(pose[..., :1]) + keras.ops.expand_dims(z, 1))  # (B, T, Z)
    h = keras.layers.Concatenate(name="frame_input")(parts)
    h = bidirectional_stack(h, config.hidden, config.gru_layers, config.dropout, seed, "pose")
    h = keras.layers.Dense(config.hidden // 2, name="out_hidden")(h)
    h = keras.layers.LeakyReLU(LEAKY_SLOPE, name="out_act")(h)
    return keras.Model(inputs, keras.layers.Dense(out_size, name="out")(h), name=name)


def build_discriminator(config: HA2GConfig, motion_size: int, *, seed: int) -> keras.Model:
    """Bone directions ``(B, clip_frames, D)`` -> probability ``(B, 1)`` that they are real.

    ``Hierarchical_ConvDiscriminator``: three unpadded kernel-3 convolutions (BN and leaky ReLU
    after the first two), a bidirectional GRU, a linear score per frame, a linear layer over
    the frames, a sigmoid.
    """
    _check_positive(motion_size=motion_size)
    motion = keras.Input((config.clip_frames, motion_size), name="motion")
    h = motion
    for i, channels in enumerate(config.disc_channels):
        h = keras.layers.Conv1D(channels, 3, name=f"conv{i}")(h)
        if i < len(config.disc_channels) - 1:
            h = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i}")(h)
            h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"act{i}")(h)
    h = bidirectional_stack(h, config.disc_hidden, config.disc_layers, config.dropout, seed,
                            "critic")
    score = keras.layers.Dense(1, name="frame_score")(h)
    score = keras.layers.Flatten(name="scores")(score)
    return keras.Model(motion, keras.layers.Dense(1, activation="sigmoid", name="real")(score),
                       name="discriminator")


def build_speaker_code(config: HA2GConfig, n_speakers: int, *, level: int) -> keras.Model:
    """Speaker ids ``(B,)`` -> style code ``[mu, logvar]`` ``(B, z_size)`` of one generator."""
    _check_positive(n_speakers=n_speakers)
    speaker = keras.Input((), dtype="int32", name="speaker")
    h = keras.layers.Embedding(n_speakers, config.z_size, name="embedding")(speaker)
    h = keras.layers.Dense(config.z_size, name="hidden")(h)
    outputs = [keras.layers.Dense(config.z_size, name=part)(h) for part in ("mu", "logvar")]
    return keras.Model(speaker, outputs, name=f"speaker_code{level}")


def build_blend_net(config: HA2GConfig, n_speakers: int, n_levels: int) -> keras.Model:
    """Speaker ids ``(B,)`` -> blend weights ``(B, 3, n_levels)`` (softmax over low/mid/high)."""
    _check_positive(n_speakers=n_speakers, n_levels=n_levels)
    speaker = keras.Input((), dtype="int32", name="speaker")
    h = keras.layers.Embedding(n_speakers, config.z_size, name="embedding")(speaker)
    h = keras.layers.Dense(config.z_size, activation="elu", name="hidden0")(h)
    h = keras.layers.Dense(config.speaker_hidden, activation="elu", name="hidden1")(h)
    h = keras.layers.Dense(3 * n_levels, name="logits")(h)
    h = keras.layers.Reshape((3, n_levels), name="per_level")(h)
    return keras.Model(speaker, keras.layers.Softmax(axis=1, name="weights")(h),
                       name="blend_net")
