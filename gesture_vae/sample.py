"""Sample gestures from an Audio2Gestures run: N motions for one audio file, clip insertion.

Usage::

    python gesture_vae/sample.py RUN_DIR AUDIO.wav OUT_DIR [--samples N] [--seed K]
        [--insert CLIP.bvh@SECONDS ...] [--format npy bvh]

The run's protocol (``gesture_vae/config.py``) says how a sample is drawn. By default, as in
the official code (``Model.inference``): the audio encoder gives the shared code of the whole
file, drawn from its posterior (``inference = "reparameterised"``; ``"mean"`` takes the mean);
each sample takes the per-channel code mean and std of ONE random training clip
(``stats_draw = "sequence"``; ``"every_crop"`` re-draws a clip every ``crop_frames`` frames),
adds white noise per frame scaled by that std (``noise_seconds = 0``; > 0 gives smooth noise)
and maps it through the mapping net (drawn from its posterior too) when the variant has one.
The networks are fully convolutional, so a file of any length is generated in one pass, with no
windows and no seams. The baseline has no motion-specific code: its samples differ only by the
shared code's posterior noise, and are one motion with ``inference = "mean"``.

``--insert CLIP.bvh@SECONDS`` (paper section 5.6) encodes a BVH clip (same skeleton as the
training data, any frame rate) with the motion encoder and puts its motion-specific code in
place of the sampled one from ``SECONDS`` on, for the clip's duration; around that span the
motion decoded with the clip's code is cross-faded with the sampled motion over ``--blend``
seconds, so the motion enters and leaves the clip smoothly.

Writes ``OUT_DIR/<stem>_motion.npy`` (N, T, D) ``rot6d`` vectors, ``<stem>_positions.npy``
(N, T, J, 3) joint positions (dataset units), and ``<stem>_sample<k>.bvh``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from data_processing.audio import file_features
from data_processing.bvh import Skeleton, read_bvh
from data_processing.files import PipelineError, run_cli, save_array
from data_processing.kinematics import frame_count
from data_processing.motion import Motion, from_vectors, save_motion
from data_processing.representations import rot6d_vector, to_positions
from gesture_vae.config import CHOICES
from training.precision import PRECISIONS

if TYPE_CHECKING:  # TensorFlow is loaded where it is used: --help without it
    from gesture_vae.model import GestureVAE
    from gesture_vae.run import Run

FORMATS = ("npy", "bvh")
BLEND = 1.0  # seconds: a hand needs about this long to move between rest and gesture space
NOISE_MODES = ("sequence", "frame")
"""How sampling noise is drawn: one stream per draw (the official code) or indexed by frame."""
NOISE_BLOCK = 64  # frames per generator of the frame-indexed noise
NOISE_STREAMS = {"specific": 0, "shared": 1, "mapped": 2, "crop_stats": 3}
"""Stream number of each frame-indexed draw (:func:`frame_normals`)."""


@dataclass
class Generated:
    """Sampled motions of one audio file.

    Parameters
    ----------
    motion : np.ndarray [shape=(N, T, 6 R + 3 P)]
        ``rot6d`` vectors (6D of every rotating joint, translation of every translating
        joint), dataset units.
    positions : np.ndarray [shape=(N, T, J, 3)]
        Global joint positions (forward kinematics of ``motion``), dataset units.
    skeleton : Skeleton
    fps : float
    """

    motion: np.ndarray
    positions: np.ndarray
    skeleton: Skeleton
    fps: float


@dataclass(frozen=True)
class Insertion:
    """A motion clip to place on the timeline: ``CLIP.bvh@SECONDS``."""

    clip: Path
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Insertion:
        """Parse ``CLIP.bvh@SECONDS`` (one-line error when malformed)."""
        path, sep, seconds = text.rpartition("@")
        try:
            start = float(seconds)
        except ValueError:
            start = -1.0
        if not sep or not path or start < 0:
            raise PipelineError(f"--insert {text!r}: expected CLIP.bvh@SECONDS with SECONDS >= 0")
        return cls(Path(path), start)


def frame_normals(seed: int, stream: int, sample: int, start: int, stop: int,
                  width: int) -> np.ndarray:
    """Standard normals ``(stop - start, width)`` of frames ``start`` to ``stop``, by frame.

    Row ``t`` is a pure function of ``(seed, stream, sample, t)``: frames ``b NOISE_BLOCK``
    to ``(b + 1) NOISE_BLOCK`` come from ``numpy.random.default_rng([seed, stream, sample,
    b])``, so any span of frames (a streamed chunk) gets the rows of the whole sequence.
    """
    first, last = start // NOISE_BLOCK, max(stop - 1, start) // NOISE_BLOCK
    blocks = [np.random.default_rng([seed, stream, sample, b]).standard_normal(
        (NOISE_BLOCK, width)) for b in range(first, last + 1)]
    offset = start - first * NOISE_BLOCK
    return np.concatenate(blocks)[offset : offset + stop - start]


def lerp_knots(knots_of, start: int, stop: int, period: int, *,
               keep_variance: bool = False) -> np.ndarray:
    """Frames ``start`` to ``stop`` of values given every ``period`` frames (numpy, by frame).

    The rule of :func:`gesture_vae.model.interpolate_knots` for any span: frame ``t`` mixes
    knots ``k = t // period`` and ``k + 1``.

    Parameters
    ----------
    knots_of : callable
        ``knots_of(k0, k1)`` -> knot values ``(S, k1 - k0, C)`` of knots ``k0`` to ``k1``.
    start, stop : int
        The frames.
    period : int >= 1
        Frames between knots.
    keep_variance : bool
        Divide by ``sqrt((1 - a)^2 + a^2)``.

    Returns
    -------
    np.ndarray [shape=(S, stop - start, C)]
    """
    t = np.arange(start, stop)
    below = t // period
    a = (t / period - below)[None, :, None]
    knots = knots_of(int(below[0]), int(below[-1]) + 2)
    index = below - below[0]
    mixed = (1.0 - a) * knots[:, index] + a * knots[:, index + 1]
    return mixed / np.sqrt((1.0 - a) ** 2 + a**2) if keep_variance else mixed


def check_noise(noise: str) -> str:
    """``noise`` if it is one of :data:`NOISE_MODES`, else a one-line error."""
    if noise not in NOISE_MODES:
        raise PipelineError(f"noise={noise!r} (use one of {', '.join(NOISE_MODES)})")
    return noise


class Sampler:
    """A trained model with what sampling needs (see :meth:`load` for a run directory).

    Parameters
    ----------
    model : GestureVAE
        The trained model.
    run : Run
        Its description (normalisation, skeleton, frame rate, features).
    code_stats : tuple of np.ndarray [shape=(n_clips, C)], optional
        Per-clip mean and std of the motion-specific code; required with the split.
    inference : {"reparameterised", "mean"}, optional
        Draw the posteriors or take their means; default: the run's protocol
        (``config.inference``).
    """

    representation = "rot6d"
    options = ("insert", "blend")

    def __init__(self, model: GestureVAE, run: Run, code_stats=None, *,
                 inference: str | None = None):
        self.model, self.run = model, run
        self.path, self.skeleton = run.root, run.skeleton
        self.split = run.config.components.split
        if self.split and code_stats is None:
            raise PipelineError(f"{run.root}: the {run.config.variant} variant needs the code "
                                "statistics (stats/code_{mean,std}.npy)")
        self.code_mean, self.code_std = code_stats if self.split else (None, None)
        self.inference = inference or run.config.inference
        if self.inference not in CHOICES["inference"]:
            raise PipelineError(f"inference={self.inference!r} (use one of "
                                f"{', '.join(CHOICES['inference'])})")

    @classmethod
    def load(cls, run_dir, *, inference: str | None = None,
             precision: str = "float32") -> Sampler:
        """The sampler of a run directory written by ``gesture_vae/train.py``.

        ``precision``: the networks' number format (:mod:`training.precision`).
        """
        from gesture_vae.run import load_model
        from training.precision import set_precision

        model, run = load_model(run_dir)
        return cls(set_precision(model, precision), run,
                   run.code_stats() if run.config.components.split else None,
                   inference=inference)

    @property
    def kind(self) -> str:
        """The artifact kind (:data:`gesture_vae.run.KIND`)."""
        from gesture_vae.run import KIND

        return KIND

    @property
    def fps(self) -> float:
        """Frame rate of input features and output motion."""
        return self.run.fps

    def features(self, wav) -> np.ndarray:
        """Raw speech features ``(T, F)`` of an audio file, as the training data had them."""
        info = self.run.dataset
        return file_features(wav, info["features"], fps=self.fps, mel_preset=info["mel_preset"],
                             mfcc_rate=info.get("mfcc_rate", "16k"))

    def _posterior(self, mu: np.ndarray, logvar: np.ndarray, rng) -> np.ndarray:
        """``mu + exp(logvar / 2) eps`` (``inference = "reparameterised"``) or ``mu``."""
        if self.inference == "mean":
            return mu
        return (mu + np.exp(0.5 * logvar) * rng.standard_normal(mu.shape)).astype(np.float32)

    def posterior_frames(self, mu: np.ndarray, logvar: np.ndarray, *, seed: int, stream: str,
                         start: int = 0) -> np.ndarray:
        """:meth:`_posterior` of frames ``start`` on ``(S, n, C)``, noise indexed by frame."""
        if self.inference == "mean":
            return mu
        stop = start + mu.shape[1]
        eps = np.stack([frame_normals(seed, NOISE_STREAMS[stream], k, start, stop, mu.shape[2])
                        for k in range(len(mu))])
        return (mu + np.exp(0.5 * logvar) * eps).astype(np.float32)

    def code_noise(self, start: int, stop: int, samples: int, seed: int) -> np.ndarray:
        """Frame-indexed input of the mapping net ``(samples, stop - start, C)``, float32.

        ``mean + std * noise`` of :meth:`specific_codes` with every draw indexed by frame
        (``noise = "frame"``): the clip of ``stats_draw = "sequence"`` from
        ``default_rng([seed, 0])`` as there, the clips of ``"every_crop"`` by crop, the noise
        knots by knot (:func:`frame_normals`).
        """
        config, size = self.run.config, self.run.config.code_size

        def knots(stream, width):
            return lambda k0, k1: np.stack([frame_normals(seed, NOISE_STREAMS[stream], k, k0,
                                                          k1, width) for k in range(samples)])

        if config.stats_draw == "sequence":
            picks = np.random.default_rng([seed, 0]).integers(len(self.code_mean), size=samples)
            mean, std = self.code_mean[picks][:, None], self.code_std[picks][:, None]
        else:
            def clips(k0, k1):
                return np.stack([np.random.default_rng(
                    [seed, NOISE_STREAMS["crop_stats"], k]).integers(
                        len(self.code_mean), size=samples) for k in range(k0, k1)], axis=1)

            mean, std = (lerp_knots(lambda k0, k1, s=stat: s[clips(k0, k1)], start, stop,
                                    config.crop_frames) for stat in (self.code_mean,
                                                                     self.code_std))
        noise = lerp_knots(knots("specific", size), start, stop, self.model.period,
                           keep_variance=True)
        return (mean + std * noise).astype(np.float32)

    def specific_codes(self, n_frames: int, samples: int, seed: int,
                       noise: str = NOISE_MODES[0]) -> np.ndarray | None:
        """Random motion-specific codes ``(samples, n_frames, C)`` (``None`` for the baseline).

        Each sample takes the code mean and std of one random training clip
        (``stats_draw = "sequence"``) or of a new one every ``crop_frames`` frames,
        interpolated linearly in between (``"every_crop"``); standard normal noise, white
        (``noise_seconds = 0``) or smooth (knots ``noise_seconds`` apart), scaled by that std
        is added to that mean, and the mapping net (if any) maps the result to a code, drawn
        from its posterior or its mean (``inference``). The draws come from
        ``numpy.random.default_rng([seed, 0])``; with ``noise = "frame"`` they are indexed by
        frame (:meth:`code_noise`, :meth:`posterior_frames`), as streaming draws them.
        """
        from gesture_vae.model import interpolate_knots, knot_count

        if not self.split:
            return None
        if check_noise(noise) == "frame":
            code, posterior = self.model.code_from_noise(self.code_noise(0, n_frames, samples,
                                                                         seed))
            if posterior is None:
                return np.asarray(code)
            return self.posterior_frames(*(np.asarray(p) for p in posterior), seed=seed,
                                         stream="mapped")
        config, rng = self.run.config, np.random.default_rng([seed, 0])
        if config.stats_draw == "sequence":
            picks = rng.integers(len(self.code_mean), size=samples)
            mean, std = self.code_mean[picks][:, None], self.code_std[picks][:, None]
        else:
            clip = config.crop_frames
            picks = rng.integers(len(self.code_mean), size=(samples, knot_count(n_frames, clip)))
            mean, std = (np.asarray(interpolate_knots(stat[picks], n_frames, clip))
                         for stat in (self.code_mean, self.code_std))
        period = self.model.period
        knots = rng.standard_normal((samples, knot_count(n_frames, period), config.code_size))
        noise = (knots[:, :n_frames] if period == 1 else
                 np.asarray(interpolate_knots(knots, n_frames, period, keep_variance=True)))
        code, posterior = self.model.code_from_noise((mean + std * noise).astype(np.float32))
        if posterior is None:
            return np.asarray(code)
        return self._posterior(*(np.asarray(p) for p in posterior), rng)

    def shared_codes(self, features: np.ndarray, samples: int, seed: int,
                     noise: str = NOISE_MODES[0]) -> np.ndarray:
        """Shared codes ``(S, T, C)`` of raw speech features ``(T, F)``.

        ``S = samples`` posterior draws (``numpy.random.default_rng([seed, 1])``, or indexed by
        frame with ``noise = "frame"``) with ``inference = "reparameterised"``; with ``"mean"``
        the mean, once (``S = 1``).
        """
        mu, logvar = (np.asarray(h) for h in
                      self.model.audio_encoder(self.run.norm.audio(features)[None]))
        if self.inference == "mean":
            return mu
        if check_noise(noise) == "frame":
            return self.posterior_frames(np.repeat(mu, samples, 0), np.repeat(logvar, samples, 0),
                                         seed=seed, stream="shared")
        rng = np.random.default_rng([seed, 1])
        return self._posterior(np.repeat(mu, samples, 0), np.repeat(logvar, samples, 0), rng)

    def clip_code(self, clip) -> np.ndarray:
        """The motion-specific code ``(n, C)`` of a BVH clip, resampled to the run's fps."""
        motion = read_bvh(clip)
        skel = self.run.skeleton
        if motion.skeleton.names != skel.names or not np.array_equal(motion.skeleton.parents,
                                                                     skel.parents):
            raise PipelineError(f"{clip}: its skeleton ({motion.skeleton.n_joints} joints) is not "
                                f"the run's ({skel.n_joints} joints, {skel.names[0]} root)")
        vectors = self.run.norm.motion(rot6d_vector(motion.resample(self.fps)))
        return np.asarray(self.model.encode_motion(vectors[None])["specific"][0])[0]

    def insertion(self, insertion: Insertion, n_frames: int,
                  blend: float) -> tuple[np.ndarray, np.ndarray]:
        """A clip's code over the whole timeline ``(T, C)`` and its weight ``(T,)``.

        The code is the clip's from ``insertion.seconds`` on for the clip's duration, extended
        by its edge values before and after; the weight is 1 over the clip and falls linearly
        to 0 over ``blend`` seconds on both sides.
        """
        if not self.split:
            raise PipelineError(f"{self.run.root}: the {self.run.config.variant} variant has no "
                                "motion-specific code; clip insertion needs a split variant")
        start = frame_count(insertion.seconds, self.fps)
        if start >= n_frames:
            raise PipelineError(f"--insert {insertion.clip}@{insertion.seconds:g}: starts after "
                                f"the audio ends ({n_frames / self.fps:.2f} s)")
        clip = self.clip_code(insertion.clip)
        t = np.arange(n_frames)
        ramp = max(frame_count(blend, self.fps), 1)
        outside = np.maximum(start - t, t - (start + len(clip) - 1))
        return clip[np.clip(t - start, 0, len(clip) - 1)], np.clip(1.0 - outside / ramp, 0, 1)

    def _decode(self, shared: np.ndarray, codes: np.ndarray | None) -> np.ndarray:
        """Normalised motion ``(N, T, D)`` from shared codes ``(S, T, C)`` and N (or no) codes.

        ``S`` is 1 or ``N``; one shared code serves every code, one code every shared code.
        """
        count = max(len(shared), 1 if codes is None else len(codes))
        if codes is not None and len(codes) < count:
            codes = np.repeat(codes, count, axis=0)
        return np.asarray(self.model.decode(np.repeat(shared, count // len(shared), axis=0),
                                            codes))

    def generate(self, speech, *, samples: int = 1, seed: int = 0, insert=(),
                 blend: float = BLEND) -> list[Motion]:
        """``samples`` motions for a ``.wav`` file or its features (:meth:`features`).

        The family contract of :class:`helpers.families.GestureModel`; ``insert`` takes
        :class:`Insertion` objects or their ``CLIP.bvh@SECONDS`` text. See :meth:`sample`.
        """
        features = speech if isinstance(speech, np.ndarray) else self.features(speech)
        insert = [Insertion.parse(i) if isinstance(i, str) else i for i in insert]
        generated = self.sample(features, samples=samples, seed=seed, insert=insert,
                                blend=blend)
        return [from_vectors(v, self.skeleton, self.fps, kind="rot6d", name=f"sample {k}")
                for k, v in enumerate(generated.motion)]

    def sample(self, features: np.ndarray, *, samples: int = 1, seed: int = 0,
               insert: list[Insertion] | tuple = (), blend: float = BLEND,
               noise: str = NOISE_MODES[0]) -> Generated:
        """Sample ``samples`` motions for raw speech features ``(T, F)``.

        An inserted clip's code (its posterior mean) replaces the sampled codes on its span:
        there the motion is decoded from the audio's shared code and the clip's code. Around
        the span, that motion (decoded with the clip's code extended by its edge values) is
        cross-faded with the sampled one over ``blend`` seconds; a switch of code alone would
        make the decoder change pose within a few frames.

        Parameters
        ----------
        features : np.ndarray [shape=(T, F)]
            Speech features (not normalised), e.g. from :meth:`features`.
        samples : int >= 1
            Number of motions.
        seed : int
            Seed of the motion-specific codes and of the posterior draws.
        insert : sequence of Insertion
            Clips to place on the timeline.
        blend : float >= 0
            Cross-fade around an inserted clip, in seconds on each side.
        noise : {"sequence", "frame"}
            :data:`NOISE_MODES`: ``"frame"`` indexes every draw by frame (streaming's draws).
        """
        if samples < 1:
            raise PipelineError(f"--samples must be >= 1, got {samples}")
        check_noise(noise)
        shared = self.shared_codes(features, samples, seed, noise)
        motion = self._decode(shared, self.specific_codes(len(features), samples, seed, noise))
        for item in insert:
            code, weight = self.insertion(item, len(features), blend)
            weight = weight[None, :, None]
            motion = (1.0 - weight) * motion + weight * self._decode(shared, code[None])
        vectors = self.model.geometry.vectors(motion.astype(np.float32)).numpy()
        vectors = np.repeat(vectors, samples // len(vectors), axis=0)
        positions = np.stack([to_positions(v, self.run.skeleton, "rot6d") for v in vectors])
        return Generated(vectors, positions, self.run.skeleton, self.fps)


def derivative_statistics(codes: np.ndarray) -> dict[str, float]:
    """How fast codes change from frame to frame, relative to how much they vary.

    The paper's argument for the mapping net (Li et al., ICCV 2021, the ablation): random codes
    differ from the real motion-specific codes in the mean and variance of their derivatives.
    White noise per frame has ``var(dz) = 2 var(z)``; a code that changes smoothly over a
    phrase has ``var(dz) << var(z)``.

    Parameters
    ----------
    codes : np.ndarray [shape=(N, T, C)]
        N code sequences of T >= 3 frames.

    Returns
    -------
    dict
        ``mean``: mean over sequences and channels of ``|mean_t dz|``; ``variance``: mean of
        ``var_t dz``; ``ratio``: mean of ``var_t dz / var_t z`` (2 for white noise, 0 for a
        constant change).
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 3 or codes.shape[1] < 3:
        raise PipelineError(f"derivative statistics need codes (N, T >= 3, C), got {codes.shape}")
    steps = np.diff(codes, axis=1)
    spread = np.maximum(codes.var(axis=1), 1e-12)
    return {"mean": float(np.abs(steps.mean(axis=1)).mean()),
            "variance": float(steps.var(axis=1).mean()),
            "ratio": float((steps.var(axis=1) / spread).mean())}


def write_outputs(generated: Generated, out_dir, stem: str,
                  formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write ``<stem>_motion.npy`` and ``<stem>_positions.npy`` and/or ``<stem>_sample<k>.bvh``."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise PipelineError(f"unknown output format(s) {sorted(unknown)} (use {FORMATS})")
    out = Path(out_dir)
    motions = [from_vectors(v, generated.skeleton, generated.fps, kind="rot6d")
               for v in generated.motion]
    written = []
    if "npy" in formats:
        written += save_motion(out / f"{stem}_motion.npy", motions, kind="rot6d")
        written.append(save_array(out / f"{stem}_positions.npy",
                                  generated.positions.astype(np.float32)))
    if "bvh" in formats:
        for k, motion in enumerate(motions):
            written += save_motion(out / f"{stem}_sample{k}.bvh", motion, precision=4)
    return written


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="run directory written by gesture_vae/train.py")
    parser.add_argument("audio", help="speech audio file (any length)")
    parser.add_argument("out_dir", help="where to write the samples")
    parser.add_argument("--samples", type=int, default=1, help="motions to draw (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the codes (default 0)")
    parser.add_argument("--insert", action="append", default=[], type=Insertion.parse,
                        metavar="CLIP.bvh@SECONDS",
                        help="place a BVH clip at SECONDS (repeatable)")
    parser.add_argument("--blend", type=float, default=BLEND,
                        help=f"cross-fade of inserted clips in seconds (default {BLEND:g})")
    parser.add_argument("--format", nargs="+", default=list(FORMATS), choices=FORMATS,
                        help="outputs: npy (vectors and positions), bvh (default both)")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="number format of the networks (default float32)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    sampler = Sampler.load(args.run_dir, precision=args.precision)
    generated = sampler.sample(sampler.features(args.audio), samples=args.samples,
                               seed=args.seed, insert=args.insert, blend=args.blend)
    written = write_outputs(generated, args.out_dir, Path(args.audio).stem, tuple(args.format))
    print(f"{args.samples} sample(s) of {generated.motion.shape[1] / generated.fps:.2f} s at "
          f"{generated.fps:g} fps -> {args.out_dir} ({len(written)} files)")
    return 0


if __name__ == "__main__":
    run_cli(main)
