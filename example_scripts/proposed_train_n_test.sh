#!/usr/bin/env bash
# IVA'19 proposed model: learn the motion representation (DAE of width DIM, or the PCA
# reference), encode the dataset, train the speech encoder on the codes, predict every test
# file (decoded through the representation), strip the velocities, compute APE, MAE, AJ, AA
# and the speed histograms' Hellinger distance, and append a row to the results file.
# Usage: bash example_scripts/proposed_train_n_test.sh [CONFIG]   (default: config.txt here)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source "${1:-$here/config.txt}"

name=${MODEL_NAME:-${representation}${dim}_$features}
chkpt=${CHKPT_DIR:-$work_dir/repr/${representation}_$dim}
encoded=$chkpt/encoded_$(basename "$data_dir")
model=$work_dir/models/$name
echo "== learning the $representation representation (DIM $dim) -> $chkpt"
"$PYTHON" motion_repr_learning/ae/learn_dataset_encoding.py "$data_dir" --chkpt-dir "$chkpt" \
    --kind "$representation" --dim "$dim" --epochs "$ae_epochs" \
    --learning-rate "$ae_learning_rate" --seed "$seed"

echo "== encoding $data_dir"
"$PYTHON" motion_repr_learning/ae/encode_dataset.py "$data_dir" --chkpt-dir "$chkpt" \
    --out "$encoded"

echo "== training $name"
"$PYTHON" train.py "$model" "$epochs" "$data_dir" "$numb_in_features" True "$dim" \
    --batch-size "$batch_size" --learning-rate "$learning_rate" --seed "$seed" \
    --encoded-dir "$encoded" ${patience:+--patience "$patience"}

echo "== predicting (and decoding) the test files"
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
    "features=$features" model=proposed "representation=$representation" "dim=$dim"
echo "== $name done; results appended to $results_file"
