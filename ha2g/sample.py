"""Generate gestures of any length with a trained HA2G run (the family's :class:`Sampler`).

As the official inference (``synthesize_hierarchy.py``), speech of any length is cut into
clips of ``clip_frames`` frames every ``clip_frames - seed_frames`` frames; the first clip is
seeded with the mean pose, every later one with the last ``seed_frames`` frames of the clip
before, and over those overlapping frames the two clips are cross-faded linearly (weights
``(n - j) / (n + 1)`` and ``(j + 1) / (n + 1)``). The last clip's speech is padded with the
features of silence; the motion has exactly one frame per feature frame (``round(d fps)`` for
``d`` seconds). :class:`ClipStream` runs each clip as soon as its features are in, so the same
generation serves a whole file (:meth:`Sampler.sample`) and a stream
(:class:`helpers.streaming.HA2GStream`).

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

    def draws(self, samples: int, seed: int, speaker: str | None = None) -> dict:
        """A recording's random draws, none of which depends on its length.

        Returns
        -------
        dict
            ``noise`` ``(levels, samples, Z)``: the style codes' standard normal noise; with
            speakers, ``speaker`` ``(samples,)`` (:meth:`speakers`).
        """
        rng = np.random.default_rng(seed)
        inputs = {"noise": rng.standard_normal(
            (self.run.body.n_levels, samples, self.run.config.z_size)).astype(np.float32)}
        speakers = self.speakers(speaker, samples, rng)
        if speakers is not None:
            inputs["speaker"] = speakers
        return inputs

    def clips(self, *, samples: int = 1, seed: int = 0,
              speaker: str | None = None) -> ClipStream:
        """The clip-by-clip generation of one recording (:class:`ClipStream`)."""
        if samples < 1:
            raise PipelineError(f"--samples must be >= 1, got {samples}")
        return ClipStream(self, self.draws(samples, seed, speaker), samples)

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
        clips = self.clips(samples=samples, seed=seed, speaker=speaker)
        return np.concatenate([clips.push(features, words), clips.finish()], axis=1)


class ClipStream:
    """One recording's clips, each generated once its features are in (offline: all at once).

    Clip ``k`` covers frames ``k s`` to ``k s + clip`` (stride ``s = clip - seed``, the starts of
    :func:`clip_plan`). It runs as soon as the features of those frames have been pushed, or in
    :meth:`finish` with the last clip's silence padding: the plan only adds clips as the length
    grows, so a clip that runs before the end is in the plan of the whole recording. A frame
    is returned once no later clip can change it: after clip ``k``, the frames before
    ``(k + 1) s``; its last ``seed`` frames, which clip ``k + 1`` cross-fades with its own
    first ones, wait for that clip or the end.

    Parameters
    ----------
    sampler : Sampler
    inputs : dict
        The recording's draws (:meth:`Sampler.draws`).
    samples : int
    """

    def __init__(self, sampler: Sampler, inputs: dict, samples: int):
        config, stats = sampler.run.config, sampler.run.stats
        self.sampler, self.inputs, self.samples = sampler, dict(inputs), samples
        self.clip, self.n_seed = config.clip_frames, config.seed_frames
        self.stride = self.clip - self.n_seed
        # raw features (normalised clip by clip) and word ids, from frame `start` on
        self.features = np.zeros((0, len(stats["audio_mean"])), np.float32)
        self.words = None if sampler.run.vocabulary is None else np.zeros(0, np.int32)
        self.start = self.frames = self.done = 0  # next clip's start, frames pushed, clips run
        size = len(stats["dir_mean"])
        self.seed = np.zeros((samples, self.n_seed, size), np.float32)  # the mean pose
        self.held = np.zeros((samples, 0, size), np.float32)  # frames start on, not returned

    def push(self, features: np.ndarray, words: np.ndarray | None = None) -> np.ndarray:
        """Motion vectors ``(samples, k, 3 B)`` that the next feature frames made final.

        Parameters
        ----------
        features : np.ndarray [shape=(n, F)]
            The next raw feature frames.
        words : np.ndarray [shape=(n,)], optional
            Their word ids (text mode; default no words).
        """
        self._append(features, words)
        out = [self.held[:, :0]]
        while self.frames >= self.start + self.clip:
            out.append(self._run())
        return np.concatenate(out, axis=1)

    def finish(self) -> np.ndarray:
        """The remaining motion vectors ``(samples, k, 3 B)``, once every frame is pushed."""
        n_frames, first = self.frames, self.start
        starts = clip_plan(n_frames, self.clip, self.n_seed)
        silence = self.sampler.run.stats["silence"]
        self._append(np.broadcast_to(silence, (starts[-1] + self.clip - n_frames, len(silence))))
        out = [self._run() for _ in starts[self.done:]]
        return np.concatenate([*out, self.held], axis=1)[:, : n_frames - first]

    def _append(self, features: np.ndarray, words: np.ndarray | None = None) -> None:
        self.features = np.concatenate([self.features, features])
        if self.words is not None:
            ids = (np.zeros(len(features), np.int32) if words is None
                   else np.asarray(words, np.int32))
            self.words = np.concatenate([self.words, ids])
        self.frames += len(features)

    def _run(self) -> np.ndarray:
        """Generate the clip at ``start``; its frames ``(samples, s, 3 B)`` before the next's."""
        stats, span = self.sampler.run.stats, slice(0, self.clip)
        audio = ((self.features[span] - stats["audio_mean"]) / stats["audio_std"]).astype(
            np.float32)
        self.inputs.update(audio=np.repeat(audio[None], self.samples, axis=0), seed=self.seed)
        if self.words is not None:
            self.inputs["words"] = np.repeat(self.words[None, span], self.samples, axis=0)
        out = self.sampler._clip(self.inputs).numpy()
        self.seed = out[:, -self.n_seed :]
        if self.done:
            out[:, : self.n_seed] = cross_fade(self.held, out[:, : self.n_seed])
        self.done, self.start = self.done + 1, self.start + self.stride
        self.features = self.features[self.stride :]
        if self.words is not None:
            self.words = self.words[self.stride :]
        self.held = out[:, self.stride :]
        return out[:, : self.stride]
