# Steps shared by the IVA'19 example scripts (sourced after config.txt; not run directly).
# Layout under a work directory W:
#   W/models/NAME.keras (+ .json, NAME_run/)   speech encoders
#   W/repr/KIND_DIM/                           motion representations (DAE or PCA)
#   W/predicted_raw/NAME/<id>.txt              predicted motion vectors (positions + velocities)
#   W/predicted/NAME/<id>.txt                  positions only (what is evaluated)
#   W/original/<id>.txt                        ground-truth positions of the test files
#   W/result/NAME/{ape,mae,aa,aj}.csv ...      evaluation tables

PYTHON=${PYTHON:-python}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}  # TensorFlow's C++ start-up chatter
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

run() { "$PYTHON" "$repo_root/$1" "${@:2}"; }

# meta_value DATA_DIR KEY: a value of DATA_DIR/meta.json
meta_value() {
    "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$1/meta.json" "$2"
}

# ground_truth DATA_DIR W: test-file positions from the BVH labels (once per work directory)
ground_truth() {
    [[ -d "$2/original" ]] || run helpers/convert_original.py -d "$1/test/labels" \
        -o "$2/original" --data-dir "$1"
}

# train_speech_model DATA_DIR W NAME ENCODE [DIM ENCODED_DIR]: train.py with the config's options
train_speech_model() {
    local data=$1 work=$2 name=$3 encode=$4 n_input=${numb_in_features:-}
    [[ -n "$n_input" ]] || n_input=$(meta_value "$data" feature_size)
    local options=(--batch-size "$batch_size" --learning-rate "$learning_rate" --seed "$seed")
    [[ -z "$patience" ]] || options+=(--patience "$patience")
    [[ -z "${6:-}" ]] || options+=(--encoded-dir "$6")
    run train.py "$work/models/$name.keras" "$epochs" "$data" "$n_input" "$encode" ${5:+"$5"} \
        "${options[@]}"
}

# learn_representation DATA_DIR CHKPT KIND DIM: the DAE (or PCA), skipped when already complete
learn_representation() {
    if grep -qs '"complete": true' "$2/representation.json"; then
        echo "representation $2 already trained"
        return
    fi
    run motion_repr_learning/ae/learn_dataset_encoding.py "$1" --chkpt-dir "$2" --kind "$3" \
        --dim "$4" --epochs "$ae_epochs" --learning-rate "$ae_learning_rate" --seed "$seed"
}

# predict_test DATA_DIR W NAME: predict every test file, then strip the velocities
predict_test() {
    run predict.py "$2/models/$3.keras" "$1/test_inputs" "$2/predicted_raw/$3"
    run helpers/remove_velocity.py -g "$2/predicted_raw/$3" -o "$2/predicted/$3"
}

# evaluate DATA_DIR W NAME...: APE, MAE, AJ, AA and speed histograms of every NAME
evaluate() {
    local data=$1 work=$2
    shift 2
    local dirs=(-o "$work/original" -p "$work/predicted" --out "$work/result"
                --skeleton "$data/skeleton.json")
    run evaluation/calc_errors.py "${dirs[@]}" -g "$@" -m ape
    run evaluation/calc_errors.py "${dirs[@]}" -g "$@" -m mae
    run evaluation/calc_jerk.py "${dirs[@]}" -g "$@" -m jerk
    run evaluation/calc_jerk.py "${dirs[@]}" -g "$@" -m acceleration
    run evaluation/calc_distance.py "${dirs[@]}" -g "$@" -m velocity -w 0.05
    run evaluation/hellinger.py --result-dir "$work/result" -g "$@" > /dev/null
}

# append_result W NAME RESULTS_CSV key=value...: one row of the results table
append_result() {
    run evaluation/collect_results.py append "$1/result" "$2" "$3" "${@:4}"
}
