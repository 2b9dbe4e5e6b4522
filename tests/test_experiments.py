"""The experiment tables and their runner (helpers/run_experiments.py), without training.

The demo's plan is checked against the commands the former bash scripts ran (demo.sh,
iva19_compare.sh, a2g_ablation.sh), every command against its step's own parser, and the
runner's scheduling, resume and failure report on stand-in steps.
"""

import csv
import importlib
import json
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
ABLATIONS = ["full", "holistic", "no_hal", "no_contrastive"]
SEEDS = (0, 1, 2)  # every trained row of the sweep
IVA19_RUNS = ["mean_pose", *(f"{m}_seed{k}" for m in IVA19_IDS[1:] for k in SEEDS)]



EVAL = (f"-o {IVA}/runs/original -p {IVA}/runs/predicted --out {IVA}/runs/result "
        f"--skeleton {IVA}/MFCC/skeleton.json -g {' '.join(IVA19_RUNS)}")

# What demo.sh, iva19_compare.sh (+ iva19_lib.sh, config.txt) and a2g_ablation.sh ran, with
# today's paths (models are directories) and every default written out.
EXPECTED = {
    "speaker": "data_processing/make_demo_dataset.py demo/raw --files 32 --seconds 30 --seed 0",
    "prepare-MFCC": f"data_processing/prepare_data.py demo/raw {IVA}/MFCC --seed 0 "
                    "--ratios 20 2 10",
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
    "train-baseline_Spectro_seed0": f"train.py {IVA}/runs/models/baseline_Spectro_seed0 3 "
                                    f"{IVA}/Spectro 64 False --batch-size 128 "
                                    "--learning-rate 0.001 --seed 0",
    "train-dae16_MFCC_seed2": f"train.py {IVA}/runs/models/dae16_MFCC_seed2 3 {IVA}/MFCC 26 True "
                              "16 --batch-size 128 --learning-rate 0.001 --seed 2 "
                              f"--encoded-dir {IVA}/runs/repr/dae_16/encoded",
    "predict-pca8_MFCC_seed1": f"predict.py {IVA}/runs/models/pca8_MFCC_seed1 "
                               f"{IVA}/MFCC/test_inputs {IVA}/runs/predicted_raw/pca8_MFCC_seed1",
    "strip-dae8_Spectro_seed0": "helpers/remove_velocity.py -g "
                                f"{IVA}/runs/predicted_raw/dae8_Spectro_seed0 "
                                f"-o {IVA}/runs/predicted/dae8_Spectro_seed0",
    "ground-truth": f"helpers/convert_original.py -d {IVA}/MFCC/test/labels "
                    f"-o {IVA}/runs/original --data-dir {IVA}/MFCC",
    "evaluate-ape": f"evaluation/calc_errors.py {EVAL} -m ape",
    "evaluate-acceleration": f"evaluation/calc_jerk.py {EVAL} -m acceleration",
    "evaluate-velocity": f"evaluation/calc_distance.py {EVAL} -m velocity -w 0.05",
    "evaluate-hellinger": f"evaluation/hellinger.py --result-dir {IVA}/runs/result "
                          f"-g {' '.join(IVA19_RUNS)}",
    "iva19-table": f"evaluation/collect_results.py table {IVA}/runs/result "
                   f"{IVA}/runs/labels.csv results/iva19_table.csv results/iva19_table.md "
                   "--title 'IVA'\"'\"'19 on raw: held-out test files (positions in cm)'",
    "train-a2g_bicycle_seed0": "gesture_vae/train.py demo/a2g demo/a2g_runs/a2g_bicycle_seed0 "
                               "--variant bicycle --preset demo --seed 0 --protocol official "
                               "--steps 200",
    "samples-a2g_full_seed1": "predict.py demo/a2g_runs/a2g_full_seed1 demo/a2g/test/inputs "
                              "demo/a2g_runs/a2g_full_seed1/test_samples --format npy "
                              "--samples 10 --seed 1",
    "sampling-a2g_split_seed2-seed4": "predict.py demo/a2g_runs/a2g_split_seed2 "
                                      "demo/a2g/test/inputs demo/a2g_runs/a2g_split_seed2/eval/"
                                      "seed4 --format npy --samples 20 --seed 4",
    "a2g-table": "evaluation/a2g_metrics.py demo/a2g " + " ".join(
        f"--method {v} " + " ".join(f"demo/a2g_runs/a2g_{v}_seed{s}/eval/seed{k}"
                                    for k in range(5))
        for v in VARIANTS for s in SEEDS) + " --out results/a2g_table --modes "
        "demo/raw/hidden_modes.json --compare full baseline --compare split baseline",
    "train-ha2g_no_hal_seed1": "ha2g/train.py demo/ha2g demo/ha2g_runs/ha2g_no_hal_seed1 "
                               "--preset demo --ablation no_hal --seed 1",
    "samples-ha2g_full_seed0": "predict.py demo/ha2g_runs/ha2g_full_seed0 demo/ha2g/test/inputs "
                               "demo/ha2g_runs/ha2g_full_seed0/test_samples --format npy "
                               "--samples 10 --seed 0",
    "vectors-ha2g": "data_processing/create_vector.py demo/ha2g 0 --features Spectro --fps 15 "
                    "--motion rot6d --mel-preset a2g",
    "fgd": f"evaluation/fgd.py train {IVA}/MFCC demo/fgd_extractor --seed 0",
    "bvh-dae32_Spectro": "helpers/to_bvh.py "
                         f"{IVA}/runs/predicted/dae32_Spectro_seed0/demo_001.txt "
                         f"results/bvh/dae32_Spectro.bvh --data {IVA}/Spectro",
    "bvh-a2g_mapping": "predict.py demo/a2g_runs/a2g_mapping_seed0 "
                       f"{IVA}/MFCC/test/inputs/demo_001.wav results/bvh/a2g_mapping.bvh --seed 0",
    "bvh-ha2g_holistic": "predict.py demo/ha2g_runs/ha2g_holistic_seed0 "
                         f"{IVA}/MFCC/test/inputs/demo_001.wav results/bvh/ha2g_holistic.bvh "
                         "--seed 0",
    "video": "helpers/render_video.py results/bvh/ground_truth.bvh results/bvh/baseline_MFCC.bvh "
             "results/bvh/dae32_MFCC.bvh results/bvh/a2g_baseline.bvh results/bvh/a2g_full.bvh "
             "results/bvh/ha2g_full.bvh "
             "--titles 'ground truth' 'IVA'\"'\"'19 baseline' 'IVA'\"'\"'19 DAE-32' "
             "'A2G baseline' 'A2G full' 'HA2G full' "
             f"--audio {IVA}/MFCC/test/inputs/demo_001.wav --out results/demo_demo_001.mp4",
}
REPORT_TITLES = (["mean pose", "IVA'19 baseline (MFCC)"]
                 + [f"IVA'19 DAE-{d} (MFCC)" for d in (8, 16, 32)]
                 + [f"PCA-{d} (MFCC)" for d in (8, 16, 32)]
                 + ["IVA'19 baseline (Spectro)"]
                 + [f"IVA'19 DAE-{d} (Spectro)" for d in (8, 16, 32)]
                 + [f"A2G {v}" for v in VARIANTS]
                 + ["HA2G full", "HA2G holistic", "HA2G without HAL", "HA2G without contrastive"])


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
    assert report[:10] == ["python", "evaluation/report.py", "--truth", f"{IVA}/MFCC:test",
                           "--fgd", "demo/fgd_extractor", "--out", "results/report",
                           "--segment", "10.0"]
    methods = [report[i:i + 4] for i in range(10, len(report), 4) if report[i] == "--method"]
    # one --method per seed, all under the method's title (the report stacks them)
    assert [m[1] for m in methods] == ["mean pose", *(t for t in REPORT_TITLES[1:] for _ in SEEDS)]
    assert ["--method", "IVA'19 DAE-16 (MFCC)", f"{IVA}/runs/predicted/dae16_MFCC_seed1",
            f"{IVA}/MFCC"] in methods
    assert methods[-1] == ["--method", "HA2G without contrastive",
                           "demo/ha2g_runs/ha2g_no_contrastive_seed2/test_samples", "demo/ha2g"]
    compare = report[10 + 4 * len(methods):]
    assert compare[:3] == ["--compare", "IVA'19 DAE-16 (MFCC)", "IVA'19 baseline (MFCC)"]
    assert compare[-3:] == ["--compare", "ground truth", "mismatched truth"]  # from the checks


def test_demo_plan_order():
    names = [step.name for step in plan()]
    iva19 = [f"{kind}-{m}" for m in IVA19_RUNS[1:] for kind in ("train", "predict", "strip")]
    a2g = [f"{kind}-a2g_{v}_seed{k}" for v in VARIANTS for k in SEEDS
           for kind in ("train", "samples")]
    ha2g = [f"{kind}-ha2g_{a}_seed{k}" for a in ABLATIONS for k in SEEDS
            for kind in ("train", "samples")]
    reps = [f"{kind}-{rep}_{d}" for d in (8, 16, 32) for rep in ("dae", "pca")
            for kind in ("learn", "encode")]
    evaluation = ["ground-truth", *(f"evaluate-{m}" for m in
                                    ("ape", "mae", "jerk", "acceleration", "velocity",
                                     "hellinger")), "labels", "iva19-table"]
    sampling = [f"sampling-a2g_{v}_seed{s}-seed{k}" for v in VARIANTS for s in SEEDS
                for k in range(5)]
    bvh = [f"bvh-{m}" for m in ["ground_truth", *IVA19_IDS, *(f"a2g_{v}" for v in VARIANTS),
                                *(f"ha2g_{a}" for a in ABLATIONS)]]
    assert names == ["speaker", "prepare-MFCC", "vectors-MFCC", "prepare-Spectro",
                     "vectors-Spectro", "prepare-a2g", "vectors-a2g", "prepare-ha2g",
                     "vectors-ha2g", *reps, "predict-mean_pose", "strip-mean_pose", *iva19,
                     *a2g, *ha2g, *evaluation, *sampling, "a2g-table", "fgd", "report", *bvh,
                     "video", "viewer", "science-checks"]


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
    extra = {f"sampling-a2g_{v}_seed{s}-seed{k}" for v in VARIANTS for s in SEEDS
             for k in range(5, 10)}
    bounded = ("a2g_full_la8", "a2g_full_causal")  # the bounded-lookahead rows of the report
    extra |= {f"{step}-{m}_seed{k}" for step in ("train", "samples") for m in bounded
              for k in SEEDS} | {f"bvh-{m}" for m in bounded}
    assert set(full) - set(demo) == extra | {"genea"}  # GENEA's ~55 s of CPU: not make demo
    changed = {name for name in demo if demo[name] != full[name]}
    assert changed == {"vectors-MFCC", "vectors-Spectro", "a2g-table", "report", "viewer",
                       *(f"train-{m}" for m in IVA19_RUNS[1:]),
                       *(f"train-a2g_{v}_seed{k}" for v in VARIANTS for k in SEEDS),
                       *(f"train-ha2g_{a}_seed{k}" for a in ABLATIONS for k in SEEDS)}
    assert " demo_full/iva19_compare/MFCC 30 " in full["vectors-MFCC"]
    assert full["train-dae8_MFCC_seed0"].split()[3] == "10"
    assert full["train-a2g_full_seed0"].endswith("--seed 0 --protocol official --steps 1600")
    assert full["train-ha2g_full_seed1"].endswith("--seed 1 --epochs 20")
    assert full["train-a2g_full_causal_seed1"].endswith("--steps 1600 --lookahead 0")
    assert "demo_full/a2g_runs/a2g_full_seed2/eval/seed9 --out" in full["a2g-table"]


def test_every_command_parses_with_its_step_parser():
    scripts = set()
    for step in plan(SWEEP) + plan(FULL):
        if step.action is None:
            scripts.add(step.command[1])
            module = importlib.import_module(step.command[1].removesuffix(".py").replace("/", "."))
            module.parse_args(step.command[2:])
    assert len(scripts) == 23


def test_genea_step_scores_every_run_with_the_fgd_extractor():
    step = by_name(FULL)["genea"]
    command = step.command
    assert command[:4] == ["python", "evaluation/genea_eval.py", "--natural",
                           "demo_full/iva19_compare/MFCC:test"]
    methods = [command[i + 1:i + 4] for i, arg in enumerate(command) if arg == "--method"]
    assert methods[0] == ["mean pose", "demo_full/iva19_compare/runs/predicted/mean_pose",
                          "demo_full/iva19_compare/MFCC"]
    assert ["A2G full (seed 2)", "demo_full/a2g_runs/a2g_full_seed2/test_samples",
            "demo_full/a2g"] in methods
    assert len(methods) == 1 + 11 * len(SEEDS)  # one row per training run
    assert command[-4:] == ["--fgd", "demo_full/fgd_extractor", "--out", "results/genea"]
    assert {"fgd", "samples-ha2g_holistic_seed1", "strip-pca16_MFCC_seed0"} <= set(step.deps)
    assert "genea" not in by_name(DEMO)


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
        write_json(rx.stamp_path(table, f"{kind}-dae8_MFCC_seed0"),
                   {"command": [], "seconds": seconds})
    rx.write_labels(table, runs, tmp_path / "labels.csv")
    with open(tmp_path / "labels.csv") as f:
        rows = list(csv.reader(f))
    assert rows == [["name", "features", "model", "representation", "dim", "seconds"],
                    ["mean_pose", "-", "mean pose", "none", "96", "0"],
                    ["dae8_MFCC_seed0", "MFCC", "proposed", "dae", "8", "49"]]


def test_several_seeds_give_one_run_each(tmp_path):
    table = rx.load_table(write_table(tmp_path, "[iva19]\nseeds = [0, 1]"))
    steps = {s.name: s for s in rx.build_plan(table)}
    assert steps["train-baseline_MFCC_seed1"].shown.endswith("--seed 1")
    assert f"{IVA}/runs/models/dae8_MFCC_seed0 " in steps["train-dae8_MFCC_seed0"].shown
    assert "train-baseline_MFCC" not in steps
    assert steps["report"].command.count("IVA'19 DAE-8 (MFCC)") == 2  # one method, two seeds
    assert f"{IVA}/runs/predicted/dae8_MFCC_seed1" in steps["report"].command
    assert "results/bvh/dae32_MFCC.bvh" in steps["video"].command  # its first seed's
    assert steps["labels"].command[2:5] == ["mean_pose", "baseline_MFCC_seed0",
                                            "baseline_MFCC_seed1"]


def test_a2g_seeds_are_sampling_runs_of_one_row(tmp_path):
    table = rx.load_table(write_table(tmp_path, "[a2g]\nseeds = [0, 1]\n[a2g_table]\n"
                                                "eval_runs = 1"))
    command = {s.name: s for s in rx.build_plan(table)}["a2g-table"].shown
    assert ("--method full demo/a2g_runs/a2g_full_seed0/eval/seed0 "
            "--method full demo/a2g_runs/a2g_full_seed1/eval/seed0 --out") in command


def test_only_runs_a_method_and_what_it_needs():
    table = rx.load_table(SWEEP)
    names = [s.name for s in rx.selected(rx.build_plan(table), ["dae8_Spectro"], table)]
    assert names == ["speaker", "prepare-MFCC", "vectors-MFCC", "prepare-Spectro",
                     "vectors-Spectro", "learn-dae_8", "encode-dae_8",
                     *(f"{kind}-dae8_Spectro_seed{k}" for k in SEEDS
                       for kind in ("train", "predict", "strip")), "bvh-dae8_Spectro"]
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
    ('methods = [{ id = "x", family = "beat", dataset = "MFCC", title = "x" }]',
     "methods[0].family: 'beat' is not one of"),
    ('methods = [{ id = "x", family = "ha2g", dataset = "ha2g", title = "x", ablation = "half" }]',
     "methods[0].ablation: 'half' is not one of"),
    ('checks = [{ name = "c", a = "nobody", metric = "ape", expect = "> 0" }]',
     "checks[0].a: 'nobody' is not one of"),
    ('checks = [{ name = "c", a = "a2g_full", metric = "ape", expect = "big" }]',
     "checks[0].expect: 'big' is not one of"),
    ('checks = [{ name = "c", a = "a2g_full", metric = "ape" }]', "checks[0].expect: missing"),
    ("[datasets.MFCC]\nratios = [1, 2]", "datasets.MFCC.ratios: expected three numbers"),
    ('[report]\ncomparisons = [["a2g_full", "nobody"]]',
     "report.comparisons[0]: 'nobody' is not one of"),
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


PROBE = """import json, os, sys
import tensorflow as tf
json.dump({"argv": sys.argv[1:], "path0": sys.path[0], "name": __name__,
           "pythonpath": os.environ["PYTHONPATH"], "devices": len(tf.config.list_logical_devices()),
           "sum": float(tf.reduce_sum(tf.range(10.0)))}, sys.stdout)
"""


def test_a_step_process_is_what_a_new_python_process_would_be(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = rx.child_env()
    process = rx.step_processes(env).Process(target=rx.run_step_script, args=(
        str(script), ["a", "b c"], str(tmp_path / "probe.log"), env))
    process.start()
    process.join()
    assert process.exitcode == 0
    fresh = subprocess.run([sys.executable, str(script), "a", "b c"], env=env,
                           capture_output=True, text=True, check=True).stdout
    assert json.loads((tmp_path / "probe.log").read_text()) == json.loads(fresh)


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


# -- science checks ----------------------------------------------------------------------------

CHECKS = [
    {"name": "sync", "table": "report", "a": "ground truth", "b": "mismatched truth",
     "metric": "beat_alignment", "expect": "> 0"},
    {"name": "split samples", "table": "report", "a": "A2G split", "metric": "multimodality",
     "expect": "> 0"},
    {"name": "baseline deterministic", "table": "report", "a": "A2G baseline",
     "metric": "multimodality", "expect": "= 0"},
    {"name": "dae vs baseline", "table": "report", "a": "DAE", "b": "baseline", "metric": "ape",
     "expect": "record"},
]


def fake_results(split_lo=0.5, sync_lo=0.1):
    intervals = {"report": {"A2G split": {"multimodality": (1.0, split_lo, 1.5)},
                            "A2G baseline": {"multimodality": (0.0, 0.0, 0.0)}}}
    differences = {"report": {("ground truth", "mismatched truth"): {
        "beat_alignment": (0.2, sync_lo, 0.3)}, ("DAE", "baseline"): {"ape": (-0.1, -0.3, 0.1)}}}
    return intervals, differences


def test_science_checks_on_a_fake_table():
    outcome = rx.science_checks(CHECKS, *fake_results())
    assert [r["verdict"] for r in outcome] == ["> 0", "> 0", "= 0", "includes 0"]
    assert all(r["passed"] for r in outcome)  # the record check passes whatever it shows
    assert outcome[0]["subject"] == "ground truth − mismatched truth"
    failing = rx.science_checks(CHECKS, *fake_results(split_lo=-0.1, sync_lo=-0.05))
    assert [r["passed"] for r in failing] == [False, False, True, True]
    assert rx.interval_verdict(float("nan"), 1.0) == "-"
    assert rx.interval_verdict(-1e-12, 1e-12) == "= 0"
    with pytest.raises(PipelineError, match="no jerk of A2G split"):
        rx.science_checks([{**CHECKS[1], "metric": "jerk"}], *fake_results())


def write_fake_report(results, split_lo):
    results.mkdir(parents=True, exist_ok=True)
    header = "method,seeds,ape,ape_lo,ape_hi,multimodality,multimodality_lo,multimodality_hi"
    rows = ["ground truth,1,0,0,0,,,", "mismatched truth,1,9,8,10,,,",
            "IVA'19 DAE-16 (MFCC),3,5,4,6,,,", "IVA'19 baseline (MFCC),3,5.2,4.1,6.1,,,",
            f"A2G split,3,8,7,9,1.0,{split_lo},1.4", "A2G full,3,8,7,9,1.1,0.8,1.3",
            "A2G baseline,3,7,6,8,0,0,0", "mean pose,1,9,9,9,,,"]
    (results / "report.csv").write_text("\n".join([header, *rows]) + "\n")
    (results / "report_comparisons.csv").write_text(
        "a,b,metric,difference,lo,hi,verdict,better\n"
        "ground truth,mismatched truth,beat_alignment,0.3,0.2,0.4,> 0,-\n"
        "IVA'19 DAE-16 (MFCC),IVA'19 baseline (MFCC),ape,-0.2,-0.5,0.1,includes 0,-\n"
        "IVA'19 baseline (MFCC),mean pose,ape,-4,-5,-3,< 0,IVA'19 baseline (MFCC)\n"
        "A2G split,A2G baseline,multimodality,0.5,0.2,0.8,> 0,A2G split\n")


def test_the_checks_step_records_every_verdict_and_fails_loudly(tmp_path, capsys):
    results = tmp_path / "results"
    table = rx.load_table(write_table(tmp_path, f'results = "{results}"'))
    assert {c["name"] for c in table.sections["checks"]} >= {"A2G split has multimodality"}
    write_fake_report(results, split_lo=0.6)
    outcome = rx.run_science_checks(table)
    assert all(r["passed"] for r in outcome)
    text = (results / "science_checks.md").read_text()
    assert "| IVA'19 proposed DAE vs baseline APE | report | IVA'19 DAE-16 (MFCC) − IVA'19 " \
           "baseline (MFCC) | ape | -0.2 [-0.5, 0.1] | includes 0 | record | recorded |" in text
    assert "science check A2G split has multimodality" in capsys.readouterr().out
    write_fake_report(results, split_lo=-0.1)
    with pytest.raises(PipelineError, match=r"science checks failed: A2G split has "
                                            r"multimodality \(A2G split multimodality") as error:
        rx.run_science_checks(table)
    assert "\n" not in str(error.value)
    assert "| FAIL |" in (results / "science_checks.md").read_text()


def test_reference_rows_are_the_scorings():
    from evaluation.scoring import REFERENCES

    assert rx.REFERENCE_ROWS == REFERENCES
