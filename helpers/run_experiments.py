"""Run an experiment table: datasets, models, tables, report, BVH files and video.

Usage::

    python helpers/run_experiments.py TABLE.toml [--only ID ...] [--jobs 2] [--dry-run]

``TABLE`` (``example_scripts/experiments/demo.toml`` is ``make demo``; the comments of
``demo_sweep.toml`` describe every key) declares the demo speaker, the datasets (with their
split ratios), the IVA'19 representations, one row per method (IVA'19 mean pose, baseline, DAE
or PCA codes; Audio2Gestures variants; HA2G ablation rows) with its training settings and
seeds, which methods go into the IVA'19 table, the Audio2Gestures table, the report and the
video, the comparisons the tables list (paired differences with 95% intervals) and the
science checks. ``extends = "OTHER.toml"`` starts from another table.

Every trained row runs once per seed (``ID_seedK``); the report and the Audio2Gestures table
get all of a method's seeds under one name and give the mean over seeds with a bootstrap
interval over seeds and held-out segments (``evaluation/intervals.py``); the GENEA table
(``[genea]``, ``evaluation/genea_eval.py``) has one row per training run; the BVH export, the
video and the viewer show each method's first seed. The last step, ``science-checks``, reads
the written tables and fails the run with one line naming every check whose interval does not
show what the table expects (``RESULTS/science_checks.md`` records every verdict).

The table becomes a list of steps, each one command of the project's step CLIs
(``python STEP.py ...``) run in a process of its own, at most ``--jobs`` at once among the
steps whose inputs are ready. The processes are forked from one server that has imported
TensorFlow, Keras and librosa but not started them (``multiprocessing``'s forkserver): each step
starts as a new ``python STEP.py`` would, without paying for those imports (about 5 s of CPU
each, 15% of ``make demo``). A step's output goes to ``WORK/steps/NAME.log``; a finished step leaves
``WORK/steps/NAME.done`` (its command and duration). A rerun skips a step whose outputs exist
and whose command is unchanged, unless a step it depends on ran again. ``--only ID`` runs the
steps of those methods and what they need; ``--dry-run`` prints the commands instead.
Each step's command is written by one small function below (``*_command``).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import re
import runpy
import shlex
import shutil
import signal
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args, get_origin

from data_processing import audio
from data_processing.files import PipelineError, read_json, run_cli, write_json

REPO = Path(__file__).resolve().parents[1]
TAIL_LINES = 20
POLL_SECONDS = 0.2
PRELOAD = ("tensorflow", "keras", "librosa", "pandas")
"""What the step server imports once for every step (importing is fork-safe; running is not)."""
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
REFERENCE_ROWS = ("ground truth", "mismatched truth", "mean pose (training split)")
"""The reference rows of every scored table (``evaluation.scoring.REFERENCES``)."""

# -- the table's schema: key -> type; keys in OPTIONAL may be left out -----------------------

TOP = {"extends": str, "work": str, "results": str, "methods": list, "speaker": dict,
       "datasets": dict, "representations": dict, "iva19": dict, "a2g": dict, "ha2g": dict,
       "iva19_table": dict, "a2g_table": dict, "fgd": dict, "report": dict, "genea": dict,
       "export": dict, "viewer": dict, "checks": list}
SPEAKER = {"dir": str, "files": int, "seconds": float, "seed": int}
DATASET = {"dir": str, "features": str, "fps": float, "n_context": int, "motion": str,
           "mel_preset": str, "split_seed": int, "ratios": list[float]}
REPRESENTATION = {"kind": str, "dim": int, "dataset": str, "epochs": int,
                  "learning_rate": float, "seed": int}
SETTINGS = {  # what a family section sets for its rows, and a row may override
    "iva19": {"epochs": int, "batch_size": int, "learning_rate": float, "seeds": list[int],
              "patience": int},
    "a2g": {"preset": str, "protocol": str, "steps": int, "seeds": list[int], "samples": int,
            "lookahead": int},
    "ha2g": {"preset": str, "epochs": int, "seeds": list[int], "samples": int},
    "mean_pose": {},
}
# family settings that may be left out
FAMILY_OPTIONAL = {"ha2g": {"epochs"}, "a2g": {"protocol", "lookahead"}}
SECTION = {"iva19": "iva19", "a2g": "a2g", "ha2g": "ha2g",
           "mean_pose": "iva19"}  # where a family's runs go
STOCHASTIC = ("a2g", "ha2g")  # families whose runs sample motions (predict.py --samples)
ROW = {"id": str, "family": str, "dataset": str, "title": str}
ROW_EXTRA = {"iva19": {"representation": str}, "a2g": {"variant": str},
             "ha2g": {"ablation": str}, "mean_pose": {}}
IVA19_TABLE = {"truth": str, "title": str, "methods": list[str]}
A2G_TABLE = {"methods": list[str], "eval_runs": int, "samples": int, "seed": int,
             "comparisons": list[list[str]]}
FGD = {"dir": str, "dataset": str, "seed": int}
REPORT = {"truth": str, "methods": list[str], "comparisons": list[list[str]],
          "segment": float}
GENEA = {"truth": str, "methods": list[str]}
CHECK = {"name": str, "table": str, "a": str, "b": str, "metric": str, "expect": str}
EXPECTATIONS = ("< 0", "> 0", "= 0", "record")
"""What a science check asserts of an interval (of ``a``, or of ``a - b``); ``record`` prints
and records the verdict without asserting it."""
CHECK_TABLES = ("report", "a2g_table")
EXPORT = {"held_out": str, "video": list[dict]}
PANEL = {"method": str, "title": str}
VIEWER = {"dir": str, "title": str}
OPTIONAL = {"extends", "representations", "iva19", "a2g", "ha2g", "iva19_table", "a2g_table",
            "fgd", "report", "genea", "export", "viewer", "patience", "steps", "representation",
            "ratios", "comparisons", "segment", "checks", "b", "table"}
SECTIONS = {"iva19_table": IVA19_TABLE, "a2g_table": A2G_TABLE, "fgd": FGD, "report": REPORT,
            "genea": GENEA, "export": EXPORT, "viewer": VIEWER}


@dataclass(frozen=True)
class Run:
    """One training run of a method: its directory name and seed (``None``: untrained)."""

    method: Method
    name: str
    seed: int | None

    @property
    def title(self) -> str:
        """The method's title, with the seed when the method has several."""
        several = len(self.method.settings.get("seeds", ())) > 1
        return f"{self.method.title} (seed {self.seed})" if several else self.method.title


@dataclass(frozen=True)
class Method:
    """A row of the table, with its family's settings and the row's own over them."""

    id: str
    family: str
    dataset: str
    title: str
    settings: dict
    representation: str | None = None
    variant: str | None = None
    ablation: str | None = None

    @property
    def runs(self) -> list[Run]:
        """One run per seed: directory ``ID``, or ``ID_seedK`` when there are several seeds."""
        seeds = self.settings.get("seeds", [None])
        if len(seeds) == 1:
            return [Run(self, self.id, seeds[0])]
        return [Run(self, f"{self.id}_seed{seed}", seed) for seed in seeds]


@dataclass(frozen=True)
class Table:
    """A checked experiment table; ``sections`` holds the optional ones that are present."""

    path: Path
    work: Path
    results: Path
    speaker: dict
    datasets: dict[str, dict]
    representations: dict[str, dict]
    families: dict[str, dict]
    methods: dict[str, Method]
    sections: dict[str, dict]

    def dataset_dir(self, name: str) -> Path:
        """Directory of dataset ``name``."""
        return self.work / self.datasets[name]["dir"]

    def runs_dir(self, family: str) -> Path:
        """Where the runs of ``family`` go (mean pose: with the IVA'19 runs)."""
        return self.work / self.families[SECTION[family]]["runs"]


# -- reading and checking a table ------------------------------------------------------------

def merged(base: dict, top: dict) -> dict:
    """``top`` over ``base``: tables merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = merged(base[key], value) if both else value
    return out


def read_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A TOML file, after the files it ``extends`` (relative to its directory)."""
    if path.resolve() in seen:
        raise PipelineError(f"{path}: extends itself (through {', '.join(map(str, seen))})")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as error:
        raise PipelineError(f"{path}: cannot read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise PipelineError(f"{path}: {error}") from error
    if "extends" not in raw:
        return raw
    if not isinstance(raw["extends"], str):
        raise PipelineError(f"{path}: extends: expected a file name")
    base = read_toml(path.parent / raw.pop("extends"), (*seen, path.resolve()))
    base.pop("extends", None)
    return merged(base, raw)


def _type_name(kind) -> str:
    if get_origin(kind) is list:
        return f"a list of {_type_name(get_args(kind)[0])}"
    return {str: "a string", int: "an integer", float: "a number", dict: "a table",
            list: "a list"}[kind]


def _fits(value, kind) -> bool:
    if get_origin(kind) is list:
        return isinstance(value, list) and all(_fits(v, get_args(kind)[0]) for v in value)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def checked(raw, schema: dict, where: str, optional=OPTIONAL) -> dict:
    """``raw`` if it is a table of ``schema``'s keys and types; else a one-line error.

    ``where`` is the table's key path (empty for the top level); keys in ``optional`` may be
    left out.
    """
    if not isinstance(raw, dict):
        raise PipelineError(f"{where}: expected a table")
    for key in raw:
        if key not in schema:
            raise PipelineError(f"{_key(where, key)}: unknown key (expected: "
                                f"{', '.join(schema)})")
    for key, kind in schema.items():
        if key not in raw and key not in optional:
            raise PipelineError(f"{_key(where, key)}: missing")
        if key in raw and not _fits(raw[key], kind):
            raise PipelineError(f"{_key(where, key)}: expected {_type_name(kind)}, "
                                f"got {raw[key]!r}")
    return raw


def _key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def choice(value: str, allowed, where: str) -> str:
    """``value`` if it is one of ``allowed``; else a one-line error."""
    if value not in allowed:
        raise PipelineError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}")
    return value


def named(names: dict, where: str) -> dict:
    """``names`` if every key can name a directory or file."""
    for name in names:
        if not NAME.fullmatch(name):
            raise PipelineError(f"{where}: {name!r} cannot name a directory "
                                "(letters, digits, _ . - only)")
    return names


def load_table(path) -> Table:
    """Read and check an experiment table; a :class:`PipelineError` names the file and key."""
    path = Path(path)
    raw = read_toml(path)
    try:
        return _table(path, checked(raw, TOP, ""))
    except PipelineError as error:
        raise PipelineError(f"{path}: {error}") from error


def _table(path: Path, raw: dict) -> Table:
    datasets = {name: _dataset(ds, f"datasets.{name}")
                for name, ds in named(raw["datasets"], "datasets").items()}
    families = {family: checked(raw[family], {"runs": str, **SETTINGS[family]}, family,
                                OPTIONAL | FAMILY_OPTIONAL.get(family, set()))
                for family in ("iva19", "a2g", "ha2g") if family in raw}
    representations = {
        name: _representation(rep, datasets, f"representations.{name}")
        for name, rep in named(raw.get("representations", {}), "representations").items()}
    methods: dict[str, Method] = {}
    for i, row in enumerate(raw["methods"]):
        method = _method(row, datasets, representations, families, f"methods[{i}]")
        if method.id in methods:
            raise PipelineError(f"methods[{i}].id: {method.id!r} appears twice")
        methods[method.id] = method
    sections = {key: checked(raw[key], schema, key)
                for key, schema in SECTIONS.items() if key in raw}
    _check_sections(sections, datasets, methods)
    if "checks" in raw:
        sections["checks"] = _checks(raw["checks"], sections, methods)
    return Table(path=path, work=Path(raw["work"]), results=Path(raw["results"]),
                 speaker=checked(raw["speaker"], SPEAKER, "speaker"), datasets=datasets,
                 representations=representations, families=families, methods=methods,
                 sections=sections)


def _dataset(raw, where: str) -> dict:
    from data_processing.representations import REPRESENTATIONS

    ds = checked(raw, DATASET, where)
    choice(ds["features"], sorted(audio.FEATURE_SETS), f"{where}.features")
    choice(ds["mel_preset"], sorted(audio.MEL_PRESETS), f"{where}.mel_preset")
    choice(ds["motion"], REPRESENTATIONS, f"{where}.motion")
    if "ratios" in ds and (len(ds["ratios"]) != 3 or min(ds["ratios"]) < 0):
        raise PipelineError(f"{where}.ratios: expected three numbers >= 0 (train, dev, test)")
    return ds


def _representation(raw, datasets: dict, where: str) -> dict:
    rep = checked(raw, REPRESENTATION, where)
    choice(rep["kind"], ("dae", "pca"), f"{where}.kind")
    choice(rep["dataset"], datasets, f"{where}.dataset")
    return rep


def _method(row, datasets, representations, families, where: str) -> Method:
    from gesture_vae.config import PRESETS, VARIANTS
    from ha2g.config import ABLATIONS
    from ha2g.config import PRESETS as HA2G_PRESETS

    if not isinstance(row, dict):
        raise PipelineError(f"{where}: expected a table")
    family = choice(row.get("family"), list(SETTINGS), f"{where}.family")
    checked(row, {**ROW, **ROW_EXTRA[family], **SETTINGS[family]}, where,
            OPTIONAL | set(SETTINGS[family]))
    named({row["id"]: None}, f"{where}.id")
    choice(row["dataset"], datasets, f"{where}.dataset")
    if SECTION[family] not in families:
        raise PipelineError(f"{where}.family: {family} rows need an [{SECTION[family]}] section")
    defaults = families.get(family, {})
    settings = {key: row.get(key, defaults.get(key)) for key in SETTINGS[family]
                if key in row or key in defaults}
    if "seeds" in SETTINGS[family] and not settings.get("seeds"):
        raise PipelineError(f"{where}.seeds: expected at least one seed")
    if family == "a2g":
        choice(row["variant"], list(VARIANTS), f"{where}.variant")
        choice(settings["preset"], list(PRESETS), f"{where}.preset")
    if family == "ha2g":
        choice(row["ablation"], list(ABLATIONS), f"{where}.ablation")
        choice(settings["preset"], list(HA2G_PRESETS), f"{where}.preset")
    if "representation" in row:
        choice(row["representation"], representations, f"{where}.representation")
    return Method(id=row["id"], family=family, dataset=row["dataset"], title=row["title"],
                  settings=settings, representation=row.get("representation"),
                  variant=row.get("variant"), ablation=row.get("ablation"))


def _check_sections(sections: dict, datasets: dict, methods: dict[str, Method]) -> None:
    families = {"iva19_table": ("mean_pose", "iva19"), "a2g_table": ("a2g",),
                "report": tuple(SETTINGS), "genea": tuple(SETTINGS)}
    for key, allowed in families.items():
        for i, method in enumerate(sections.get(key, {}).get("methods", ())):
            choice(method, methods, f"{key}.methods[{i}]")
            choice(methods[method].family, allowed, f"{key}.methods[{i}] ({method}) family")
    for key in ("iva19_table", "report", "genea"):
        if key in sections:
            choice(sections[key]["truth"], datasets, f"{key}.truth")
    if "fgd" in sections:
        choice(sections["fgd"]["dataset"], datasets, "fgd.dataset")
        named({sections["fgd"]["dir"]: None}, "fgd.dir")
    if "a2g_table" in sections:
        _check_a2g_table([methods[m] for m in sections["a2g_table"]["methods"]])
    for key in ("report", "a2g_table"):
        for i, pair in enumerate(sections.get(key, {}).get("comparisons", ())):
            if len(pair) != 2:
                raise PipelineError(f"{key}.comparisons[{i}]: expected [A, B]")
            for name in pair:
                choice(name, [*sections[key]["methods"], *REFERENCE_ROWS],
                       f"{key}.comparisons[{i}]")
    if "export" in sections:
        if "report" not in sections:
            raise PipelineError("export: needs a [report] section (its truth is exported)")
        for i, panel in enumerate(sections["export"]["video"]):
            checked(panel, PANEL, f"export.video[{i}]")
            choice(panel["method"], methods, f"export.video[{i}].method")
    if "viewer" in sections:
        if "report" not in sections:
            raise PipelineError("viewer: needs a [report] section (its methods and truth)")
        named({sections["viewer"]["dir"]: None}, "viewer.dir")


def _checks(raw: list, sections: dict, methods: dict[str, Method]) -> list[dict]:
    """The science checks, each naming rows of the table it reads (:data:`CHECK`)."""
    out = []
    for i, check in enumerate(raw):
        where = f"checks[{i}]"
        check = {"table": "report", **checked(check, CHECK, where)}
        choice(check["table"], [t for t in CHECK_TABLES if t in sections], f"{where}.table")
        choice(check["expect"], EXPECTATIONS, f"{where}.expect")
        rows = [*sections[check["table"]]["methods"], *REFERENCE_ROWS]
        for key in ("a", "b"):
            if key in check:
                choice(check[key], rows, f"{where}.{key}")
        out.append(check)
    return out


def _check_a2g_table(rows: list[Method]) -> None:
    """evaluation/a2g_metrics.py takes one dataset; its rows are named by variant."""
    if len({m.dataset for m in rows}) > 1:
        raise PipelineError("a2g_table.methods: every row must be on one dataset")
    if len({m.variant for m in rows}) < len(rows):
        raise PipelineError("a2g_table.methods: the table names rows by variant: one row each")


# -- steps -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One command of the plan.

    Parameters
    ----------
    name : str
        Unique; names the log and the stamp in ``WORK/steps``.
    command : list of str
        ``["python", SCRIPT, ARGS...]`` (run with this interpreter, ``SCRIPT`` relative to
        the repository), or a description of ``action``.
    outputs : tuple of Path
        The files or directories the command names as its outputs; the step is complete
        when they exist and its stamp (written when it succeeded) holds the same command
        (:func:`is_complete`).
    deps : tuple of str
        Steps that must finish first.
    method : str, optional
        The row the step belongs to (``--only``).
    action : callable, optional
        Run in this process instead of ``command``.
    """

    name: str
    command: list[str]
    outputs: tuple[Path, ...]
    deps: tuple[str, ...] = ()
    method: str | None = None
    action: Callable[[], None] | None = field(default=None, compare=False)

    @property
    def shown(self) -> str:
        """The command as a shell line."""
        return shlex.join(self.command)


def python(script: str, *args) -> list[str]:
    """A step command: ``python SCRIPT ARGS...``, every argument as text."""
    return ["python", script, *map(str, args)]


class Plan:
    """Steps in the order they are listed (and preferred); each one's deps come before it."""

    def __init__(self, table: Table):
        self.table = table
        self.steps: dict[str, Step] = {}

    def add(self, name: str, command: list[str], outputs, deps=(), method=None,
            action=None) -> str:
        """Add a step; its name (for the deps of later steps)."""
        missing = [d for d in deps if d not in self.steps]
        if name in self.steps or missing:
            raise AssertionError(f"step {name}: duplicate or unknown deps {missing}")
        self.steps[name] = Step(name, command, tuple(outputs), tuple(deps), method, action)
        return name


# -- the command of each step (one function each) --------------------------------------------

def speaker_command(t: Table) -> list[str]:
    """The demo speaker's recordings."""
    s = t.speaker
    return python("data_processing/make_demo_dataset.py", t.work / s["dir"], "--files",
                  s["files"], "--seconds", s["seconds"], "--seed", s["seed"])


def prepare_command(t: Table, name: str) -> list[str]:
    """Step 1: pair and split the recordings."""
    ds = t.datasets[name]
    ratios = ["--ratios", *ds["ratios"]] if "ratios" in ds else []
    return python("data_processing/prepare_data.py", t.work / t.speaker["dir"],
                  t.dataset_dir(name), "--seed", ds["split_seed"], *ratios)


def vectors_command(t: Table, name: str) -> list[str]:
    """Step 2: features, motion vectors, windows."""
    ds = t.datasets[name]
    return python("data_processing/create_vector.py", t.dataset_dir(name), ds["n_context"],
                  "--features", ds["features"], "--fps", ds["fps"], "--motion", ds["motion"],
                  "--mel-preset", ds["mel_preset"])


def representation_dir(t: Table, name: str) -> Path:
    """Directory of an IVA'19 representation."""
    return t.runs_dir("iva19") / "repr" / name


def learn_command(t: Table, name: str) -> list[str]:
    """Learn an IVA'19 motion representation (DAE or PCA)."""
    rep = t.representations[name]
    return python("motion_repr_learning/ae/learn_dataset_encoding.py",
                  t.dataset_dir(rep["dataset"]), "--chkpt-dir", representation_dir(t, name),
                  "--kind", rep["kind"], "--dim", rep["dim"], "--epochs", rep["epochs"],
                  "--learning-rate", rep["learning_rate"], "--seed", rep["seed"])


def encode_command(t: Table, name: str) -> list[str]:
    """Encode the representation's dataset."""
    chkpt = representation_dir(t, name)
    return python("motion_repr_learning/ae/encode_dataset.py",
                  t.dataset_dir(t.representations[name]["dataset"]), "--chkpt-dir", chkpt,
                  "--out", chkpt / "encoded")


def ground_truth_command(t: Table, truth: str) -> list[str]:
    """Test-file positions for the IVA'19 evaluation."""
    data = t.dataset_dir(truth)
    return python("helpers/convert_original.py", "-d", data / "test" / "labels", "-o",
                  t.runs_dir("iva19") / "original", "--data-dir", data)


def raw_predictions(t: Table, run: Run) -> Path:
    """IVA'19 motion vectors (positions and velocities) of the test files."""
    return t.runs_dir("iva19") / "predicted_raw" / run.name


def predictions(t: Table, run: Run) -> Path:
    """What the report and the BVH export read: positions (IVA'19) or samples (A2G)."""
    if run.method.family in STOCHASTIC:
        return t.runs_dir(run.method.family) / run.name / "test_samples"
    return t.runs_dir("iva19") / "predicted" / run.name


def mean_pose_command(t: Table, run: Run) -> list[str]:
    """The static mean pose on every test file."""
    return python("helpers/mean_pose.py", t.dataset_dir(run.method.dataset),
                  raw_predictions(t, run))


def iva19_model(t: Table, run: Run) -> Path:
    """The model directory train.py writes and predict.py reads."""
    return t.runs_dir("iva19") / "models" / run.name


def iva19_train_command(t: Table, run: Run) -> list[str]:
    """Train an IVA'19 speech encoder (on codes when the row has a representation)."""
    m, s = run.method, run.method.settings
    ds = t.datasets[m.dataset]
    rep = t.representations.get(m.representation)
    n_input = audio.feature_size(ds["features"], mel_preset=ds["mel_preset"])
    args = [iva19_model(t, run), s["epochs"], t.dataset_dir(m.dataset), n_input,
            "True" if rep else "False", *([rep["dim"]] if rep else []),
            "--batch-size", s["batch_size"], "--learning-rate", s["learning_rate"],
            "--seed", run.seed]
    if "patience" in s:
        args += ["--patience", s["patience"]]
    if rep:
        args += ["--encoded-dir", representation_dir(t, m.representation) / "encoded"]
    return python("train.py", *args)


def iva19_predict_command(t: Table, run: Run) -> list[str]:
    """Predict every test file's windows."""
    return python("predict.py", iva19_model(t, run),
                  t.dataset_dir(run.method.dataset) / "test_inputs", raw_predictions(t, run))


def strip_command(t: Table, run: Run) -> list[str]:
    """Positions only: what the IVA'19 evaluation and the report read."""
    return python("helpers/remove_velocity.py", "-g", raw_predictions(t, run), "-o",
                  predictions(t, run))


EVALUATION = {  # the IVA'19 evaluation: metric -> script and its options
    "ape": ("evaluation/calc_errors.py", ["-m", "ape"]),
    "mae": ("evaluation/calc_errors.py", ["-m", "mae"]),
    "jerk": ("evaluation/calc_jerk.py", ["-m", "jerk"]),
    "acceleration": ("evaluation/calc_jerk.py", ["-m", "acceleration"]),
    "velocity": ("evaluation/calc_distance.py", ["-m", "velocity", "-w", "0.05"]),
}


def evaluation_command(t: Table, script: str, metric: list[str], runs: list[Run]) -> list[str]:
    """One IVA'19 metric of every run of the table."""
    work = t.runs_dir("iva19")
    skeleton = t.dataset_dir(t.sections["iva19_table"]["truth"]) / "skeleton.json"
    return python(script, "-o", work / "original", "-p", work / "predicted", "--out",
                  work / "result", "--skeleton", skeleton, "-g", *[r.name for r in runs],
                  *metric)


def hellinger_command(t: Table, runs: list[Run]) -> list[str]:
    """Hellinger distance of the speed histograms."""
    return python("evaluation/hellinger.py", "--result-dir", t.runs_dir("iva19") / "result",
                  "-g", *[r.name for r in runs])


def iva19_table_command(t: Table) -> list[str]:
    """The IVA'19 comparison table."""
    work = t.runs_dir("iva19")
    return python("evaluation/collect_results.py", "table", work / "result",
                  work / "labels.csv", t.results / "iva19_table.csv",
                  t.results / "iva19_table.md", "--title", t.sections["iva19_table"]["title"])


def a2g_run_dir(t: Table, run: Run) -> Path:
    """An Audio2Gestures run directory."""
    return t.runs_dir("a2g") / run.name


def a2g_train_command(t: Table, run: Run) -> list[str]:
    """Train an Audio2Gestures variant."""
    s = run.method.settings
    steps = ["--steps", s["steps"]] if "steps" in s else []
    protocol = ["--protocol", s["protocol"]] if "protocol" in s else []
    lookahead = ["--lookahead", s["lookahead"]] if "lookahead" in s else []
    return python("gesture_vae/train.py", t.dataset_dir(run.method.dataset),
                  a2g_run_dir(t, run), "--variant", run.method.variant, "--preset",
                  s["preset"], "--seed", run.seed, *protocol, *steps, *lookahead)


def ha2g_run_dir(t: Table, run: Run) -> Path:
    """A HA2G run directory."""
    return t.runs_dir("ha2g") / run.name


def ha2g_train_command(t: Table, run: Run) -> list[str]:
    """Train a HA2G ablation row (``ha2g/train.py``)."""
    s = run.method.settings
    epochs = ["--epochs", s["epochs"]] if "epochs" in s else []
    return python("ha2g/train.py", t.dataset_dir(run.method.dataset), ha2g_run_dir(t, run),
                  "--preset", s["preset"], "--ablation", run.method.ablation, "--seed",
                  run.seed, *epochs)


def run_dir(t: Table, run: Run) -> Path:
    """The trained run of a sampling family (A2G, HA2G)."""
    return (ha2g_run_dir if run.method.family == "ha2g" else a2g_run_dir)(t, run)


def a2g_samples_command(t: Table, run: Run) -> list[str]:
    """Several samples of every held-out file, for the report (A2G and HA2G runs)."""
    return python("predict.py", run_dir(t, run),
                  t.dataset_dir(run.method.dataset) / "test" / "inputs", predictions(t, run),
                  "--format", "npy", "--samples", run.method.settings["samples"],
                  "--seed", run.seed)


def sampling_seeds(t: Table, method: Method) -> range:
    """Seeds of a row's sampling runs in the Audio2Gestures table: ``seed``, ``seed + 1``, ...

    ``eval_runs = 0``: no sampling runs of their own; every training seed's report samples
    are its one run (:func:`a2g_sampling_dirs`).
    """
    sec = t.sections["a2g_table"]
    if sec["eval_runs"] == 0:
        return range(0)
    return range(sec["seed"], sec["seed"] + sec["eval_runs"])


def sampling_dir(t: Table, run: Run, seed: int) -> Path:
    """One sampling run of the Audio2Gestures table."""
    return a2g_run_dir(t, run) / "eval" / f"seed{seed}"


def a2g_sampling_command(t: Table, run: Run, seed: int) -> list[str]:
    """A sampling run of the Audio2Gestures table: samples of every held-out file."""
    return python("predict.py", a2g_run_dir(t, run),
                  t.dataset_dir(run.method.dataset) / "test" / "inputs",
                  sampling_dir(t, run, seed), "--format", "npy", "--samples",
                  t.sections["a2g_table"]["samples"], "--seed", seed)


def a2g_sampling_dirs(t: Table, run: Run) -> list[Path]:
    """The sampling runs of one training run in the Audio2Gestures table."""
    seeds = sampling_seeds(t, run.method)
    return [sampling_dir(t, run, k) for k in seeds] if len(seeds) else [predictions(t, run)]


def a2g_table_command(t: Table, methods: list[Method]) -> list[str]:
    """The Audio2Gestures ablation table, rows named by variant, with the hidden modes.

    One ``--method VARIANT DIRS...`` per training seed (a2g_metrics.py: the same name again is
    another seed), then the table's comparisons and the checks' pairs.
    """
    args = [arg for m in methods for r in m.runs
            for arg in ("--method", m.variant, *a2g_sampling_dirs(t, r))]
    return python("evaluation/a2g_metrics.py", t.dataset_dir(methods[0].dataset), *args,
                  "--out", t.results / "a2g_table", "--modes",
                  t.work / t.speaker["dir"] / "hidden_modes.json",
                  *compare_args(t, "a2g_table"))


def row_name(t: Table, table: str, name: str) -> str:
    """How a table names a row: the report by title, the A2G table by variant."""
    if name in REFERENCE_ROWS:
        return name
    return t.methods[name].title if table == "report" else t.methods[name].variant


def compared_pairs(t: Table, table: str) -> list[tuple[str, str]]:
    """The pairs a table compares (method ids or reference rows): its own, then the checks'."""
    pairs = [tuple(p) for p in t.sections[table].get("comparisons", ())]
    for check in t.sections.get("checks", ()):
        pair = (check["a"], check.get("b"))
        if check["table"] == table and pair[1] is not None and pair not in pairs:
            pairs.append(pair)
    return pairs


def compare_args(t: Table, table: str) -> list[str]:
    """``--compare A B`` for every pair of :func:`compared_pairs`, named as the table names."""
    return [arg for a, b in compared_pairs(t, table)
            for arg in ("--compare", row_name(t, table, a), row_name(t, table, b))]


def fgd_command(t: Table) -> list[str]:
    """Train the FGD feature extractor."""
    sec = t.sections["fgd"]
    return python("evaluation/fgd.py", "train", t.dataset_dir(sec["dataset"]),
                  t.work / sec["dir"], "--seed", sec["seed"])


def report_command(t: Table, runs: list[Run]) -> list[str]:
    """Every method against the ground truth, every metric; a method's seeds share its title."""
    sec = t.sections["report"]
    fgd = ["--fgd", t.work / t.sections["fgd"]["dir"]] if "fgd" in t.sections else []
    segment = ["--segment", sec["segment"]] if "segment" in sec else []
    methods = [arg for r in runs for arg in
               ("--method", r.method.title, predictions(t, r), t.dataset_dir(r.method.dataset))]
    return python("evaluation/report.py", "--truth", f"{t.dataset_dir(sec['truth'])}:test",
                  *fgd, "--out", t.results / "report", *segment, *methods,
                  *compare_args(t, "report"))


def genea_command(t: Table, runs: list[Run]) -> list[str]:
    """The GENEA numerical evaluation of every run (one row each), FGD with the extractor."""
    sec = t.sections["genea"]
    fgd = ["--fgd", t.work / t.sections["fgd"]["dir"]] if "fgd" in t.sections else []
    methods = [arg for r in runs for arg in
               ("--method", r.title, predictions(t, r), t.dataset_dir(r.method.dataset))]
    return python("evaluation/genea_eval.py", "--natural",
                  f"{t.dataset_dir(sec['truth'])}:test", *methods, *fgd, "--out",
                  t.results / "genea")


def held_out(t: Table, kind: str) -> Path:
    """The held-out file's ``inputs`` (.wav) or ``labels`` (.bvh) in the report's truth."""
    name = t.sections["export"]["held_out"] + (".wav" if kind == "inputs" else ".bvh")
    return t.dataset_dir(t.sections["report"]["truth"]) / "test" / kind / name


def bvh_path(t: Table, name: str) -> Path:
    """``RESULTS/bvh/NAME.bvh``."""
    return t.results / "bvh" / f"{name}.bvh"


def bvh_command(t: Table, run: Run) -> list[str]:
    """A method's motion for the held-out file as BVH (its first seed's run)."""
    out = bvh_path(t, run.method.id)
    if run.method.family in STOCHASTIC:
        return python("predict.py", run_dir(t, run), held_out(t, "inputs"), out,
                      "--seed", run.seed)
    motion = predictions(t, run) / f"{t.sections['export']['held_out']}.txt"
    return python("helpers/to_bvh.py", motion, out, "--data", t.dataset_dir(run.method.dataset))


def video_command(t: Table) -> list[str]:
    """The ground truth beside the video's methods, with the speech."""
    panels = t.sections["export"]["video"]
    return python("helpers/render_video.py", bvh_path(t, "ground_truth"),
                  *[bvh_path(t, p["method"]) for p in panels], "--titles", "ground truth",
                  *[p["title"] for p in panels], "--audio", held_out(t, "inputs"), "--out",
                  video_path(t))


def video_path(t: Table) -> Path:
    """``RESULTS/demo_HELD_OUT.mp4``."""
    return t.results / f"demo_{t.sections['export']['held_out']}.mp4"


# -- the plan --------------------------------------------------------------------------------

def build_plan(t: Table) -> list[Step]:
    """Every step of the table, in the order of the demo."""
    plan = Plan(t)
    speaker = plan.add("speaker", speaker_command(t), [t.work / t.speaker["dir"]])
    data = {name: _plan_dataset(plan, name, speaker) for name in t.datasets}
    reps = {name: _plan_representation(plan, name, data) for name in t.representations}
    made = {}  # run name -> the step that writes its predictions
    for method in t.methods.values():
        for run in method.runs:
            made[run.name] = FAMILIES[method.family](plan, run, data, reps)
    if "iva19_table" in t.sections:
        _plan_iva19_table(plan, data, made)
    if "a2g_table" in t.sections:
        _plan_a2g_table(plan, made, speaker)
    if "fgd" in t.sections:
        fgd = t.work / t.sections["fgd"]["dir"]
        plan.add("fgd", fgd_command(t), [fgd], [data[t.sections["fgd"]["dataset"]]])
    if "report" in t.sections:
        _plan_report(plan, data, made)
    if "genea" in t.sections:
        _plan_genea(plan, data, made)
    if "export" in t.sections:
        _plan_export(plan, data, made)
    if "viewer" in t.sections:
        _plan_viewer(plan, data, made)
    if "checks" in t.sections:
        deps = [f"{table}" if table == "report" else "a2g-table"
                for table in dict.fromkeys(c["table"] for c in t.sections["checks"])]
        out = t.results / "science_checks.md"
        plan.add("science-checks", ["check", str(out)], [out], deps,
                 action=lambda: run_science_checks(t))
    return _without_unused_inputs(plan.steps)


def _without_unused_inputs(steps: dict[str, Step]) -> list[Step]:
    """The steps less the datasets and representations that no other step needs.

    A table that extends another keeps its datasets and representations (``demo.toml`` runs a
    few rows of ``demo_sweep.toml``); only what its methods use is built.
    """
    steps = dict(steps)
    while True:
        used = {dep for step in steps.values() for dep in step.deps}
        unused = [name for name in steps if name not in used
                  and name.split("-")[0] in {"prepare", "vectors", "learn", "encode"}]
        if not unused:
            return list(steps.values())
        for name in unused:
            del steps[name]


def _plan_dataset(plan: Plan, name: str, speaker: str) -> str:
    out = [plan.table.dataset_dir(name)]
    prepare = plan.add(f"prepare-{name}", prepare_command(plan.table, name), out, [speaker])
    return plan.add(f"vectors-{name}", vectors_command(plan.table, name), out, [prepare])


def _plan_representation(plan: Plan, name: str, data: dict) -> str:
    t, chkpt = plan.table, representation_dir(plan.table, name)
    learn = plan.add(f"learn-{name}", learn_command(t, name), [chkpt],
                     [data[t.representations[name]["dataset"]]])
    return plan.add(f"encode-{name}", encode_command(t, name), [chkpt / "encoded"], [learn])


def _plan_mean_pose(plan: Plan, run: Run, data: dict, reps: dict) -> str:
    t, m = plan.table, run.method.id
    made = plan.add(f"predict-{run.name}", mean_pose_command(t, run),
                    [raw_predictions(t, run)], [data[run.method.dataset]], m)
    return plan.add(f"strip-{run.name}", strip_command(t, run), [predictions(t, run)], [made], m)


def _plan_iva19(plan: Plan, run: Run, data: dict, reps: dict) -> str:
    t, m = plan.table, run.method
    deps = [data[m.dataset], *([reps[m.representation]] if m.representation else [])]
    train = plan.add(f"train-{run.name}", iva19_train_command(t, run), [iva19_model(t, run)],
                     deps, m.id)
    made = plan.add(f"predict-{run.name}", iva19_predict_command(t, run),
                    [raw_predictions(t, run)], [train], m.id)
    return plan.add(f"strip-{run.name}", strip_command(t, run), [predictions(t, run)], [made],
                    m.id)


def _plan_a2g(plan: Plan, run: Run, data: dict, reps: dict) -> str:
    t, m = plan.table, run.method
    train = plan.add(f"train-{run.name}", a2g_train_command(t, run),
                     [a2g_run_dir(t, run)], [data[m.dataset]], m.id)
    return plan.add(f"samples-{run.name}", a2g_samples_command(t, run), [predictions(t, run)],
                    [train], m.id)


def _plan_ha2g(plan: Plan, run: Run, data: dict, reps: dict) -> str:
    t, m = plan.table, run.method
    train = plan.add(f"train-{run.name}", ha2g_train_command(t, run),
                     [ha2g_run_dir(t, run)], [data[m.dataset]], m.id)
    return plan.add(f"samples-{run.name}", a2g_samples_command(t, run), [predictions(t, run)],
                    [train], m.id)


FAMILIES = {"mean_pose": _plan_mean_pose, "iva19": _plan_iva19, "a2g": _plan_a2g,
            "ha2g": _plan_ha2g}


def _runs(t: Table, section: str) -> list[Run]:
    return [run for m in t.sections[section]["methods"] for run in t.methods[m].runs]


def _plan_iva19_table(plan: Plan, data: dict, made: dict) -> None:
    t = plan.table
    runs = _runs(t, "iva19_table")
    work = t.runs_dir("iva19")
    step = plan.add("ground-truth", ground_truth_command(t, t.sections["iva19_table"]["truth"]),
                    [work / "original"], [data[t.sections["iva19_table"]["truth"]]])
    deps = [step, *(made[r.name] for r in runs)]
    for name, (script, metric) in EVALUATION.items():
        step = plan.add(f"evaluate-{name}", evaluation_command(t, script, metric, runs),
                        [work / "result"], deps)
        deps = [step]
    step = plan.add("evaluate-hellinger", hellinger_command(t, runs), [work / "result"], deps)
    labels = work / "labels.csv"
    names = [r.name for r in runs]
    written = plan.add("labels", ["write", str(labels), *names], [labels],
                       [data[r.method.dataset] for r in runs] + [made[n] for n in names],
                       action=lambda: write_labels(t, runs, labels))
    plan.add("iva19-table", iva19_table_command(t),
             [t.results / "iva19_table.csv", t.results / "iva19_table.md"], [step, written])


def _plan_a2g_table(plan: Plan, made: dict, speaker: str) -> None:
    t = plan.table
    deps = [speaker]
    for run in _runs(t, "a2g_table"):
        for seed in sampling_seeds(t, run.method):
            deps.append(plan.add(f"sampling-{run.name}-seed{seed}",
                                 a2g_sampling_command(t, run, seed),
                                 [sampling_dir(t, run, seed)], [f"train-{run.name}"]))
    methods = [t.methods[m] for m in t.sections["a2g_table"]["methods"]]
    if t.sections["a2g_table"]["eval_runs"] == 0:  # the report's samples are the runs
        deps += [made[r.name] for m in methods for r in m.runs]
    plan.add("a2g-table", a2g_table_command(t, methods),
             [t.results / "a2g_table.md", t.results / "a2g_table.csv"], deps)


def _plan_report(plan: Plan, data: dict, made: dict) -> None:
    t, runs = plan.table, _runs(plan.table, "report")
    deps = [data[t.sections["report"]["truth"]], *(made[r.name] for r in runs)]
    plan.add("report", report_command(t, runs), [t.results / "report.md"],
             deps + (["fgd"] if "fgd" in t.sections else []))


def _plan_genea(plan: Plan, data: dict, made: dict) -> None:
    t, runs = plan.table, _runs(plan.table, "genea")
    deps = [data[t.sections["genea"]["truth"]], *(made[r.name] for r in runs)]
    plan.add("genea", genea_command(t, runs), [t.results / "genea.md", t.results / "genea.csv"],
             deps + (["fgd"] if "fgd" in t.sections else []))


def _plan_export(plan: Plan, data: dict, made: dict) -> None:
    t = plan.table
    truth, gt = held_out(t, "labels"), bvh_path(t, "ground_truth")
    steps = {"ground_truth": plan.add(
        "bvh-ground_truth", ["cp", str(truth), str(gt)], [gt],
        [data[t.sections["report"]["truth"]]], action=lambda: copy_file(truth, gt))}
    for method in t.methods.values():
        run = method.runs[0]  # one BVH per method: its first seed
        source = f"train-{run.name}" if method.family in STOCHASTIC else made[run.name]
        steps[method.id] = plan.add(f"bvh-{method.id}", bvh_command(t, run),
                                    [bvh_path(t, method.id)], [source], method.id)
    panels = [p["method"] for p in t.sections["export"]["video"]]
    plan.add("video", video_command(t), [video_path(t)],
             [steps["ground_truth"], *(steps[name] for name in panels)])


def _plan_viewer(plan: Plan, data: dict, made: dict) -> None:
    t = plan.table
    runs = [t.methods[m].runs[0] for m in t.sections["report"]["methods"]]  # first seeds
    out = viewer_path(t)
    deps = [data[t.sections["report"]["truth"]], *(made[r.name] for r in runs), "report"]
    plan.add("viewer", ["write", str(out), *(r.method.title for r in runs)], [out], deps,
             action=lambda: write_viewer(t, runs, out.parent))


# -- in-process steps ------------------------------------------------------------------------

def viewer_path(t: Table) -> Path:
    """``RESULTS/<viewer.dir>/index.html``."""
    return t.results / t.sections["viewer"]["dir"] / "index.html"


def write_viewer(t: Table, runs: list[Run], out_dir: Path) -> None:
    """The browser viewer: every held-out file, its truth and speech, every report method.

    Stochastic methods bring all their report samples; the report's table and plots go beside.
    """
    from data_processing.dataset import DatasetMeta
    from data_processing.motion import load_samples, match_ids, motion_files
    from helpers.viewer import build_viewer, markdown_html

    test = t.dataset_dir(t.sections["report"]["truth"]) / "test"
    truth = motion_files(test / "labels")
    motions = {i: {"ground truth": load_samples(path)} for i, path in truth.items()}
    for run in runs:
        data = t.dataset_dir(run.method.dataset)
        meta = DatasetMeta.load(data)
        files = match_ids(truth, motion_files(predictions(t, run)), predictions(t, run))
        for file_id, path in zip(truth, files):
            motions[file_id][run.method.title] = load_samples(path, dataset=meta)
    report = t.results / "report.md"
    build_viewer(out_dir, motions=motions,
                 audio={i: test / "inputs" / f"{i}.wav" for i in truth},
                 title=t.sections["viewer"]["title"],
                 table_html=markdown_html(report.read_text(encoding="utf-8"), base=report.parent))


CHECK_TOLERANCE = 1e-9  # an interval within this of 0 on both sides is "= 0"


def interval_verdict(low: float, high: float) -> str:
    """``> 0``, ``< 0``, ``= 0`` (a point at 0), ``includes 0`` or ``-`` (missing)."""
    if not (low == low and high == high):  # NaN
        return "-"
    if low > CHECK_TOLERANCE:
        return "> 0"
    if high < -CHECK_TOLERANCE:
        return "< 0"
    if low >= -CHECK_TOLERANCE and high <= CHECK_TOLERANCE:
        return "= 0"
    return "includes 0"


def science_checks(checks: list[dict], intervals: dict, differences: dict) -> list[dict]:
    """Each check's interval, verdict and whether it holds.

    Parameters
    ----------
    checks : list of dict
        ``name``, ``table``, ``a``, optional ``b``, ``metric``, ``expect`` (one of
        :data:`EXPECTATIONS`), ``a`` and ``b`` as the table names its rows.
    intervals : dict
        ``table -> row -> metric -> (mean, lo, hi)``.
    differences : dict
        ``table -> (a, b) -> metric -> (mean, lo, hi)`` of ``a - b`` (paired).

    Returns
    -------
    list of dict
        Per check: its keys plus ``subject``, ``mean``, ``lo``, ``hi``, ``verdict`` and
        ``passed`` (``record`` checks always pass).
    """
    out = []
    for check in checks:
        table, metric = check["table"], check["metric"]
        if check.get("b") is None:
            subject, source = check["a"], intervals.get(table, {}).get(check["a"], {})
        else:
            subject = f"{check['a']} − {check['b']}"
            source = differences.get(table, {}).get((check["a"], check["b"]), {})
        if metric not in source:
            raise PipelineError(f"science check {check['name']!r}: no {metric} of {subject} "
                                f"in the {table} results")
        mean, low, high = source[metric]
        verdict = interval_verdict(low, high)
        out.append({**check, "subject": subject, "mean": mean, "lo": low, "hi": high,
                    "verdict": verdict,
                    "passed": check["expect"] == "record" or verdict == check["expect"]})
    return out


def _read_rows(path: Path, index: str) -> list[dict]:
    if not path.is_file():
        raise PipelineError(f"{path}: no such file (the science checks read it)")
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if row.get(index, "") != ""]


def _number(text: str) -> float:
    return float(text) if text not in ("", None) else float("nan")


def table_results(t: Table, table: str) -> tuple[dict, dict]:
    """``(intervals, differences)`` of a written table (:func:`science_checks`' inputs)."""
    base = t.results / table
    index, mean = ("method", "") if table == "report" else ("variant", "_avg")
    intervals = {}
    for row in _read_rows(base.with_suffix(".csv"), index):
        metrics = {key[: -len("_lo")] for key in row if key.endswith("_lo")}
        intervals[row[index]] = {m: (_number(row[m + mean]), _number(row[m + "_lo"]),
                                     _number(row[m + "_hi"])) for m in metrics}
    differences: dict = {}
    for row in _read_rows(base.with_name(base.name + "_comparisons.csv"), "a"):
        differences.setdefault((row["a"], row["b"]), {})[row["metric"]] = (
            _number(row["difference"]), _number(row["lo"]), _number(row["hi"]))
    return intervals, differences


def run_science_checks(t: Table) -> list[dict]:
    """The table's science checks on its written results: ``RESULTS/science_checks.{md,csv}``.

    Every verdict is printed and recorded; a check whose ``expect`` the interval does not
    show fails the step with one line naming every failed check.
    """
    checks = [{**c, "a": row_name(t, c["table"], c["a"]),
               **({"b": row_name(t, c["table"], c["b"])} if "b" in c else {})}
              for c in t.sections["checks"]]
    results = {table: table_results(t, table) for table in dict.fromkeys(c["table"]
                                                                         for c in checks)}
    outcome = science_checks(checks, {k: v[0] for k, v in results.items()},
                             {k: v[1] for k, v in results.items()})
    lines = ["# Science checks", "", "| check | table | interval of | metric | mean [95% "
             "interval] | verdict | expected | result |", "|---|---|---|---|---:|---|---|---|"]
    for r in outcome:
        result = "recorded" if r["expect"] == "record" else ("pass" if r["passed"] else "FAIL")
        lines.append(f"| {r['name']} | {r['table']} | {r['subject']} | {r['metric']} | "
                     f"{r['mean']:.4g} [{r['lo']:.4g}, {r['hi']:.4g}] | {r['verdict']} | "
                     f"{r['expect']} | {result} |")
        print(f"science check {r['name']}: {r['subject']} {r['metric']} {r['mean']:.4g} "
              f"[{r['lo']:.4g}, {r['hi']:.4g}] {r['verdict']} (expected {r['expect']}): "
              f"{result}", flush=True)
    out = t.results / "science_checks.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "\n".join(lines) + "\n")
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(outcome[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(outcome)
    failed = [r for r in outcome if not r["passed"]]
    if failed:
        raise PipelineError("science checks failed: " + "; ".join(
            f"{r['name']} ({r['subject']} {r['metric']} [{r['lo']:.4g}, {r['hi']:.4g}] is "
            f"{r['verdict']}, expected {r['expect']})" for r in failed) + f" (see {out})")
    return outcome


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file (never half a file)."""
    tmp = path.with_name(f".partial-{path.name}")
    tmp.write_text(text)
    tmp.replace(path)


def iva19_labels(t: Table, run: Run) -> dict:
    """A run's label columns in the IVA'19 table (``dim``: the motion size, or the codes')."""
    m = run.method
    if m.family == "mean_pose":
        return {"features": "-", "model": "mean pose", "representation": "none", "dim": None}
    rep = t.representations.get(m.representation, {"kind": "none", "dim": None})
    model = {"none": "baseline", "dae": "proposed", "pca": "PCA reference"}[rep["kind"]]
    return {"features": t.datasets[m.dataset]["features"], "model": model,
            "representation": rep["kind"], "dim": rep["dim"]}


def write_labels(t: Table, runs: list[Run], path: Path) -> None:
    """``labels.csv`` of collect_results.py: labels and training seconds of every run."""
    from data_processing.dataset import DatasetMeta

    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["name", "features", "model", "representation", "dim", "seconds"])
        for run in runs:
            labels = iva19_labels(t, run)
            if labels["dim"] is None:
                labels["dim"] = DatasetMeta.load(t.dataset_dir(run.method.dataset)).output_size
            out.writerow([run.name, *labels.values(), _seconds(t, run)])


def _seconds(t: Table, run: Run) -> int:
    """Seconds of the run's training and prediction (0 for the mean pose), from the stamps."""
    if run.method.family == "mean_pose":
        return 0
    stamps = [stamp_path(t, f"{kind}-{run.name}") for kind in ("train", "predict", "strip")]
    return round(sum(read_json(p)["seconds"] for p in stamps if p.is_file()))


def copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (a one-line error when it is missing)."""
    if not source.is_file():
        raise PipelineError(f"{source}: no such file")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


# -- running ---------------------------------------------------------------------------------

def stamp_path(t: Table, name: str) -> Path:
    """``WORK/steps/NAME.done``: the command and seconds of a finished step."""
    return t.work / "steps" / f"{name}.done"


def is_complete(t: Table, step: Step) -> bool:
    """Whether the step last finished with the same command and its outputs are still its own.

    An output file newer than the stamp was written by something else (another table writing
    the same results, say), so the step runs again.
    """
    stamp = stamp_path(t, step.name)
    if not stamp.is_file() or read_json(stamp).get("command") != step.command:
        return False
    written = stamp.stat().st_mtime
    return all(p.is_dir() or (p.is_file() and p.stat().st_mtime <= written)
               for p in step.outputs)


def selected(steps: list[Step], only: list[str] | None, t: Table) -> list[Step]:
    """The steps of the methods in ``only`` and every step they need (all when ``None``)."""
    if only is None:
        return steps
    for method in only:
        choice(method, t.methods, "--only")
    keep = {s.name for s in steps if s.method in only}
    for step in reversed(steps):
        if step.name in keep:
            keep.update(step.deps)
    return [s for s in steps if s.name in keep]


def dry_run(t: Table, steps: list[Step]) -> None:
    """Print the commands; those a run would skip are marked ``# complete:``."""
    rerun: set[str] = set()
    for step in steps:
        if is_complete(t, step) and not rerun & set(step.deps):
            print(f"# complete: {step.shown}")
        else:
            rerun.add(step.name)
            print(step.shown)


class Runner:
    """Runs the steps, at most ``jobs`` processes at once, each when its deps are done."""

    def __init__(self, t: Table, steps: list[Step], jobs: int):
        self.t, self.jobs, self.pending = t, jobs, list(steps)
        self.total, self.start = len(steps), time.monotonic()
        self.index = {s.name: i + 1 for i, s in enumerate(steps)}
        self.done: set[str] = set()
        self.ran: set[str] = set()
        self.running: dict[str, tuple[Step, multiprocessing.Process, float]] = {}
        self.env = child_env()
        self.processes = step_processes(self.env)

    def say(self, step: Step, text: str) -> None:
        """One progress line."""
        elapsed = time.monotonic() - self.start
        print(f"[{elapsed:5.0f}s] {self.index[step.name]}/{self.total} {text}", flush=True)

    def run(self) -> None:
        """Run everything; on a failure, stop the others and raise."""
        try:
            while self.pending or self.running:
                self._start_ready()
                self._reap()
                if self.running:
                    time.sleep(POLL_SECONDS)
        finally:
            for _, process, _ in self.running.values():
                process.terminate()
                process.join()

    def _start_ready(self) -> None:
        for step in list(self.pending):
            if len(self.running) >= self.jobs:
                return
            if not all(d in self.done for d in step.deps):
                continue
            self.pending.remove(step)
            if is_complete(self.t, step) and not self.ran & set(step.deps):
                self.say(step, f"skip {step.name} (complete)")
                self.done.add(step.name)
            elif step.action is not None:
                self.say(step, f"{step.name}: {step.shown}")
                began = time.monotonic()
                step.action()
                self._finish(step, began)
            else:
                self._launch(step)

    def _launch(self, step: Step) -> None:
        self.say(step, f"{step.name}: {step.shown}")
        log = log_path(self.t, step.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {step.shown}\n")
        process = self.processes.Process(target=run_step_script, name=step.name, args=(
            str(REPO / step.command[1]), step.command[2:], str(log), self.env))
        process.start()
        self.running[step.name] = (step, process, time.monotonic())

    def _reap(self) -> None:
        for name, (step, process, began) in list(self.running.items()):
            if process.exitcode is None:
                continue
            del self.running[name]
            if process.exitcode != 0:
                self._fail(step, process.exitcode)
            self._finish(step, began)

    def _finish(self, step: Step, began: float) -> None:
        seconds = time.monotonic() - began
        write_json(stamp_path(self.t, step.name), {"command": step.command, "seconds": seconds})
        self.done.add(step.name)
        self.ran.add(step.name)
        self.say(step, f"done {step.name} ({seconds:.0f} s)")

    def _fail(self, step: Step, status: int) -> None:
        log = log_path(self.t, step.name)
        tail = log.read_text(errors="replace").splitlines()[-TAIL_LINES:]
        print("\n".join([f"---- last lines of {log}", *tail, "----"]), file=sys.stderr)
        how = (f"was killed by {signal.Signals(-status).name}" if status < 0
               else f"failed with exit status {status}")
        raise PipelineError(f"step {step.name} {how} (log: {log}): {step.shown}")


def log_path(t: Table, name: str) -> Path:
    """``WORK/steps/NAME.log``: a step's output."""
    return t.work / "steps" / f"{name}.log"


def child_env() -> dict:
    """The steps' environment: this checkout's packages first, TensorFlow's C++ chatter off."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def step_processes(env: dict) -> multiprocessing.context.BaseContext:
    """Processes forked from a server started in ``env`` that has imported :data:`PRELOAD`.

    The server imports and forks, but never runs TensorFlow (whose threads do not survive a
    fork), so every step initialises TensorFlow itself, as a new process does.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = env["TF_CPP_MIN_LOG_LEVEL"]  # read as TF is imported
    if sys.path[1:2] != [str(REPO)]:  # the server's path is this one: this checkout first
        sys.path.insert(1, str(REPO))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def run_step_script(script: str, args: list[str], log: str, env: dict) -> None:
    """In a step process: ``python SCRIPT ARGS`` with ``env``, its output appended to ``log``.

    The exit status is the script's (``sys.exit``; 1 with a traceback for an uncaught error).
    """
    os.environ.clear()
    os.environ.update(env)
    with open(log, "a") as out:
        os.dup2(out.fileno(), sys.stdout.fileno())
        os.dup2(out.fileno(), sys.stderr.fileno())
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(script)  # then REPO (step_processes), as PYTHONPATH=REPO does
    runpy.run_path(script, run_name="__main__")


def summary(t: Table) -> list[str]:
    """Where the results are."""
    lines = []
    if "report" in t.sections:
        lines.append(f"report:  {t.results / 'report.md'} (+ .csv, plots)")
    tables = [t.results / f"{key}.md" for key in ("iva19_table", "a2g_table", "genea")
              if key in t.sections]
    if tables:
        lines.append("tables:  " + ", ".join(map(str, tables)))
    if "export" in t.sections:
        lines.append(f"BVH:     {t.results / 'bvh'}/*.bvh (held-out file "
                     f"{t.sections['export']['held_out']})")
        lines.append(f"video:   {video_path(t)}")
    if "viewer" in t.sections:
        lines.append(f"viewer:  {viewer_path(t)} (open it in a browser)")
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", type=Path, help="experiment table (TOML)")
    parser.add_argument("--only", nargs="+", metavar="ID",
                        help="run these methods' steps and what they need")
    parser.add_argument("--jobs", type=int, default=2,
                        help="steps run at once (default 2: much of a step is single-threaded)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands; a finished step is marked # complete")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    table = load_table(args.table)
    steps = selected(build_plan(table), args.only, table)
    if args.dry_run:
        dry_run(table, steps)
        return 0
    began = time.monotonic()
    Runner(table, steps, args.jobs).run()
    print(f"{args.table} done in {time.monotonic() - began:.0f} s", *summary(table), sep="\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
