"""Configuration of an Audio2Gestures run: one documented dataclass, the variants, the presets.

The defaults are those of the paper (Li et al., ICCV 2021) and its official code: channel
lists of the three TCNs, 16-dimensional shared and motion-specific codes, loss weights, Adam
1e-4, batch 32, crops of 64 frames. Two named presets live in :data:`PRESETS`:

``paper``
    The defaults.
``demo``
    A budget for the built-in demo speaker on 2 CPU cores: the same architecture at a quarter
    of the width, a higher learning rate and a few hundred steps (``docs/audio2gestures.md``
    gives the measured time).

The five ablation variants of the paper's Table 2 are rows of :data:`VARIANTS`; each adds one
component to the previous one.

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
    rotation_weight, position_weight, speed_weight : float
        Motion loss: geodesic rotation (rad), L1 position (m), L1 speed (m/frame), applied to
        the reconstruction, the audio->motion output and the random-code output (whose position
        term is the relaxed one).
    relaxed_weight : float
        Weight of the relaxed position loss of the random-code output.
    align_weight, bicycle_weight, diversity_weight, kl_weight : float
        Shared-code alignment, bicycle, diversity (initial value, decays linearly to 0) and KL
        (peak value of the cyclic ramp).
    kl_cycles : int
        Number of KL ramp cycles over the run; each ramps up linearly over ``kl_ramp`` of its
        length and then holds.
    kl_ramp : float in (0, 1]
        Fraction of a cycle spent ramping.
    rho : float
        Threshold of the relaxed position loss, in metres (0.02 in the official code).
    units_per_metre : float
        Dataset position units per metre (100 for centimetres).
    noise_seconds : float >= 0
        Random codes are drawn at knots this many seconds apart and interpolated (unit variance
        kept), so they are as smooth as real motion-specific codes; 0 draws i.i.d. per frame.
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
    dropout: float = 0.0
    crop_frames: int = 64
    batch_size: int = 32
    steps: int = 20000
    epoch_steps: int = 500
    learning_rate: float = 1e-4
    rotation_weight: float = 1.0
    position_weight: float = 1.0
    speed_weight: float = 5.0
    relaxed_weight: float = 1.0
    align_weight: float = 0.1
    bicycle_weight: float = 0.1
    diversity_weight: float = 0.1
    kl_weight: float = 1e-3
    kl_cycles: int = 4
    kl_ramp: float = 0.5
    rho: float = 0.02
    units_per_metre: float = 100.0
    noise_seconds: float = 1.0
    seed: int = 0

    def __post_init__(self):
        problems = []
        if self.variant not in VARIANTS:
            problems.append(f"variant={self.variant!r} (use one of {', '.join(VARIANTS)})")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            problems.append(f"kernel_size={self.kernel_size} (odd, >= 1)")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout={self.dropout} (in [0, 1))")
        if not self.width > 0:
            problems.append(f"width={self.width} (> 0)")
        if not 0.0 < self.kl_ramp <= 1.0:
            problems.append(f"kl_ramp={self.kl_ramp} (in (0, 1])")
        if self.noise_seconds < 0:
            problems.append(f"noise_seconds={self.noise_seconds} (>= 0)")
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

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> A2GConfig:
        """Inverse of :meth:`to_dict` (lists become tuples; unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise PipelineError(f"unknown Audio2Gestures setting(s): {', '.join(sorted(unknown))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


PRESETS: dict[str, dict] = {
    "paper": {},
    "demo": {"width": 0.25, "learning_rate": 2e-3, "steps": 400, "epoch_steps": 100,
             "crop_frames": 64, "batch_size": 16},
}


def make_config(preset: str = "paper", **overrides) -> A2GConfig:
    """A configuration from a named preset, with keyword overrides (``None`` means unset)."""
    if preset not in PRESETS:
        raise PipelineError(f"unknown preset {preset!r} (use one of {', '.join(PRESETS)})")
    settings = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    return A2GConfig(**settings)
