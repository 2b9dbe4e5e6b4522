"""The step scripts as commands: ``--help`` without TensorFlow, no TensorFlow chatter."""

import logging
import os
import re
import subprocess
import sys

from data_processing.files import QUIET_LOGGERS, quiet_tensorflow
from tests.conftest import REPO

NOT_STEPS = ("tests", "benchmarks", ".venv")

PROBE = """
import contextlib, io, runpy, sys
from data_processing.files import run_cli
scripts, checkpoint = sys.argv[2:], sys.argv[1]
for script in scripts:
    sys.argv = [script, "--help"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        runpy.run_path(script, run_name="__main__")
    if "tensorflow" in sys.modules:
        print(script)
        sys.exit(0)


def main(argv):
    import tensorflow as tf

    tf.train.Checkpoint(v=tf.Variable(1.0)).write(checkpoint)


run_cli(main)
"""
"""Runs ``--help`` of each script in turn in one process and prints the first that loads
TensorFlow (the scripts after it are probed in a new process); when none does, a command
through ``run_cli`` that loads TensorFlow and writes a checkpoint, as the training steps do."""
TF_CHATTER = re.compile(r"absl|tensorflow|Sharding callback|^[IWEF]\d{4} ", re.I | re.M)
"""TensorFlow's start-up and INFO lines (its C++ log lines start with ``I0000`` etc.)."""


def step_scripts() -> list[str]:
    """Every step script of the project: a module that ends in ``run_cli(main)``."""
    paths = [p for depth in ("*.py", "*/*.py", "*/*/*.py") for p in REPO.glob(depth)]
    return sorted(str(p.relative_to(REPO)) for p in paths
                  if p.relative_to(REPO).parts[0] not in NOT_STEPS
                  and "run_cli(main)" in p.read_text())


def test_help_never_loads_tensorflow_and_commands_are_quiet(tmp_path):
    """``--help`` of every step never loads TensorFlow, so every step loads it inside ``main``,
    after :func:`run_cli` silenced it: a command prints none of TensorFlow's lines.

    Without ``TF_CPP_MIN_LOG_LEVEL`` in the environment (the test session sets it), as a user
    runs them.
    """
    scripts = step_scripts()
    assert {"train.py", "predict.py", "gesture_vae/train.py", "ha2g/train.py",
            "data_processing/create_vector.py", "evaluation/report.py"} <= set(scripts)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    offenders, rest = [], scripts
    while True:
        done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "ckpt"), *rest],
                              cwd=REPO, capture_output=True, text=True, timeout=300,
                              env={**env, "PYTHONPATH": str(REPO)})
        assert done.returncode == 0, done.stderr
        if not done.stdout.strip():
            break
        offenders.append(done.stdout.strip())
        rest = rest[rest.index(offenders[-1]) + 1:]
    assert offenders == [], "--help loads TensorFlow"
    assert (tmp_path / "ckpt.index").is_file()
    assert not TF_CHATTER.search(done.stderr), done.stderr


def test_quiet_tensorflow_keeps_the_users_setting(monkeypatch):
    for name in QUIET_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert all(logging.getLogger(n).level == logging.WARNING for n in QUIET_LOGGERS)
