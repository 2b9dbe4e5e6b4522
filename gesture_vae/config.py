"""Configuration of an Audio2Gestures run: one documented dataclass, the variants, the presets.

The defaults are those of the paper (Li et al., ICCV 2021) and its official code
(github.com/JingLi513/Audio2Gestures): channel lists of the three TCNs, 16-dimensional shared
and motion-specific codes, loss weights, Adam 1e-4, batch 32, crops of 64 frames. Two named
presets (sizes and budgets) live in :data:`PRESETS`:

``paper``
    The defaults.
``demo``
    A budget for the built-in demo speaker on 2 CPU cores: the same architecture at a quarter
    of the width, a higher learning rate and a few hundred steps (``docs/audio2gestures.md``
    gives the measured time).

The five ablation variants of the paper's Table 2 are rows of :data:`VARIANTS`; each adds one
component to the previous one.

The *protocol* -- how random codes are drawn, whether inference samples the posteriors, how the
KL is summed and ramped, the speed weights, which checkpoint is kept -- is a set of fields of
:class:`A2GConfig` whose defaults follow the official code; :data:`PROTOCOLS` names three
bundles of them:

``official``
    The defaults: the official code and its training script ``start.sh``.
``paper``
    ``official`` with the paper's speed weight (5 on every output) instead of the script's
    1/1/5.
``project``
    This project's earlier choices (smooth noise, clip statistics re-drawn every crop,
    posterior means at inference, KL summed over channels with a held cyclic ramp, speed
    weight 5 everywhere, the best dev audio->motion L1 kept).

Units: the motion losses take positions in metres (the dataset's positions divided by
``units_per_metre``: 100 for centimetre data such as the demo speaker and GENEA), so ``rho``
and the loss weights keep the paper's meaning whatever the dataset's units.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from data_processing.files import PipelineError


@dataclass(frozen=True)
class Components:
    """What a variant adds to the baseline.

    Parameters
    ----------
    split : bool
        The motion encoder splits its code into a shared and a motion-specific part; random
        motion-specific codes give a random-code output trained with the relaxed position loss.
    mapping : bool
        Random codes come from the mapping net (noise -> code) instead of directly from noise.
    bicycle : bool
        The random-code output is re-encoded and its codes must match the ones it came from.
    diversity : bool
        The random-code output is pushed away from the audio->motion output (decaying weight).
    """

    split: bool
    mapping: bool
    bicycle: bool
    diversity: bool


VARIANTS = {
    "baseline": Components(split=False, mapping=False, bicycle=False, diversity=False),
    "split": Components(split=True, mapping=False, bicycle=False, diversity=False),
    "mapping": Components(split=True, mapping=True, bicycle=False, diversity=False),
    "bicycle": Components(split=True, mapping=True, bicycle=True, diversity=False),
    "full": Components(split=True, mapping=True, bicycle=True, diversity=True),
}


@dataclass(frozen=True)
class A2GConfig:
    """Settings of one Audio2Gestures run (written as ``config.json`` beside its weights).

    Parameters
    ----------
    variant : str
        A key of :data:`VARIANTS`.
    audio_channels, motion_channels, decoder_channels : tuple of int
        Output channels of the TCN blocks of the audio encoder, the motion encoder and the
        decoder (block ``i`` has dilation ``2 ** i``), before scaling by ``width``.
    head_hidden : int
        Hidden units of every Gaussian head (``64 -> 32 -> 16``) and width of the motion
        encoder's linear split into shared and specific features (``64 -> 32``).
    decoder_hidden : int
        Hidden units of the decoder's output MLP (``256 -> 256 -> D``).
    mapping_blocks : int
        TCN blocks (dilation 1) of the mapping net; their width is ``code_size``.
    code_size : int
        Size of the shared and of the motion-specific code (16 each).
    initial_logvar : float
        Initial bias of every ``logvar`` head: the posteriors start with std
        ``exp(initial_logvar / 2)`` (0.1 by default) rather than about 1, which lets a short
        run learn before the sampling noise and the alignment loss collapse the shared code.
    width : float > 0
        Multiplier of every channel count above (not of the codes): 1 is the paper's model.
    kernel_size : int
        Temporal kernel of every convolution (odd).
    lookahead : int >= 0, optional
        Future frames each temporal stack (the two encoders, the decoder, the mapping net)
        reads at most: its convolutions split their reach between past and future
        (:func:`gesture_vae.layers.temporal_stack`), so that generation waits for about
        ``2 lookahead`` future frames (audio encoder, then decoder; ``docs/streaming.md``).
        ``None`` (the paper, and a ``config.json`` without the key): "same" padding, 62 future
        frames per 5-block stack with ``kernel_size`` 3; 0: causal stacks.
    dropout : float in [0, 1)
        Dropout after each convolution of a TCN block (0 in the official code).
    crop_frames : int
        Frames of the random training crops (64 in the official code).
    batch_size : int
        Crops per step (per all replicas).
    steps : int
        Training steps of the run.
    epoch_steps : int
        Steps between checkpoints (one Trainer epoch).
    learning_rate : float
        Adam learning rate.
    rotation_weight, position_weight : float
        Motion loss: geodesic rotation (rad) and L1 position (m), applied to the
        reconstruction, the audio->motion output and the random-code output (whose position
        term is the relaxed one).
    speed_weight : float
        L1 speed (m/frame) of the reconstruction and the audio->motion output: 1 in the
        official ``start.sh`` (``--lambda_speed 1``); the paper gives 5.
    random_speed_weight : float
        L1 speed of the random-code output: 5 in ``start.sh`` (``--lambda_xspeed 5``) and in
        the paper.
    relaxed_weight : float
        Weight of the relaxed position loss of the random-code output.
    align_weight, bicycle_weight, diversity_weight, kl_weight : float
        Shared-code alignment, bicycle, diversity (initial value, decays linearly to 0) and KL
        (peak value of the cyclic ramp).
    kl_sum : {"time", "channels"}
        How one posterior's KL is reduced. ``"time"`` (official ``VAE.kl_divergence``): summed
        over the frames of the crop, averaged over batch and channels, so it grows with
        ``crop_frames``. ``"channels"`` (project): summed over the channels, averaged over
        batch and frames.
    kl_cycles : int
        Number of KL ramp cycles over the run. The official sawtooth has a period of 100k
        steps, which a short run never reaches; here the ramp is scaled to the run's length.
    kl_ramp : float in (0, 1]
        Fraction of a cycle spent ramping up linearly; the factor then holds at 1. 1 (the
        official sawtooth: up over the whole period, then back to the floor); 0.5 (project).
    kl_floor : float in [0, 1)
        Smallest ramp factor: 1e-4 in the official scheduler (``max(..., 0.0001)``), 0 in the
        project's.
    rho : float
        Threshold of the relaxed position loss, in metres (0.02 in the official code).
    units_per_metre : float
        Dataset position units per metre (100 for centimetres).
    noise_seconds : float >= 0
        Noise of the random codes, in training and sampling. 0 (official): white Gaussian
        noise, i.i.d. per frame. > 0 (project: 1): drawn at knots this many seconds apart and
        interpolated (unit variance kept), as smooth as real motion-specific codes.
    stats_draw : {"sequence", "every_crop"}
        Sampling: whose code statistics (per-channel mean and std over a training clip) scale
        the noise. ``"sequence"`` (official ``Model.inference``): one random training clip's
        for the whole generated sequence. ``"every_crop"`` (project): a new random clip every
        ``crop_frames`` frames, interpolated linearly in between.
    inference : {"reparameterised", "mean"}
        Sampling: ``"reparameterised"`` (official; the paper's section 5.5 counts this
        randomness) draws the audio encoder's shared code and the mapping net's code from their
        posteriors ``mu + exp(logvar / 2) eps`` (eps i.i.d. per sample, frame and channel);
        ``"mean"`` (project) takes the posterior means, which makes the baseline deterministic.
    checkpoint : {"last", "dev_audio_l1"}
        The weights kept in ``best.weights.h5``. ``"last"`` (official: ``test.py`` loads the
        final epoch's checkpoint, there is no validation): the last epoch's.
        ``"dev_audio_l1"`` (project): the epoch of lowest dev L1 position error of the
        audio->motion output -- not the generation path of the split variants, which decode
        random codes.
    seed : int
        Seed of the weights, the crops and the noise.
    """

    variant: str = "full"
    audio_channels: tuple[int, ...] = (128, 128, 96, 96, 64)
    motion_channels: tuple[int, ...] = (256, 256, 128, 128, 64)
    decoder_channels: tuple[int, ...] = (64, 128, 128, 256, 256)
    head_hidden: int = 32
    decoder_hidden: int = 256
    mapping_blocks: int = 3
    code_size: int = 16
    initial_logvar: float = -4.6
    width: float = 1.0
    kernel_size: int = 3
    lookahead: int | None = None
    dropout: float = 0.0
    crop_frames: int = 64
    batch_size: int = 32
    steps: int = 20000
    epoch_steps: int = 500
    learning_rate: float = 1e-4
    rotation_weight: float = 1.0
    position_weight: float = 1.0
    speed_weight: float = 1.0
    random_speed_weight: float = 5.0
    relaxed_weight: float = 1.0
    align_weight: float = 0.1
    bicycle_weight: float = 0.1
    diversity_weight: float = 0.1
    kl_weight: float = 1e-3
    kl_sum: str = "time"
    kl_cycles: int = 4
    kl_ramp: float = 1.0
    kl_floor: float = 1e-4
    rho: float = 0.02
    units_per_metre: float = 100.0
    noise_seconds: float = 0.0
    stats_draw: str = "sequence"
    inference: str = "reparameterised"
    checkpoint: str = "last"
    seed: int = 0

    def __post_init__(self):
        problems = []
        if self.variant not in VARIANTS:
            problems.append(f"variant={self.variant!r} (use one of {', '.join(VARIANTS)})")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            problems.append(f"kernel_size={self.kernel_size} (odd, >= 1)")
        if self.lookahead is not None and (not isinstance(self.lookahead, int)
                                           or self.lookahead < 0):
            problems.append(f"lookahead={self.lookahead} (an integer >= 0, or unset)")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout={self.dropout} (in [0, 1))")
        if not self.width > 0:
            problems.append(f"width={self.width} (> 0)")
        if not 0.0 < self.kl_ramp <= 1.0:
            problems.append(f"kl_ramp={self.kl_ramp} (in (0, 1])")
        if self.noise_seconds < 0:
            problems.append(f"noise_seconds={self.noise_seconds} (>= 0)")
        if not 0.0 <= self.kl_floor < 1.0:
            problems.append(f"kl_floor={self.kl_floor} (in [0, 1))")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                problems.append(f"{name}={getattr(self, name)!r} (use one of "
                                f"{', '.join(allowed)})")
        for name in ("code_size", "crop_frames", "batch_size", "steps", "epoch_steps",
                     "kl_cycles", "head_hidden", "decoder_hidden", "mapping_blocks"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)} (>= 1)")
        if problems:
            raise PipelineError("invalid Audio2Gestures configuration: " + "; ".join(problems))

    @property
    def components(self) -> Components:
        """The variant's components."""
        return VARIANTS[self.variant]

    def scaled(self, channels: int | tuple[int, ...]):
        """Channel count(s) multiplied by ``width`` (at least 1)."""
        if isinstance(channels, tuple):
            return tuple(self.scaled(c) for c in channels)
        return max(1, int(round(channels * self.width)))

    @property
    def protocol(self) -> dict:
        """The protocol settings, and the name of the :data:`PROTOCOLS` bundle they match.

        Returns
        -------
        dict
            ``{"name": "official" | "paper" | "project" | "custom", field: value, ...}`` for
            every field of :data:`PROTOCOL_FIELDS` (written in the run's ``config.json``).
        """
        values = {name: getattr(self, name) for name in PROTOCOL_FIELDS}
        name = next((key for key, bundle in PROTOCOLS.items()
                     if values == {**OFFICIAL, **bundle}), "custom")
        return {"name": name, **values}

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> A2GConfig:
        """Inverse of :meth:`to_dict` (lists become tuples; unknown keys are an error).

        Protocol fields missing from ``data`` (a ``config.json`` written before they existed)
        take the ``project`` protocol's values, the only one such runs could have used.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise PipelineError(f"unknown Audio2Gestures setting(s): {', '.join(sorted(unknown))}")
        legacy = {k: v for k, v in {**OFFICIAL, **PROTOCOLS["project"]}.items() if k not in data}
        return cls(**legacy, **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in data.items()})


CHOICES = {"kl_sum": ("time", "channels"), "stats_draw": ("sequence", "every_crop"),
           "inference": ("reparameterised", "mean"), "checkpoint": ("last", "dev_audio_l1")}
"""The allowed values of the protocol's named options (the official one first)."""

PROTOCOL_FIELDS = ("noise_seconds", "stats_draw", "inference", "kl_sum", "kl_cycles",
                   "kl_ramp", "kl_floor", "speed_weight", "random_speed_weight", "checkpoint")
"""The fields that make up a run's protocol (recorded in ``config.json``)."""

OFFICIAL = {name: getattr(A2GConfig, name) for name in PROTOCOL_FIELDS}
"""The official protocol: the defaults of these fields."""

PROTOCOLS: dict[str, dict] = {
    "official": {},
    "paper": {"speed_weight": 5.0},
    "project": {"noise_seconds": 1.0, "stats_draw": "every_crop", "inference": "mean",
                "kl_sum": "channels", "kl_ramp": 0.5, "kl_floor": 0.0, "speed_weight": 5.0,
                "checkpoint": "dev_audio_l1"},
}
"""Named protocols: overrides of the official defaults (see the module docstring)."""

PRESETS: dict[str, dict] = {
    "paper": {},
    "demo": {"width": 0.25, "learning_rate": 2e-3, "steps": 400, "epoch_steps": 100,
             "crop_frames": 64, "batch_size": 16},
}


def make_config(preset: str = "paper", protocol: str = "official", **overrides) -> A2GConfig:
    """A configuration from a named preset and protocol, with keyword overrides.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS` (size and budget).
    protocol : str
        A key of :data:`PROTOCOLS`.
    **overrides
        Any :class:`A2GConfig` field; ``None`` means unset (the preset's or protocol's value).
    """
    if preset not in PRESETS:
        raise PipelineError(f"unknown preset {preset!r} (use one of {', '.join(PRESETS)})")
    if protocol not in PROTOCOLS:
        raise PipelineError(f"unknown protocol {protocol!r} (use one of {', '.join(PROTOCOLS)})")
    settings = {**PROTOCOLS[protocol], **PRESETS[preset],
                **{k: v for k, v in overrides.items() if v is not None}}
    return A2GConfig(**settings)
