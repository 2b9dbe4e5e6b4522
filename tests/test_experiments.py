"""The experiment tables and their runner (helpers/run_experiments.py), without training.

The demo's plan is checked against the commands the former bash scripts ran (demo.sh,
iva19_compare.sh, a2g_ablation.sh), every command against its step's own parser, and the
runner's scheduling, resume and failure report on stand-in steps.
"""

import csv
import importlib
import os
import re
import subprocess
import sys
import time

import pytest

from data_processing.files import PipelineError, write_json
from helpers import run_experiments as rx
from tests import iva19_helpers as shared
from tests.conftest import REPO

TABLES = REPO / "example_scripts" / "experiments"
SWEEP, DEMO, FULL = (TABLES / f"{name}.toml" for name in ("demo_sweep", "demo", "demo_full"))
IVA = "demo/iva19_compare"
IVA19_IDS = ["mean_pose", "baseline_MFCC", "dae8_MFCC", "dae16_MFCC", "dae32_MFCC",
             "pca8_MFCC", "pca16_MFCC", "pca32_MFCC", "baseline_Spectro", "dae8_Spectro",
             "dae16_Spectro", "dae32_Spectro"]
VARIANTS = ["baseline", "split", "mapping", "bicycle", "full"]


def runs(variant: str, eval_runs: int) -> range:
    """Sampling runs of a variant: one for the deterministic baseline."""
    return range(1 if variant == "baseline" else eval_runs)

EVAL = (f"-o {IVA}/runs/original -p {IVA}/runs/predicted --out {IVA}/runs/result "
        f"--skeleton {IVA}/MFCC/skeleton.json -g {' '.join(IVA19_IDS)}")

# What demo.sh, iva19_compare.sh (+ iva19_lib.sh, config.txt) and a2g_ablation.sh ran, with
# today's paths (models are directories) and every default written out.
EXPECTED = {
    "speaker": "data_processing/make_demo_dataset.py demo/raw --files 24 --seconds 30 --seed 0",
    "prepare-MFCC": f"data_processing/prepare_data.py demo/raw {IVA}/MFCC --seed 0",
    "vectors-Spectro": f"data_processing/create_vector.py {IVA}/Spectro 10 --features Spectro "
                       "--fps 20 --motion pos_vel --mel-preset iva19",
    "vectors-a2g": "data_processing/create_vector.py demo/a2g 0 --features Spectro --fps 30 "
                   "--motion rot6d --mel-preset a2g",
    "learn-pca_16": f"motion_repr_learning/ae/learn_dataset_encoding.py {IVA}/MFCC --chkpt-dir "
                    f"{IVA}/runs/repr/pca_16 --kind pca --dim 16 --epochs 20 "
                    "--learning-rate 0.001 --seed 0",
    "encode-dae_32": f"motion_repr_learning/ae/encode_dataset.py {IVA}/MFCC --chkpt-dir "
                     f"{IVA}/runs/repr/dae_32 --out {IVA}/runs/repr/dae_32/encoded",
    "predict-mean_pose": f"helpers/mean_pose.py {IVA}/MFCC {IVA}/runs/predicted_raw/mean_pose",
    "strip-mean_pose": f"helpers/remove_velocity.py -g {IVA}/runs/predicted_raw/mean_pose "
                       f"-o {IVA}/runs/predicted/mean_pose",
    "train-baseline_Spectro": f"train.py {IVA}/runs/models/baseline_Spectro 3 {IVA}/Spectro 64 "
                              "False --batch-size 128 --learning-rate 0.001 --seed 0",
    "train-dae16_MFCC": f"train.py {IVA}/runs/models/dae16_MFCC 3 {IVA}/MFCC 26 True 16 "
                        "--batch-size 128 --learning-rate 0.001 --seed 0 "
                        f"--encoded-dir {IVA}/runs/repr/dae_16/encoded",
    "predict-pca8_MFCC": f"predict.py {IVA}/runs/models/pca8_MFCC {IVA}/MFCC/test_inputs "
                         f"{IVA}/runs/predicted_raw/pca8_MFCC",
    "strip-dae8_Spectro": f"helpers/remove_velocity.py -g {IVA}/runs/predicted_raw/dae8_Spectro "
                          f"-o {IVA}/runs/predicted/dae8_Spectro",
    "ground-truth": f"helpers/convert_original.py -d {IVA}/MFCC/test/labels "
                    f"-o {IVA}/runs/original --data-dir {IVA}/MFCC",
    "evaluate-ape": f"evaluation/calc_errors.py {EVAL} -m ape",
    "evaluate-acceleration": f"evaluation/calc_jerk.py {EVAL} -m acceleration",
    "evaluate-velocity": f"evaluation/calc_distance.py {EVAL} -m velocity -w 0.05",
    "evaluate-hellinger": f"evaluation/hellinger.py --result-dir {IVA}/runs/result "
                          f"-g {' '.join(IVA19_IDS)}",
    "iva19-table": f"evaluation/collect_results.py table {IVA}/runs/result "
                   f"{IVA}/runs/labels.csv results/iva19_table.csv results/iva19_table.md "
                   "--title 'IVA'\"'\"'19 on raw: held-out test files (positions in cm)'",
    "train-a2g_bicycle": "gesture_vae/train.py demo/a2g demo/a2g_runs/a2g_bicycle --variant "
                         "bicycle --preset demo --seed 0",
    "samples-a2g_full": "predict.py demo/a2g_runs/a2g_full demo/a2g/test/inputs "
                        "demo/a2g_runs/a2g_full/test_samples --format npy --samples 10 --seed 0",
    "sampling-a2g_split-seed4": "predict.py demo/a2g_runs/a2g_split demo/a2g/test/inputs "
                                "demo/a2g_runs/a2g_split/eval/seed4 --format npy --samples 20 "
                                "--seed 4",
    "a2g-table": "evaluation/a2g_metrics.py demo/a2g " + " ".join(
        f"--method {v} " + " ".join(f"demo/a2g_runs/a2g_{v}/eval/seed{k}" for k in runs(v, 5))
        for v in VARIANTS) + " --out results/a2g_table --modes demo/raw/hidden_modes.json",
    "fgd": f"evaluation/fgd.py train {IVA}/MFCC demo/fgd_extractor --seed 0",
    "bvh-dae32_Spectro": f"helpers/to_bvh.py {IVA}/runs/predicted/dae32_Spectro/demo_001.txt "
                         f"results/bvh/dae32_Spectro.bvh --data {IVA}/Spectro",
    "bvh-a2g_mapping": f"predict.py demo/a2g_runs/a2g_mapping {IVA}/MFCC/test/inputs/demo_001.wav "
                       "results/bvh/a2g_mapping.bvh --seed 0",
    "video": "helpers/render_video.py results/bvh/ground_truth.bvh results/bvh/baseline_MFCC.bvh "
             "results/bvh/dae32_MFCC.bvh results/bvh/a2g_baseline.bvh results/bvh/a2g_full.bvh "
             "--titles 'ground truth' 'IVA'\"'\"'19 baseline' 'IVA'\"'\"'19 DAE-32' "
             "'A2G baseline' 'A2G full' "
             f"--audio {IVA}/MFCC/test/inputs/demo_001.wav --out results/demo_demo_001.mp4",
}
REPORT_TITLES = (["mean pose", "IVA'19 baseline (MFCC)"]
                 + [f"IVA'19 DAE-{d} (MFCC)" for d in (8, 16, 32)]
                 + [f"PCA-{d} (MFCC)" for d in (8, 16, 32)]
                 + ["IVA'19 baseline (Spectro)"]
                 + [f"IVA'19 DAE-{d} (Spectro)" for d in (8, 16, 32)]
                 + [f"A2G {v}" for v in VARIANTS])


def plan(path=SWEEP):
    return rx.build_plan(rx.load_table(path))


def by_name(path=SWEEP):
    return {step.name: step for step in plan(path)}


def write_table(tmp_path, text, name="table.toml"):
    path = tmp_path / name
    path.write_text(f'extends = "{SWEEP}"\n{text}\n')
    return path


@pytest.mark.parametrize("path", sorted(TABLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_table_is_valid(path):
    table = rx.load_table(path)
    steps = rx.build_plan(table)
    assert len({s.name for s in steps}) == len(steps)
    assert sorted(table.sections["report"]["methods"]) == sorted(table.methods)
    assert {s.name for s in steps if s.name.startswith("bvh-")} == {
        f"bvh-{name}" for name in ["ground_truth", *table.methods]}


def test_demo_plan_runs_the_commands_of_the_bash_scripts():
    steps = by_name()
    for name, command in EXPECTED.items():
        assert steps[name].shown == f"python {command}", name
    report = steps["report"].command
    assert report[:8] == ["python", "evaluation/report.py", "--truth", f"{IVA}/MFCC:test",
                          "--fgd", "demo/fgd_extractor", "--out", "results/report"]
    methods = [report[i:i + 4] for i in range(8, len(report), 4)]
    assert [m[1] for m in methods] == REPORT_TITLES
    assert methods[3] == ["--method", "IVA'19 DAE-16 (MFCC)", f"{IVA}/runs/predicted/dae16_MFCC",
                          f"{IVA}/MFCC"]
    assert methods[-1] == ["--method", "A2G full", "demo/a2g_runs/a2g_full/test_samples",
                           "demo/a2g"]


def test_demo_plan_order():
    names = [step.name for step in plan()]
    iva19 = [f"{kind}-{m}" for m in IVA19_IDS[1:] for kind in ("train", "predict", "strip")]
    a2g = [f"{kind}-a2g_{v}" for v in VARIANTS for kind in ("train", "samples")]
    reps = [f"{kind}-{rep}_{d}" for d in (8, 16, 32) for rep in ("dae", "pca")
            for kind in ("learn", "encode")]
    evaluation = ["ground-truth", *(f"evaluate-{m}" for m in
                                    ("ape", "mae", "jerk", "acceleration", "velocity",
                                     "hellinger")), "labels", "iva19-table"]
    sampling = [f"sampling-a2g_{v}-seed{k}" for v in VARIANTS for k in runs(v, 5)]
    bvh = [f"bvh-{m}" for m in ["ground_truth", *IVA19_IDS, *(f"a2g_{v}" for v in VARIANTS)]]
    assert names == ["speaker", "prepare-MFCC", "vectors-MFCC", "prepare-Spectro",
                     "vectors-Spectro", "prepare-a2g", "vectors-a2g", *reps,
                     "predict-mean_pose", "strip-mean_pose", *iva19, *a2g, *evaluation,
                     *sampling, "a2g-table", "fgd", "report", *bvh, "video", "viewer"]


def test_make_demo_runs_rows_of_the_sweep_with_the_same_commands():
    sweep, demo = by_name(SWEEP), by_name(DEMO)
    assert set(demo) < set(sweep)
    assert not any(name.endswith(("Spectro", "_8", "_32")) for name in demo)
    listing = {"evaluate-ape", "evaluate-mae", "evaluate-jerk", "evaluate-acceleration",
               "evaluate-velocity", "evaluate-hellinger", "labels", "a2g-table", "report",
               "video", "viewer"}  # the steps that list the methods
    assert {name for name in demo if demo[name].shown != sweep[name].shown} == listing
    assert "A2G full" in demo["report"].shown


def test_full_profile_changes_only_the_settings_of_make_demo_full():
    demo = {s.name: s.shown.replace("demo/", "demo_full/") for s in plan(SWEEP)}
    full = {s.name: s.shown for s in plan(FULL)}
    extra = {f"sampling-a2g_{v}-seed{k}" for v in VARIANTS[1:] for k in range(5, 10)}
    assert set(full) - set(demo) == extra
    changed = {name for name in demo if demo[name] != full[name]}
    assert changed == {"vectors-MFCC", "vectors-Spectro", "a2g-table",
                       *(f"train-{m}" for m in IVA19_IDS[1:]),
                       *(f"train-a2g_{v}" for v in VARIANTS)}
    assert " demo_full/iva19_compare/MFCC 30 " in full["vectors-MFCC"]
    assert full["train-dae8_MFCC"].split()[3] == "10"
    assert full["train-a2g_full"].endswith("--seed 0 --steps 1600")
    assert "demo_full/a2g_runs/a2g_full/eval/seed9 --out" in full["a2g-table"]


def test_every_command_parses_with_its_step_parser():
    scripts = set()
    for step in plan(SWEEP) + plan(FULL):
        if step.action is None:
            scripts.add(step.command[1])
            module = importlib.import_module(step.command[1].removesuffix(".py").replace("/", "."))
            module.parse_args(step.command[2:])
    assert len(scripts) == 21


def test_iva19_table_labels():
    table = rx.load_table(SWEEP)
    labels = {m: list(rx.iva19_labels(table, table.methods[m].runs[0]).values())
              for m in ("mean_pose", "baseline_MFCC", "dae8_MFCC", "pca8_MFCC",
                        "baseline_Spectro")}
    assert labels == {"mean_pose": ["-", "mean pose", "none", None],
                      "baseline_MFCC": ["MFCC", "baseline", "none", None],
                      "dae8_MFCC": ["MFCC", "proposed", "dae", 8],
                      "pca8_MFCC": ["MFCC", "PCA reference", "pca", 8],
                      "baseline_Spectro": ["Spectro", "baseline", "none", None]}


def test_labels_csv_has_the_motion_size_and_the_seconds(tmp_path_factory, tmp_path):
    data = shared.dataset(tmp_path_factory)
    table = rx.load_table(write_table(tmp_path, f'work = "{tmp_path}"\n'
                                                f'[datasets.MFCC]\ndir = "{data}"'))
    runs = [table.methods[m].runs[0] for m in ("mean_pose", "dae8_MFCC")]
    for kind, seconds in (("train", 40.2), ("predict", 9.1)):
        write_json(rx.stamp_path(table, f"{kind}-dae8_MFCC"), {"command": [], "seconds": seconds})
    rx.write_labels(table, runs, tmp_path / "labels.csv")
    with open(tmp_path / "labels.csv") as f:
        rows = list(csv.reader(f))
    assert rows == [["name", "features", "model", "representation", "dim", "seconds"],
                    ["mean_pose", "-", "mean pose", "none", "96", "0"],
                    ["dae8_MFCC", "MFCC", "proposed", "dae", "8", "49"]]


def test_several_seeds_give_one_run_each(tmp_path):
    table = rx.load_table(write_table(tmp_path, "[iva19]\nseeds = [0, 1]"))
    steps = {s.name: s for s in rx.build_plan(table)}
    assert steps["train-baseline_MFCC_seed1"].shown.endswith("--seed 1")
    assert f"{IVA}/runs/models/dae8_MFCC_seed0 " in steps["train-dae8_MFCC_seed0"].shown
    assert "train-baseline_MFCC" not in steps
    assert "IVA'19 DAE-8 (MFCC) (seed 1)" in steps["report"].command
    assert "results/bvh/dae32_MFCC_seed0.bvh" in steps["video"].command
    assert steps["labels"].command[2:5] == ["mean_pose", "baseline_MFCC_seed0",
                                            "baseline_MFCC_seed1"]


def test_a2g_seeds_are_sampling_runs_of_one_row(tmp_path):
    table = rx.load_table(write_table(tmp_path, "[a2g]\nseeds = [0, 1]\n[a2g_table]\n"
                                                "eval_runs = 1"))
    command = {s.name: s for s in rx.build_plan(table)}["a2g-table"].shown
    assert ("--method full demo/a2g_runs/a2g_full_seed0/eval/seed0 "
            "demo/a2g_runs/a2g_full_seed1/eval/seed0 --out") in command


def test_only_runs_a_method_and_what_it_needs():
    table = rx.load_table(SWEEP)
    names = [s.name for s in rx.selected(rx.build_plan(table), ["dae8_Spectro"], table)]
    assert names == ["speaker", "prepare-MFCC", "vectors-MFCC", "prepare-Spectro",
                     "vectors-Spectro", "learn-dae_8", "encode-dae_8", "train-dae8_Spectro",
                     "predict-dae8_Spectro", "strip-dae8_Spectro", "bvh-dae8_Spectro"]
    with pytest.raises(PipelineError, match="--only: 'dae64_MFCC' is not one of"):
        rx.selected(rx.build_plan(table), ["dae64_MFCC"], table)


MFCC_ROW = '{ id = "mean_pose", family = "mean_pose", dataset = "MFCC", title = "m" }'


@pytest.mark.parametrize(("text", "message"), [
    ("[iva19]\nepochs = \"three\"", "iva19.epochs: expected an integer, got 'three'"),
    ("[iva19]\nepochs = true", "iva19.epochs: expected an integer"),
    ("[fgd]\ncolour = 1", "fgd.colour: unknown key"),
    ("[datasets.MFCC]\nfeatures = \"MFC\"", "datasets.MFCC.features: 'MFC' is not one of"),
    ("[datasets.extra]\ndir = \"x\"", "datasets.extra.features: missing"),
    ("[representations]\ndae_64 = { kind = \"vae\", dim = 64, dataset = \"MFCC\", epochs = 1, "
     "learning_rate = 0.1, seed = 0 }", "representations.dae_64.kind: 'vae' is not one of"),
    (f"methods = [{MFCC_ROW}, {MFCC_ROW}]", "methods[1].id: 'mean_pose' appears twice"),
    ('methods = [{ id = "a b", family = "mean_pose", dataset = "MFCC", title = "m" }]',
     "methods[0].id: 'a b' cannot name a directory"),
    ('methods = [{ id = "x", family = "ha2g", dataset = "MFCC", title = "x" }]',
     "methods[0].family: 'ha2g' is not one of"),
    ('methods = [{ id = "x", family = "iva19", dataset = "MFCC" }]', "methods[0].title: missing"),
    ('methods = [{ id = "x", family = "iva19", dataset = "MFCC", title = "x", variant = "full" }]',
     "methods[0].variant: unknown key"),
    ('methods = [{ id = "x", family = "iva19", dataset = "MFC", title = "x" }]',
     "methods[0].dataset: 'MFC' is not one of"),
    ('methods = [{ id = "x", family = "iva19", dataset = "MFCC", title = "x", '
     'representation = "dae_64" }]', "methods[0].representation: 'dae_64' is not one of"),
    ('methods = [{ id = "x", family = "iva19", dataset = "MFCC", title = "x", seeds = [] }]',
     "methods[0].seeds: expected at least one seed"),
    ('[report]\nmethods = ["dae64_MFCC"]', "report.methods[0]: 'dae64_MFCC' is not one of"),
    ('[a2g_table]\nmethods = ["baseline_MFCC"]', "a2g_table.methods[0] (baseline_MFCC) family"),
    ('[export]\nvideo = [{ method = "dae64_MFCC", title = "x" }]',
     "export.video[0].method: 'dae64_MFCC' is not one of"),
    ("[report]\ntruth = \"raw\"", "report.truth: 'raw' is not one of"),
])
def test_a_bad_table_is_a_one_line_error_naming_file_and_key(tmp_path, text, message):
    path = write_table(tmp_path, text)
    with pytest.raises(PipelineError) as error:
        rx.load_table(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("text", "message"), [
    ("work = ", "Invalid value"),
    ('extends = "missing.toml"', "missing.toml: cannot read"),
    ('extends = "table.toml"', "extends itself"),
])
def test_an_unreadable_table_is_a_one_line_error(tmp_path, text, message):
    path = tmp_path / "table.toml"
    path.write_text(text + "\n")
    with pytest.raises(PipelineError, match=message) as error:
        rx.load_table(path)
    assert "\n" not in str(error.value)


def finished(table, step):
    for out in step.outputs:
        out.mkdir(parents=True, exist_ok=True)
    write_json(rx.stamp_path(table, step.name), {"command": step.command, "seconds": 1})


def test_dry_run_prints_the_commands_and_marks_finished_steps(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    table, steps = rx.load_table(SWEEP), plan()
    assert rx.main([str(SWEEP), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [s.shown for s in steps]
    for step in steps[1:3]:  # prepare-MFCC and vectors-MFCC finished, the speaker not
        finished(table, step)
    rx.main([str(SWEEP), "--dry-run", "--only", "mean_pose"])
    assert capsys.readouterr().out.splitlines()[:3] == [s.shown for s in steps[:3]]
    finished(table, steps[0])
    rx.main([str(SWEEP), "--dry-run", "--only", "mean_pose"])
    rest = {s.name: s.shown for s in steps}
    assert capsys.readouterr().out.splitlines() == [
        *(f"# complete: {s.shown}" for s in steps[:3]),
        rest["predict-mean_pose"], rest["strip-mean_pose"], rest["bvh-mean_pose"]]


STAND_IN = """import pathlib, sys
if "--fail" in sys.argv:
    print("boom")
    sys.exit(3)
pathlib.Path(sys.argv[1]).write_text("x")
"""


def stand_ins(tmp_path, *, fail=False, extra=()):
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)

    def step(name, deps=(), args=()):
        out = tmp_path / f"{name}.txt"
        return rx.Step(name, ["python", str(script), str(out), *args], (out,), deps)

    copied = tmp_path / "copied.txt"
    steps = [step("a"), step("b", ("a",), extra), step("c"),
             rx.Step("copy", ["cp", "a.txt", "copied.txt"], (copied,), ("a",),
                     action=lambda: rx.copy_file(tmp_path / "a.txt", copied))]
    return steps + ([step("d", ("c",), ["--fail"])] if fail else [])


def run(tmp_path, steps, jobs=2):
    table = rx.Table(path=tmp_path / "t.toml", work=tmp_path / "work", results=tmp_path,
                     speaker={}, datasets={}, representations={}, families={}, methods={},
                     sections={})
    rx.Runner(table, steps, jobs).run()


def started(capsys):
    return sorted(re.findall(r"\] \d+/\d+ (\S+): ", capsys.readouterr().out))


def test_runner_runs_skips_and_reruns_what_changed(tmp_path, capsys):
    run(tmp_path, stand_ins(tmp_path))
    assert started(capsys) == ["a", "b", "c", "copy"]
    assert (tmp_path / "copied.txt").read_text() == "x"
    assert (tmp_path / "work" / "steps" / "b.log").read_text().startswith("$ python ")
    run(tmp_path, stand_ins(tmp_path))
    assert started(capsys) == []
    run(tmp_path, stand_ins(tmp_path, extra=["--changed"]), jobs=1)
    assert started(capsys) == ["b"]
    (tmp_path / "a.txt").unlink()
    run(tmp_path, stand_ins(tmp_path))
    assert started(capsys) == ["a", "b", "copy"]
    later = time.time() + 60  # c.txt rewritten by something else since c finished
    os.utime(tmp_path / "c.txt", (later, later))
    run(tmp_path, stand_ins(tmp_path))
    assert started(capsys) == ["c"]


def test_runner_fails_loudly_with_the_log_tail(tmp_path, capsys):
    with pytest.raises(PipelineError, match="step d failed with exit status 3") as error:
        run(tmp_path, stand_ins(tmp_path, fail=True))
    assert "work/steps/d.log" in str(error.value)
    assert "boom" in capsys.readouterr().err
    assert not (tmp_path / "work" / "steps" / "d.done").exists()


def test_no_library_module_imports_the_runner():
    sources = [*REPO.glob("*.py"), *(p for package in ("data_processing", "motion_repr_learning",
                                                       "gesture_vae", "helpers", "evaluation",
                                                       "training", "benchmarks")
                                     for p in (REPO / package).rglob("*.py"))]
    users = [p.name for p in sources if p.name != "run_experiments.py"
             and "run_experiments" in p.read_text(errors="replace")]
    assert users == []


def test_the_cli_prints_help():
    done = subprocess.run([sys.executable, str(REPO / "helpers" / "run_experiments.py"),
                           "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "--only ID" in done.stdout
