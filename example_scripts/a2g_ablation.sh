#!/usr/bin/env bash
# Audio2Gestures ablation (paper Table 2): train the five variants, score them, write the table.
#
#   bash example_scripts/a2g_ablation.sh [DATA_DIR] [RESULTS_DIR]
#
# DATA_DIR (default demo/a2g) is a dataset built by create_vector.py with --motion rot6d.
# Settings come from the environment:
#   A2G_RUNS      where the runs go              (default: DATA_DIR/../a2g_runs)
#   A2G_PRESET    training preset, paper or demo (default demo: the short CPU budget)
#   A2G_STEPS     training steps per variant     (default: the preset's)
#   A2G_SEED      seed of training and sampling  (default 0)
#   A2G_EVAL_RUNS sampling runs for "avg (best)" (default 5; the paper used 20)
#   A2G_SAMPLES   samples per file, Multimodality (default 20)
#   A2G_MODES     demo speaker sidecar for the Modes column
#                 (default: DATA_DIR/../raw/hidden_modes.json when it exists)
# Writes RESULTS_DIR/a2g_table.md and .csv (default results/). Rerunning resumes or reuses
# finished runs.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=${1:-demo/a2g}
RESULTS_DIR=${2:-results}
RUNS_DIR=${A2G_RUNS:-$(dirname "$DATA_DIR")/a2g_runs}
PRESET=${A2G_PRESET:-demo}
SEED=${A2G_SEED:-0}
MODES=${A2G_MODES:-$(dirname "$DATA_DIR")/raw/hidden_modes.json}
start=$SECONDS

steps=()
if [[ -n "${A2G_STEPS:-}" ]]; then steps=(--steps "$A2G_STEPS"); fi
runs=()
for variant in baseline split mapping bicycle full; do
    printf '\n== [%4ds] Audio2Gestures %s -> %s ==\n' "$((SECONDS - start))" "$variant" \
        "$RUNS_DIR/$variant"
    python gesture_vae/train.py "$DATA_DIR" "$RUNS_DIR/$variant" --variant "$variant" \
        --preset "$PRESET" --seed "$SEED" "${steps[@]}"
    runs+=("$RUNS_DIR/$variant")
done

modes=()
if [[ -f "$MODES" ]]; then modes=(--modes "$MODES"); fi
printf '\n== [%4ds] scoring -> %s/a2g_table.md ==\n' "$((SECONDS - start))" "$RESULTS_DIR"
python evaluation/a2g_metrics.py "$DATA_DIR" "${runs[@]}" --out "$RESULTS_DIR/a2g_table" \
    --runs "${A2G_EVAL_RUNS:-5}" --samples "${A2G_SAMPLES:-20}" --seed "$SEED" "${modes[@]}"
cat "$RESULTS_DIR/a2g_table.md"
printf '\n== Audio2Gestures ablation done in %d s ==\n' "$((SECONDS - start))"
