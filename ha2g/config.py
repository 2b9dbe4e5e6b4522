"""Configuration of an HA2G run: one documented dataclass, the ablations, the presets.

The defaults are those of the paper (Liu et al., CVPR'22, "Learning Hierarchical Cross-Modal
Association for Co-Speech Gesture Generation") and its public code (``alvinliu0/HA2G``,
``config/hierarchy.yml``): SE-ResNet34 audio learner ([3, 4, 6, 3] blocks of [32, 64, 128, 256]
filters) with 32-dimensional low/mid/high features, three 4-layer bidirectional GRU generators
of 300 units, a 16-dimensional style code, 34-frame clips with 4 seed frames, loss weights
(Huber 70, GAN 5 after 10 warm-up epochs, KLD 0.1, diversity 0.05, contrastive 0.2 / 0.005,
physical 0.01), Adam 5e-4 with betas (0.5, 0.999), discriminator 1e-4, batch 256, 100 epochs.

Presets (:data:`PRESETS`):

``official``
    The defaults, on the dataset's own skeleton and frame rate.
``ted``
    The TED Gesture protocol: the 10-joint layout (:mod:`data_processing.body`) at 15 fps.
``demo``
    A budget for the built-in demo speaker on 2 CPU cores (``docs/ha2g.md`` gives the measured
    time): the same architecture, narrow and shallow, 6 epochs at a higher learning rate, a
    one-dimensional style code, and neither the GAN nor the diversity term (in so short a run
    both pull the generators away from the speech before they have learnt it).

The ablations of the paper (:data:`ABLATIONS`) are one setting, ``ablation``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from data_processing.files import PipelineError


@dataclass(frozen=True)
class Ablation:
    """What a row of the ablation keeps.

    Parameters
    ----------
    hierarchy : bool
        Several pose levels (a cascade); without, one generator outputs every bone.
    blend : bool
        Each level blends the low, mid and high audio features with learned weights (the
        Hierarchical Audio Learner); without, every level reads the high-level feature.
    contrastive : bool
        The contrastive audio-text loss (only in text mode).
    """

    hierarchy: bool
    blend: bool
    contrastive: bool


ABLATIONS = {
    "holistic": Ablation(hierarchy=False, blend=False, contrastive=False),
    "no_hal": Ablation(hierarchy=True, blend=False, contrastive=False),
    "no_contrastive": Ablation(hierarchy=True, blend=True, contrastive=False),
    "full": Ablation(hierarchy=True, blend=True, contrastive=True),
}
JOINTS = ("all", "ted")
TEXT_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class HA2GConfig:
    """Settings of one HA2G run (written into ``config.json`` beside its weights).

    Parameters
    ----------
    ablation : str
        A key of :data:`ABLATIONS`.
    joints : {"all", "ted"}
        The dataset's own skeleton or the 10-joint TED layout (:mod:`data_processing.body`).
    joint_map : tuple of str, optional
        Dataset joints of the 10 TED joints (default: a known map of
        :data:`data_processing.body.TED_MAPS`).
    levels : tuple of tuple of str, optional
        Bones (child joint names) per pose level, coarse to fine; default derived from the
        kinematic tree (:func:`data_processing.body.derive_levels`; the official ones on the TED
        layout).
    n_levels : int >= 1
        Levels of the derived cascade (the holistic ablation uses 1).
    fps : float, optional
        Frame rate the run requires of the dataset (``ted``: 15); default the dataset's own.
    clip_frames, clip_stride, seed_frames : int
        Training clips of ``clip_frames`` frames every ``clip_stride`` frames; the first
        ``seed_frames`` of each are given to the generators (``pre_seq``) with a constraint bit.
    text : {"auto", "on", "off"}
        Text branch: ``auto`` uses it when every training recording has a transcript.
    speaker_pattern : str, optional
        Regular expression whose first group of a recording id names its speaker; with it the
        style code and the blend weights come from a speaker embedding, without it the style
        code is random and the blend weights are learnable logits (single speaker).
    audio_filters, audio_blocks : tuple of int
        Filters and SE basic blocks of the four stages of the audio learner (SE-ResNet34).
    se_reduction : int
        Channel reduction of the squeeze-excitation layers.
    audio_size : int
        Width of the low, mid and high audio features (and of the text features).
    word_size : int
        Word embedding width (learned from the training vocabulary).
    text_channels, text_layers, text_kernel : int
        The text TCN: ``text_layers`` causal residual blocks of ``text_channels`` with kernel
        ``text_kernel`` and dilations 1, 2, 4, ...
    word_dropout : float
        Dropout on the word embeddings.
    min_word_count : int
        Words seen fewer times in the training split are unknown.
    hidden, gru_layers : int
        Each generator: ``gru_layers`` bidirectional GRU layers of ``hidden`` units (directions
        summed), then ``hidden -> hidden / 2 -> D``.
    dropout : float in [0, 1)
        Dropout between GRU layers and in the text TCN.
    z_size : int
        Style code width.
    speaker_hidden : int
        Hidden width of the speaker -> blend weights net (``16 -> 32 -> 3 levels``).
    disc_channels : tuple of int
        The discriminator's three unpadded convolutions (kernel 3).
    disc_hidden, disc_layers : int
        Its bidirectional GRU.
    huber_weight, huber_beta : float
        ``huber_weight`` x sum over levels of the Huber loss with threshold ``huber_beta``.
    gan_weight : float
        Non-saturating adversarial loss of the generator.
    warmup_epochs : int
        Epochs before the discriminator and the adversarial loss start.
    kld_weight : float
        KL divergence of the speaker style code (speaker mode).
    diversity_weight, diversity_beta, diversity_clamp : float
        Diversity regulariser: ``-(Huber_beta pose distance / style code distance)`` for another
        style code, clamped at ``-diversity_clamp``.
    contrastive_weight, contrastive_push : float
        Text pulled to the high-level audio features (weight), pushed from the low-level ones.
    physical_weight : float
        Physical prior on the angles between consecutive limb bones.
    physical_min_variance : float
        Floor of the angle variance (normalised angle units) of the physical prior.
    epochs, batch_size : int
        Training length and clips per step (per all replicas).
    learning_rate, discriminator_learning_rate, beta_1, beta_2 : float
        Adam settings of the generator side and of the discriminator.
    seed : int
        Seed of the weights, the clip order, the style codes and the dropout.
    """

    ablation: str = "full"
    joints: str = "all"
    joint_map: tuple[str, ...] | None = None
    levels: tuple[tuple[str, ...], ...] | None = None
    n_levels: int = 3
    fps: float | None = None
    clip_frames: int = 34
    clip_stride: int = 10
    seed_frames: int = 4
    text: str = "auto"
    speaker_pattern: str | None = None
    audio_filters: tuple[int, ...] = (32, 64, 128, 256)
    audio_blocks: tuple[int, ...] = (3, 4, 6, 3)
    se_reduction: int = 8
    audio_size: int = 32
    word_size: int = 300
    text_channels: int = 300
    text_layers: int = 4
    text_kernel: int = 2
    word_dropout: float = 0.1
    min_word_count: int = 1
    hidden: int = 300
    gru_layers: int = 4
    dropout: float = 0.3
    z_size: int = 16
    speaker_hidden: int = 32
    disc_channels: tuple[int, ...] = (16, 8, 8)
    disc_hidden: int = 64
    disc_layers: int = 4
    huber_weight: float = 70.0
    huber_beta: float = 0.1
    gan_weight: float = 5.0
    warmup_epochs: int = 10
    kld_weight: float = 0.1
    diversity_weight: float = 0.05
    diversity_beta: float = 0.05
    diversity_clamp: float = 1000.0
    contrastive_weight: float = 0.2
    contrastive_push: float = 0.005
    physical_weight: float = 0.01
    physical_min_variance: float = 1e-4
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 5e-4
    discriminator_learning_rate: float = 1e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    seed: int = 0

    def __post_init__(self):
        problems = self._choice_problems() + self._range_problems()
        if problems:
            raise PipelineError("invalid HA2G configuration: " + "; ".join(problems))

    def _choice_problems(self) -> list[str]:
        problems = []
        for name, choices in (("ablation", ABLATIONS), ("joints", JOINTS), ("text", TEXT_MODES)):
            if getattr(self, name) not in choices:
                problems.append(f"{name}={getattr(self, name)!r} (use one of "
                                f"{', '.join(choices)})")
        if len(self.audio_filters) != 4 or len(self.audio_blocks) != 4:
            problems.append(f"audio_filters={self.audio_filters}, audio_blocks="
                            f"{self.audio_blocks} (four stages each)")
        if len(self.disc_channels) != 3:
            problems.append(f"disc_channels={self.disc_channels} (three convolutions)")
        return problems

    def _range_problems(self) -> list[str]:
        problems = []
        if not self.clip_frames > self.seed_frames >= 1:
            problems.append(f"clip_frames={self.clip_frames}, seed_frames={self.seed_frames} "
                            "(clip_frames > seed_frames >= 1)")
        if self.clip_frames <= 2 * len(self.disc_channels):
            problems.append(f"clip_frames={self.clip_frames} (> {2 * len(self.disc_channels)}, "
                            "the discriminator's unpadded convolutions)")
        for name in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name}={getattr(self, name)} (in [0, 1))")
        if self.fps is not None and not 1.0 <= self.fps <= 200.0:
            problems.append(f"fps={self.fps} (1 to 200)")
        for name in ("n_levels", "clip_stride", "se_reduction", "audio_size", "word_size",
                     "text_channels", "text_layers", "text_kernel", "min_word_count", "hidden",
                     "gru_layers", "z_size", "speaker_hidden", "disc_hidden", "disc_layers",
                     "epochs", "batch_size", *(f"audio_filters[{i}]" for i in range(4)),
                     *(f"audio_blocks[{i}]" for i in range(4))):
            value = self._value(name)
            if value < 1:
                problems.append(f"{name}={value} (>= 1)")
        if self.warmup_epochs < 0:
            problems.append(f"warmup_epochs={self.warmup_epochs} (>= 0)")
        for name in ("learning_rate", "discriminator_learning_rate"):
            if not 0.0 < getattr(self, name) <= 10.0:
                problems.append(f"{name}={getattr(self, name)} (in (0, 10])")
        return problems

    def _value(self, name: str):
        if "[" in name:
            field, index = name.rstrip("]").split("[")
            return getattr(self, field)[int(index)]
        return getattr(self, name)

    @property
    def parts(self) -> Ablation:
        """The ablation's components."""
        return ABLATIONS[self.ablation]

    @property
    def pose_levels(self) -> int:
        """Levels of the cascade asked for (1 for the holistic ablation)."""
        return self.n_levels if self.parts.hierarchy else 1

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> HA2GConfig:
        """Inverse of :meth:`to_dict` (lists become tuples; unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise PipelineError(f"unknown HA2G setting(s): {', '.join(sorted(unknown))}")
        return cls(**{k: _tuples(v) for k, v in data.items()})


def _tuples(value):
    """Lists (also nested) as tuples."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


PRESETS: dict[str, dict] = {
    "official": {},
    "ted": {"joints": "ted", "fps": 15.0},
    "demo": {"audio_filters": (8, 8, 8, 8), "audio_blocks": (1, 1, 1, 1), "audio_size": 16,
             "word_size": 32, "text_channels": 32, "text_layers": 2, "hidden": 32,
             "gru_layers": 1, "disc_hidden": 16, "disc_layers": 1, "z_size": 1,
             "gan_weight": 0.0, "diversity_weight": 0.0, "epochs": 6, "batch_size": 32,
             "learning_rate": 1e-2},
}


def make_config(preset: str = "official", **overrides) -> HA2GConfig:
    """A configuration from a named preset, with keyword overrides (``None`` means unset)."""
    if preset not in PRESETS:
        raise PipelineError(f"unknown preset {preset!r} (use one of {', '.join(PRESETS)})")
    settings = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    return HA2GConfig(**settings)
