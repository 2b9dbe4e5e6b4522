#!/usr/bin/env bash
# IVA'19 baseline: train the speech encoder on motion vectors, predict every test file, strip
# the velocities, compute APE, MAE, AJ, AA and the speed histograms' Hellinger distance, and
# append a row to the results file.
# Usage: bash example_scripts/baseline_train_n_test.sh [CONFIG]   (default: config.txt here)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source "${1:-$here/config.txt}"

name=${MODEL_NAME:-baseline_$features}
model=$work_dir/models/$name
echo "== training $name on $data_dir"
"$PYTHON" train.py "$model" "$epochs" "$data_dir" "$numb_in_features" False \
    --batch-size "$batch_size" --learning-rate "$learning_rate" --seed "$seed" \
    ${patience:+--patience "$patience"}

echo "== predicting the test files"
"$PYTHON" predict.py "$model" "$data_dir/test_inputs" "$work_dir/predicted_raw/$name"
"$PYTHON" helpers/remove_velocity.py -g "$work_dir/predicted_raw/$name" \
    -o "$work_dir/predicted/$name"

echo "== evaluating"
"$PYTHON" helpers/convert_original.py -d "$data_dir/test/labels" -o "$work_dir/original" \
    --data-dir "$data_dir"
dirs=(-o "$work_dir/original" -p "$work_dir/predicted" --out "$work_dir/result"
      --skeleton "$data_dir/skeleton.json")
"$PYTHON" evaluation/calc_errors.py "${dirs[@]}" -g "$name" -m ape
"$PYTHON" evaluation/calc_errors.py "${dirs[@]}" -g "$name" -m mae
"$PYTHON" evaluation/calc_jerk.py "${dirs[@]}" -g "$name" -m jerk
"$PYTHON" evaluation/calc_jerk.py "${dirs[@]}" -g "$name" -m acceleration
"$PYTHON" evaluation/calc_distance.py "${dirs[@]}" -g "$name" -m velocity -w 0.05
"$PYTHON" evaluation/hellinger.py --result-dir "$work_dir/result" -g "$name" > /dev/null
"$PYTHON" evaluation/collect_results.py append "$work_dir/result" "$name" "$results_file" \
    "features=$features" model=baseline representation=none "dim=$motion_size"
echo "== $name done; results appended to $results_file"
