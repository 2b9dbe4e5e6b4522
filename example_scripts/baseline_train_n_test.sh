#!/usr/bin/env bash
# IVA'19 baseline: train the speech encoder on motion vectors, predict every test file, strip
# the velocities, compute APE, MAE, AJ, AA, and append a row to the results file.
# Usage: bash example_scripts/baseline_train_n_test.sh [CONFIG]   (default: config.txt here)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source "${1:-$here/config.txt}"
source "$here/iva19_lib.sh"

features=$(meta_value "$data_dir" features)
name=${MODEL_NAME:-baseline_${features}}
start=$SECONDS
echo "== training $name on $data_dir"
train_speech_model "$data_dir" "$work_dir" "$name" False
echo "== predicting the test files"
predict_test "$data_dir" "$work_dir" "$name"
echo "== evaluating"
ground_truth "$data_dir" "$work_dir"
evaluate "$data_dir" "$work_dir" "$name"
append_result "$work_dir" "$name" "$results_file" "features=$features" model=baseline \
    representation=none "dim=$(meta_value "$data_dir" output_size)"
echo "== $name done in $((SECONDS - start)) s; results appended to $results_file"
