"""Session-cached data and runs for the Audio2Gestures tests (``tests/test_a2g_*.py``).

Each item is built once per test session under pytest's base temporary directory (a ``.done``
marker tells a finished build from an interrupted one) and shared by every module:

* a *tiny* rot6d dataset from the shared ``demo_raw`` recordings and runs trained for a few
  steps on it (for file formats, CLIs, resuming: quality does not matter);
* the *science* dataset (a demo speaker of 12 recordings of 30 s, a third of them held out)
  and the ``full`` and ``baseline`` variants trained on it with the demo preset at
  :data:`SCIENCE_STEPS` steps (``make demo`` trains 400 on 20 training files).
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import eager_functions
from tests.session_cache import cached

SCIENCE_FILES, SCIENCE_SECONDS, SCIENCE_SEED = 12, 30.0, 0
SCIENCE_RATIOS = (0.66, 0.17, 0.17)  # 8 training files, 2 dev, 2 test: 30+ held-out phrases
SCIENCE_STEPS = 200
TINY = {"steps": 2, "epoch_steps": 1, "crop_frames": 32, "batch_size": 4}


def rot6d_dataset(raw: Path, out: Path, workers: int = 1, ratios=(0.8, 0.1, 0.1)) -> None:
    """Split ``raw`` and build the Audio2Gestures vectors (30 fps, a2g log-mel, rot6d)."""
    from data_processing import create_vector, prepare_data

    prepare_data.prepare(raw, out, split="ratio", ratios=ratios)
    settings = create_vector.VectorSettings(features="Spectro", fps=30.0, mel_preset="a2g")
    create_vector.create_vectors(out, 0, settings, motion="rot6d", workers=workers)


def tiny_dataset(tmp_path_factory, demo_raw: Path) -> Path:
    """The shared demo recordings (6 x 12 s) as a rot6d dataset."""
    return cached(tmp_path_factory, "a2g_tiny_data", lambda out: rot6d_dataset(demo_raw, out))


def tiny_run(tmp_path_factory, data: Path, variant: str) -> Path:
    """A run of ``variant`` trained for a few steps on the tiny dataset, eagerly.

    A few steps cost less eagerly than tracing them; a test that trains the same run again
    to compare (``tests/test_resume.py``) does it eagerly too.
    """
    from gesture_vae.config import make_config
    from gesture_vae.train import train

    def build(out: Path) -> None:
        with eager_functions():
            train(data, out, make_config("demo", variant=variant, **TINY))

    return cached(tmp_path_factory, f"a2g_tiny_{variant}", build)


def science_raw(tmp_path_factory) -> Path:
    """The science test's demo speaker recordings and hidden-mode sidecar."""
    from data_processing.demo_speaker import write_demo_dataset

    return cached(tmp_path_factory, "a2g_science_raw", lambda out: write_demo_dataset(
        out, files=SCIENCE_FILES, seconds=SCIENCE_SECONDS, seed=SCIENCE_SEED))


def science_dataset(tmp_path_factory) -> Path:
    """The science recordings as a rot6d dataset."""
    raw = science_raw(tmp_path_factory)
    return cached(tmp_path_factory, "a2g_science_data",
                  lambda out: rot6d_dataset(raw, out, None, SCIENCE_RATIOS))


def science_run(tmp_path_factory, variant: str) -> Path:
    """``variant`` trained on the science dataset: demo preset and default (official) protocol."""
    from gesture_vae.config import make_config
    from gesture_vae.train import train

    data = science_dataset(tmp_path_factory)
    config = make_config("demo", variant=variant, steps=SCIENCE_STEPS, epoch_steps=100)
    return cached(tmp_path_factory, f"a2g_science_{variant}", lambda out: train(data, out, config))


def with_protocol(sampler, protocol: str):
    """``sampler``'s weights and code statistics under another named protocol."""
    import dataclasses

    from gesture_vae.config import PROTOCOLS
    from gesture_vae.run import build_model
    from gesture_vae.sample import Sampler

    run = dataclasses.replace(sampler.run, config=dataclasses.replace(
        sampler.run.config, **PROTOCOLS[protocol]))
    model = build_model(run)
    model.set_weights(sampler.model.get_weights())
    return Sampler(model, run, (sampler.code_mean, sampler.code_std))
