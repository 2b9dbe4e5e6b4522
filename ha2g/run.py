"""A trained HA2G run on disk: what training writes and what generation reads.

``RUN_DIR`` layout (besides the :class:`training.loop.Trainer` files: ``checkpoints/``,
``best.weights.h5``, ``history.csv``, ``loss_curve.png``, ``logs/``)::

    config.json     {"kind": "ha2g", "format": 1, "config": HA2GConfig, "dataset": {...},
                     "body": {sources, bones, levels, pairs}, "text": true|false,
                     "speakers": [...] or null}  (:mod:`data_processing.artifacts`)
    skeleton.json   the skeleton of the generated motion (the dataset's, or the TED one)
    vocabulary.json the training vocabulary (text mode)
    stats/          audio_{mean,std}, silence (raw features of silence), dir_mean (3 B,),
                    angle_{mean,variance} (P,) of the physical prior

A run is self-contained: generation needs neither the dataset directory nor its flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_processing.artifacts import config_path, read_config, write_config
from data_processing.body import Body, make_body
from data_processing.bvh import Skeleton
from data_processing.dataset import DatasetMeta
from data_processing.dir_vec import DirVec
from data_processing.files import PipelineError, load_array, read_json, save_array, write_json
from ha2g.config import HA2GConfig
from ha2g.data import Recording, Vocabulary, angle_statistics, load_recordings
from ha2g.model import HA2G

KIND = "ha2g"
WEIGHTS = "best.weights.h5"
STATS = ("audio_mean", "audio_std", "silence", "dir_mean", "angle_mean", "angle_variance")


@dataclass
class Run:
    """Everything about a run except its weights.

    Parameters
    ----------
    root : Path
        ``RUN_DIR``.
    config : HA2GConfig
    dataset : dict
        ``data_dir``, ``fps``, ``features``, ``mel_preset``, ``feature_size`` of the data.
    body : Body
    stats : dict of np.ndarray
        The arrays of :data:`STATS`.
    vocabulary : Vocabulary or None
        Text mode's vocabulary (``None``: audio only).
    speakers : list of str or None
        Speaker names (``None``: one speaker).
    """

    root: Path
    config: HA2GConfig
    dataset: dict
    body: Body
    stats: dict
    vocabulary: Vocabulary | None
    speakers: list[str] | None

    @property
    def fps(self) -> float:
        """Frame rate of the model's input and output."""
        return float(self.dataset["fps"])

    @property
    def representation(self) -> DirVec:
        """The run's ``dir_vec`` (its body and mean direction)."""
        return DirVec(self.body, self.stats["dir_mean"])

    def describe(self) -> dict:
        """The ``config.json`` settings of the run."""
        return {"config": self.config.to_dict(), "dataset": self.dataset,
                "body": self.body.to_dict(), "text": self.vocabulary is not None,
                "speakers": self.speakers}


def dataset_body(config: HA2GConfig, meta: DatasetMeta) -> Body:
    """The body of ``config`` on the dataset's skeleton (checked against the run's frame rate)."""
    if config.fps is not None and not np.isclose(config.fps, meta.fps):
        raise PipelineError(
            f"{meta.root / 'meta.json'}: {meta.fps:g} fps; this configuration needs "
            f"{config.fps:g} (create_vector.py DATA_DIR 0 --fps {config.fps:g} ...)")
    hierarchy = config.parts.hierarchy
    return make_body(meta.skeleton, joints=config.joints, joint_map=config.joint_map,
                     levels=config.levels if hierarchy else None, n_levels=config.pose_levels,
                     source=str(meta.root / "skeleton.json"))


def text_mode(config: HA2GConfig, train: list[Recording], meta: DatasetMeta) -> bool:
    """Whether the run uses the text branch (``auto``: every training recording has words)."""
    missing = [r.seq_id for r in train if r.words is None]
    if config.text == "on" and missing:
        raise PipelineError(f"{meta.root}: text mode needs a transcript for every training "
                            f"recording; none for {', '.join(missing[:5])}")
    return config.text != "off" and not missing


def new_run(run_dir, config: HA2GConfig, meta: DatasetMeta) -> tuple[Run, list[Recording]]:
    """The run of ``config`` on ``meta`` (statistics from the training split) and that split."""
    body = dataset_body(config, meta)
    audio_mean, audio_std = meta.stat("audio_mean"), meta.stat("audio_std")
    train = load_recordings(meta, "train", body, audio_mean=audio_mean, audio_std=audio_std,
                            speaker_pattern=config.speaker_pattern)
    if not train:
        raise PipelineError(f"{meta.root}: the train split has no sequences")
    vocabulary = (Vocabulary.build([r.words for r in train], config.min_word_count)
                  if text_mode(config, train, meta) else None)
    speakers = (sorted({r.speaker for r in train}) if config.speaker_pattern is not None
                else None)
    angle_mean, angle_variance = angle_statistics(train, body, config.physical_min_variance)
    stats = {"audio_mean": audio_mean, "audio_std": audio_std, "silence": meta.stat("silence"),
             "dir_mean": DirVec.fit([r.positions for r in train], body).mean,
             "angle_mean": angle_mean, "angle_variance": angle_variance}
    run = Run(Path(run_dir), config, meta.feature_settings(), body,
              {k: np.asarray(v, np.float32) for k, v in stats.items()}, vocabulary, speakers)
    return run, train


def _check_same(run: Run) -> None:
    """One-line error when ``RUN_DIR`` holds another run (another configuration or dataset)."""
    path = config_path(run.root)
    if not path.is_file():
        return
    saved = read_config(run.root, (KIND,))
    previous = HA2GConfig.from_dict(saved.get("config", {})).to_dict()
    changed = [k for k, v in run.config.to_dict().items() if previous[k] != v]
    described = run.describe()
    changed += [k for k in ("dataset", "body", "text", "speakers")
                if saved.get(k) != described[k]]
    if changed:
        raise PipelineError(f"{path}: this run directory holds another run (differs in "
                            f"{', '.join(changed)}); use another RUN_DIR or delete this one")


def save_run(run: Run) -> None:
    """Write the run's description (refusing a directory that holds another run)."""
    _check_same(run)
    for name, value in run.stats.items():
        save_array(run.root / "stats" / f"{name}.npy", value)
    run.body.skeleton.save(run.root / "skeleton.json")
    if run.vocabulary is not None:
        write_json(run.root / "vocabulary.json", {"words": run.vocabulary.words[2:]})
    write_config(run.root, KIND, run.describe())


def load_run(run_dir) -> Run:
    """Read a run directory written by ``ha2g/train.py``."""
    root = Path(run_dir)
    description = read_config(root, (KIND,))
    body = Body.from_dict(Skeleton.load(root / "skeleton.json"), description["body"])
    stats = {name: load_array(root / "stats" / f"{name}.npy", ndim=1) for name in STATS}
    vocabulary = (Vocabulary(read_json(root / "vocabulary.json")["words"]) if description["text"]
                  else None)
    return Run(root, HA2GConfig.from_dict(description["config"]), description["dataset"],
               body, stats, vocabulary, description["speakers"])


def build_model(run: Run) -> HA2G:
    """The model of a run, with freshly initialised weights."""
    return HA2G(run.config, feature_size=int(run.dataset["feature_size"]), body=run.body,
                dir_mean=run.stats["dir_mean"], angle_mean=run.stats["angle_mean"],
                angle_variance=run.stats["angle_variance"],
                n_words=0 if run.vocabulary is None else len(run.vocabulary),
                n_speakers=len(run.speakers or ()))


def load_model(run_dir) -> tuple[HA2G, Run]:
    """The trained model of a run (``best.weights.h5``) and its description."""
    run = load_run(run_dir)
    path = run.root / WEIGHTS
    if not path.is_file():
        raise PipelineError(f"{path}: no such file (the run has not finished an epoch)")
    model = build_model(run)
    model.load_weights(path)
    return model, run
