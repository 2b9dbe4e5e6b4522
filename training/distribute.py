"""Training on several machines: the strategy from ``TF_CONFIG``, the chief, each worker's files.

Every worker of a cluster runs the same command with its own ``TF_CONFIG`` (the cluster's
addresses and this worker's place in it; ``docs/distributed.md``). With
more than one worker listed, :func:`strategy_from_environment` is a
``tf.distribute.MultiWorkerMirroredStrategy``: every step all-reduces the gradients of all
replicas of all workers, so every worker holds the same weights after every step.

Files follow TensorFlow's pattern for multi-worker training (the chief writes the run
directory, the other workers write to temporary directories that are deleted): the chief
(task ``chief``, else worker 0) trains in ``RUN_DIR`` itself; any other worker trains in a
private copy of it (:func:`worker_run_dir`), made before its first step and deleted at the end,
so it resumes from the chief's checkpoint and writes nothing where the chief writes. Workers
that write into one shared directory would race on its temporary names (made of the process
id, which two machines can share) and clean each other's temporaries away.

Data: every worker builds the same dataset of global batches (the training orders are pure
functions of the seed and the epoch or step, :mod:`training.data`) and
:func:`distribute_dataset` shards it by data: each global batch is split into one slice per
replica, so the global batch of a step equals the single-worker batch.

Importing this module does not import TensorFlow (the CLIs' ``--help`` stays fast).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from data_processing.files import PipelineError, is_temporary

if TYPE_CHECKING:
    import tensorflow as tf

UNCOPIED = ("logs",)  # the chief's TensorBoard logs: no worker reads them


def tf_config() -> dict:
    """The parsed ``TF_CONFIG`` of this process (``{}`` when it is unset or empty).

    Raises
    ------
    PipelineError
        It is not a JSON object, or it names a cluster but not this worker's task in it.
    """
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise PipelineError(f"TF_CONFIG: not JSON ({error})") from None
    if not isinstance(config, dict):
        raise PipelineError("TF_CONFIG: expected a JSON object with 'cluster' and 'task'")
    if config.get("cluster") and not isinstance(config.get("task"), dict):
        raise PipelineError("TF_CONFIG: names a cluster but no 'task' "
                            "({'type': 'worker', 'index': I} of this worker)")
    return config


def worker_count() -> int:
    """The number of training workers (``chief`` and ``worker`` tasks) of ``TF_CONFIG``."""
    cluster = tf_config().get("cluster", {})
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def is_chief() -> bool:
    """Whether this process writes the run: task ``chief``, else worker 0, else alone.

    The rule of TensorFlow's multi-worker tutorials (and of
    ``MultiWorkerMirroredStrategy.extended.should_checkpoint``), read from ``TF_CONFIG``
    alone, so it holds before TensorFlow is loaded.
    """
    config = tf_config()
    if worker_count() <= 1:
        return True
    task = config["task"]
    if "chief" in config["cluster"]:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def strategy_from_environment(*, mirrored: bool = False) -> tf.distribute.Strategy:
    """The strategy of this process; create it before any other TensorFlow op.

    Parameters
    ----------
    mirrored : bool
        On one machine, ``MirroredStrategy`` over its GPUs (``train.py --mirrored``) instead
        of the default strategy.

    Returns
    -------
    tf.distribute.Strategy
        ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` lists more than one worker (it
        uses every local GPU of each worker, else its CPU), else as ``mirrored`` says.
    """
    import tensorflow as tf

    if worker_count() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy() if mirrored else tf.distribute.get_strategy()


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` spans several worker processes."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return len(cluster.get("chief", [])) + len(cluster.get("worker", [])) > 1


def distribute_dataset(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    """``strategy.experimental_distribute_dataset``, sharded by data across workers.

    Every worker reads the whole dataset of global batches; each batch is split into
    ``num_replicas_in_sync`` slices and each replica keeps its own (``AutoShardPolicy.DATA``:
    the datasets here are built from arrays, not files). On one worker the dataset is
    distributed unchanged.
    """
    import tensorflow as tf

    if is_multi_worker(strategy):
        options = tf.data.Options()
        policy = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = policy
        dataset = dataset.with_options(options)
    return strategy.experimental_distribute_dataset(dataset)


@contextlib.contextmanager
def worker_run_dir(run_dir) -> Iterator[Path]:
    """The run directory this worker trains in: ``run_dir`` on the chief, else a private copy.

    A non-chief worker gets a copy of the chief's ``run_dir`` as it is now (checkpoints,
    ``history.csv``, ``best.weights.h5``, settings; not the TensorBoard logs, unfinished
    writes or other hidden names) in a temporary directory deleted on exit, whatever happens.
    ``run_dir`` must be on storage every worker reads (a shared file system); the trainer
    checks that all workers resumed from the same epoch.

    Yields
    ------
    pathlib.Path
        ``run_dir``, or ``TMP/<name of run_dir>`` on a non-chief worker.
    """
    run_dir = Path(run_dir)
    if is_chief():
        yield run_dir
        return
    task = tf_config()["task"]
    scratch = Path(tempfile.mkdtemp(prefix=f"workertemp_{task.get('type')}{task.get('index')}_"))
    try:
        copy = scratch / run_dir.name
        if run_dir.is_dir():
            shutil.copytree(run_dir, copy, symlinks=True, ignore=lambda directory, names: [
                n for n in names
                if is_temporary(n) or (Path(directory) == run_dir and n in UNCOPIED)])
        yield copy
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

