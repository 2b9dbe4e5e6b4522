#!/usr/bin/env bash
# Audio2Gestures ablation (paper Table 2): train the five variants, draw the sampling runs of
# every held-out file, score them, write the table.
#
#   bash example_scripts/a2g_ablation.sh [DATA_DIR] [RESULTS_DIR]
#
# DATA_DIR (default demo/a2g) is a dataset built by create_vector.py with --motion rot6d.
# Settings come from the environment:
#   A2G_RUNS      where the runs go              (default: DATA_DIR/../a2g_runs)
#   A2G_PRESET    training preset, paper or demo (default demo: the short CPU budget)
#   A2G_PROTOCOL  official, paper or project (default official: the official code's
#                 sampling, KL and speed weights; gesture_vae/config.py:PROTOCOLS)
#   A2G_VARIANTS  the rows to train (default: baseline split mapping bicycle full)
#   A2G_STEPS     training steps per variant     (default: the preset's)
#   A2G_SEED      seed of training, first seed of the sampling runs (default 0)
#   A2G_EVAL_RUNS sampling runs for "avg (best)" (default 5; the paper used 20)
#   A2G_SAMPLES   samples per file, Multimodality (default 20)
#   A2G_MODES     demo speaker sidecar for the Modes column
#                 (default: DATA_DIR/../raw/hidden_modes.json when it exists)
# Writes RESULTS_DIR/a2g_table.md and .csv (default results/). Rerunning resumes or reuses
# finished trainings. `make demo` runs the same steps from experiments/demo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=${1:-demo/a2g}
RESULTS_DIR=${2:-results}
RUNS_DIR=${A2G_RUNS:-$(dirname "$DATA_DIR")/a2g_runs}
PRESET=${A2G_PRESET:-demo}
PROTOCOL=${A2G_PROTOCOL:-official}
VARIANTS=${A2G_VARIANTS:-baseline split mapping bicycle full}
SEED=${A2G_SEED:-0}
EVAL_RUNS=${A2G_EVAL_RUNS:-5}
SAMPLES=${A2G_SAMPLES:-20}
MODES=${A2G_MODES:-$(dirname "$DATA_DIR")/raw/hidden_modes.json}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

methods=()
for variant in $VARIANTS; do
    run=$RUNS_DIR/$variant
    echo "== Audio2Gestures $variant -> $run"
    python gesture_vae/train.py "$DATA_DIR" "$run" --variant "$variant" --preset "$PRESET" \
        --protocol "$PROTOCOL" --seed "$SEED" ${A2G_STEPS:+--steps "$A2G_STEPS"}
    methods+=(--method "$variant")
    for seed in $(seq "$SEED" $((SEED + EVAL_RUNS - 1))); do
        python predict.py "$run" "$DATA_DIR/test/inputs" "$run/eval/seed$seed" --format npy \
            --samples "$SAMPLES" --seed "$seed"
        methods+=("$run/eval/seed$seed")
    done
done

echo "== scoring -> $RESULTS_DIR/a2g_table.md"
modes=()
if [[ -f "$MODES" ]]; then modes=(--modes "$MODES"); fi
python evaluation/a2g_metrics.py "$DATA_DIR" "${methods[@]}" --out "$RESULTS_DIR/a2g_table" \
    "${modes[@]}"
cat "$RESULTS_DIR/a2g_table.md"
