"""Generate gestures of any length with a trained HA2G run (the family's :class:`Sampler`).

As the official inference (``synthesize_hierarchy.py``), speech of any length is cut into
clips of ``clip_frames`` frames every ``clip_frames - seed_frames`` frames; the first clip is
seeded with the mean pose, every later one with the last ``seed_frames`` frames of the clip
before, and over those overlapping frames the two clips are cross-faded linearly (weights
``(n - j) / (n + 1)`` and ``(j + 1) / (n + 1)``). The last clip's speech is padded with the
features of silence; the motion has exactly one frame per feature frame (``round(d fps)`` for
``d`` seconds).

A sample is one style code per pose level for the whole recording (standard normal noise,
through a random training speaker's embedding when the run has speakers), so ``--samples N``
draws N motions. In text mode the words come from ``transcript`` (a transcript file, or
per-frame words), else from a transcript beside the WAV file (same stem, ``.TextGrid``,
``.json`` or ``.csv``), else no words.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from data_processing.audio import file_features
from data_processing.files import PipelineError
from data_processing.motion import Motion
from data_processing.transcripts import frame_words, read_transcript
from ha2g.data import normalise_word
from ha2g.model import HA2G
from ha2g.run import KIND, Run, load_model
from training.precision import set_precision

TRANSCRIPT_SUFFIXES = (".TextGrid", ".json", ".csv")


def clip_plan(n_frames: int, clip: int, seed: int) -> list[int]:
    """Start frames of the clips that cover ``n_frames`` frames (the official subdivision)."""
    stride = clip - seed
    count = 1 if n_frames <= clip else -(-(n_frames - clip) // stride) + 1
    return [k * stride for k in range(count)]


def cross_fade(previous: np.ndarray, following: np.ndarray) -> np.ndarray:
    """The official blend of overlapping frames ``(N, n, D)``, from ``previous`` to ``following``.

    Frame ``j`` of ``n`` is ``previous (n - j) / (n + 1) + following (j + 1) / (n + 1)``.
    """
    n = previous.shape[1]
    j = np.arange(n)[None, :, None]
    return previous * (n - j) / (n + 1) + following * (j + 1) / (n + 1)


class Sampler:
    """A trained HA2G model with what generation needs (see :meth:`load`).

    Parameters
    ----------
    model : HA2G
    run : Run
    """

    kind = KIND
    representation = "positions"
    options = ("speaker", "transcript")

    def __init__(self, model: HA2G, run: Run):
        self.model, self.run = model, run
        self.path, self.skeleton = run.root, run.body.skeleton
        self._clip = tf.function(model.__call__, reduce_retracing=True)

    @classmethod
    def load(cls, run_dir, *, precision: str = "float32") -> Sampler:
        """The sampler of a run directory written by ``ha2g/train.py``.

        ``precision``: the networks' number format (:mod:`training.precision`).
        """
        model, run = load_model(run_dir)
        return cls(set_precision(model, precision), run)

    @property
    def fps(self) -> float:
        """Frame rate of input features and output motion."""
        return self.run.fps

    def features(self, wav) -> np.ndarray:
        """Raw speech features ``(T, F)`` of an audio file, as the training data had them."""
        info = self.run.dataset
        return file_features(wav, info["features"], fps=self.fps, mel_preset=info["mel_preset"],
                             mfcc_rate=info.get("mfcc_rate", "16k"))

    def words(self, speech, transcript, n_frames: int) -> np.ndarray | None:
        """Word ids ``(T,)`` for text mode (``None`` without a text branch)."""
        if self.run.vocabulary is None:
            return None
        if transcript is None and not isinstance(speech, np.ndarray):
            transcript = next((p for p in (Path(speech).with_suffix(s)
                                           for s in TRANSCRIPT_SUFFIXES) if p.is_file()), None)
        if transcript is None:
            return np.zeros(n_frames, np.int32)
        if isinstance(transcript, (str, Path)):
            transcript = frame_words(read_transcript(transcript), n_frames, self.fps)
        if len(transcript) != n_frames:
            raise PipelineError(f"{len(transcript)} frames of words for {n_frames} frames of "
                                "speech")
        return self.run.vocabulary.ids([normalise_word(w) for w in transcript])

    def speakers(self, speaker: str | None, samples: int, rng) -> np.ndarray | None:
        """Speaker ids ``(samples,)``: the named one, or random training speakers."""
        names = self.run.speakers
        if names is None:
            if speaker is not None:
                raise PipelineError(f"{self.path}: a single-speaker run takes no speaker")
            return None
        if speaker is None:
            return rng.integers(len(names), size=samples).astype(np.int32)
        if speaker not in names:
            raise PipelineError(f"{self.path}: unknown speaker {speaker!r} (the run knows "
                                f"{', '.join(names[:10])})")
        return np.full(samples, names.index(speaker), np.int32)

    def generate(self, speech, *, samples: int = 1, seed: int = 0, speaker: str | None = None,
                 transcript=None) -> list[Motion]:
        """``samples`` motions for a ``.wav`` file or its features (:meth:`features`).

        The family contract of :class:`helpers.families.GestureModel`; see :meth:`sample`.
        """
        features = speech if isinstance(speech, np.ndarray) else self.features(speech)
        vectors = self.sample(features, samples=samples, seed=seed, speaker=speaker,
                              words=self.words(speech, transcript, len(features)))
        positions = self.run.representation.decode(vectors)
        return [Motion(p, self.fps, self.skeleton, name=f"sample {k}")
                for k, p in enumerate(positions)]

    def sample(self, features: np.ndarray, *, samples: int = 1, seed: int = 0,
               words: np.ndarray | None = None, speaker: str | None = None) -> np.ndarray:
        """Motion vectors ``(samples, T, 3 B)`` for raw speech features ``(T, F)``.

        Parameters
        ----------
        features : np.ndarray [shape=(T, F)]
            Speech features (not normalised), e.g. from :meth:`features`.
        samples : int >= 1
        seed : int
            Seed of the style codes (and of the speakers when none is named).
        words : np.ndarray [shape=(T,)], optional
            Word ids (text mode; default no words).
        speaker : str, optional
            A training speaker (runs with speakers).
        """
        if samples < 1:
            raise PipelineError(f"--samples must be >= 1, got {samples}")
        config, stats = self.run.config, self.run.stats
        n_frames, clip, n_seed = len(features), config.clip_frames, config.seed_frames
        starts = clip_plan(n_frames, clip, n_seed)
        total = starts[-1] + clip
        silence = np.broadcast_to(stats["silence"], (total - n_frames, features.shape[1]))
        audio = ((np.concatenate([features, silence]) - stats["audio_mean"])
                 / stats["audio_std"]).astype(np.float32)
        rng = np.random.default_rng(seed)
        inputs = {"noise": rng.standard_normal(
            (self.run.body.n_levels, samples, config.z_size)).astype(np.float32)}
        speakers = self.speakers(speaker, samples, rng)
        if speakers is not None:
            inputs["speaker"] = speakers
        if self.run.vocabulary is not None:
            ids = np.zeros(n_frames, np.int32) if words is None else np.asarray(words, np.int32)
            ids = np.concatenate([ids, np.zeros(total - n_frames, np.int32)])
        motion = np.zeros((samples, total, len(stats["dir_mean"])), np.float32)
        seed_frames = motion[:, :n_seed]  # the mean pose
        for start in starts:
            span = slice(start, start + clip)
            inputs.update(audio=np.repeat(audio[None, span], samples, axis=0), seed=seed_frames)
            if self.run.vocabulary is not None:
                inputs["words"] = np.repeat(ids[None, span], samples, axis=0)
            out = self._clip(inputs).numpy()
            seed_frames = out[:, -n_seed:]
            if start:
                out[:, :n_seed] = cross_fade(motion[:, start:start + n_seed], out[:, :n_seed])
            motion[:, span] = out
        return motion[:, :n_frames]
