"""Session-cached data and the one tiny trained HA2G run of the test session (``test_ha2g_*``).

* the *tiny* dataset: the shared ``demo_raw`` recordings (6 x 12 s) at the TED frame rate
  (15 fps, the a2g log-mel features), 4 for training and 2 held out (no dev split: the
  evaluation after every epoch would cost more than the training);
* the *tiny* run: the demo preset (no GAN, no diversity term: their terms are checked on
  their own, eagerly) narrower, clips every 2 frames, 6 epochs. It is trained once per session and
  reused by every test: CLIs, formats, generation, resume (against its weights after epoch 2,
  recorded while it trains), and the science check (it must beat the mean pose on held-out
  files).
"""

from __future__ import annotations

from pathlib import Path

from tests.session_cache import cached

TINY = {"audio_filters": (4, 4, 4, 4), "audio_size": 8, "hidden": 16, "disc_hidden": 8,
        "batch_size": 16, "clip_stride": 2}  # over the demo preset
FPS = 15.0
SPLIT = (4, 0, 2)  # recordings for train, dev, test: no dev split, no evaluation per epoch
RESUME_EPOCHS = 2  # the resume test trains this many epochs, stopped after the first
SNAPSHOTS = "ha2g_tiny_epoch_weights.npz"


def tiny_config(**overrides):
    """The tiny run's configuration (the demo preset, narrower)."""
    from ha2g.config import make_config

    return make_config("demo", **{**TINY, **overrides})


def tiny_dataset(tmp_path_factory, demo_raw: Path) -> Path:
    """The shared demo recordings at 15 fps."""
    from data_processing import create_vector, prepare_data

    def build(out: Path) -> None:
        prepare_data.prepare(demo_raw, out, split="ratio", ratios=SPLIT, workers=1)
        settings = create_vector.VectorSettings(features="Spectro", fps=FPS, mel_preset="a2g")
        create_vector.create_vectors(out, 0, settings, motion="rot6d", workers=1)

    return cached(tmp_path_factory, "ha2g_tiny_data", build)


def weights_after_each_epoch(monkeypatch) -> dict:
    """Make every ``Trainer.fit`` record ``{epoch: weights}`` (seed states included)."""
    from training.loop import Trainer

    snapshots: dict = {}
    fit = Trainer.fit

    def recording_fit(self, *args, **kwargs):
        def record(epoch, row):
            snapshots[epoch] = [v.numpy().copy() for v in self.model.variables]

        return fit(self, *args, on_epoch_end=record, **kwargs)

    monkeypatch.setattr(Trainer, "fit", recording_fit)
    return snapshots


def tiny_run(tmp_path_factory, demo_raw: Path) -> Path:
    """The session's tiny run (its weights after epoch 2: :func:`epoch_weights`)."""
    import numpy as np
    import pytest

    from ha2g.train import train

    data = tiny_dataset(tmp_path_factory, demo_raw)

    def build(out: Path) -> None:
        with pytest.MonkeyPatch.context() as patch:
            snapshots = weights_after_each_epoch(patch)
            train(data, out, tiny_config())
        np.savez(out.parent / SNAPSHOTS, *snapshots[RESUME_EPOCHS])

    return cached(tmp_path_factory, "ha2g_tiny_run", build)


def epoch_weights(run: Path) -> list:
    """The tiny run's variables after epoch :data:`RESUME_EPOCHS` (seed states included)."""
    import numpy as np

    with np.load(run.parent / SNAPSHOTS) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]
