#!/usr/bin/env bash
# IVA'19 proposed model: learn the motion representation (DAE of width DIM, or the PCA
# reference), encode the dataset, train the speech encoder on the codes, predict every test
# file (decoded through the representation), strip the velocities, compute APE, MAE, AJ, AA,
# and append a row to the results file.
# Usage: bash example_scripts/proposed_train_n_test.sh [CONFIG]   (default: config.txt here)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source "${1:-$here/config.txt}"
source "$here/iva19_lib.sh"

features=$(meta_value "$data_dir" features)
name=${MODEL_NAME:-${representation}${dim}_${features}}
chkpt=${CHKPT_DIR:-$work_dir/repr/${representation}_${dim}}
encoded=$chkpt/encoded_$(basename "$data_dir")
start=$SECONDS
echo "== learning the $representation representation (DIM $dim) -> $chkpt"
learn_representation "$data_dir" "$chkpt" "$representation" "$dim"
echo "== encoding $data_dir"
run motion_repr_learning/ae/encode_dataset.py "$data_dir" --chkpt-dir "$chkpt" --out "$encoded"
echo "== training $name"
train_speech_model "$data_dir" "$work_dir" "$name" True "$dim" "$encoded"
echo "== predicting (and decoding) the test files"
predict_test "$data_dir" "$work_dir" "$name"
echo "== evaluating"
ground_truth "$data_dir" "$work_dir"
evaluate "$data_dir" "$work_dir" "$name"
append_result "$work_dir" "$name" "$results_file" "features=$features" model=proposed \
    "representation=$representation" "dim=$dim"
echo "== $name done in $((SECONDS - start)) s; results appended to $results_file"
