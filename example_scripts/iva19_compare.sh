#!/usr/bin/env bash
# The IVA'19 comparison on held-out files: the baseline and the proposed model (a DAE of every
# width in DIMS) for each feature set in FEATURE_SETS, a PCA representation of the same widths
# as a reference, and the static mean pose. Writes RESULTS_DIR/iva19_table.md and .csv.
# Settings come from config.txt (or the file given as $1) and the environment; `make demo`
# runs it on the demo speaker's recordings (RAW_DIR=demo/raw). Rerunning after an interruption
# reuses the datasets, representations and finished trainings.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source "${1:-$here/config.txt}"
source "$here/iva19_lib.sh"

start=$SECONDS
step() { printf '\n== [%4ds] %s ==\n' "$((SECONDS - start))" "$*"; }
work=$compare_dir/runs
mkdir -p "$work"

datasets=()
for features in $feature_sets; do
    data=$compare_dir/$features
    datasets+=("$data")
    if [[ -f "$data/meta.json" && "$(meta_value "$data" n_context)" == "$n_context" ]]; then
        continue
    fi
    step "dataset $features (N_CONTEXT $n_context) -> $data"
    run data_processing/prepare_data.py "$raw_dir" "$data" --seed "$seed"
    run data_processing/create_vector.py "$data" "$n_context" --features "$features" --fps 20
done
reference=${datasets[0]}
motion_size=$(meta_value "$reference" output_size)

step "ground truth and the static mean pose"
ground_truth "$reference" "$work"
run helpers/mean_pose.py "$reference" "$work/predicted_raw/mean_pose"
run helpers/remove_velocity.py -g "$work/predicted_raw/mean_pose" -o "$work/predicted/mean_pose"
echo "name,features,model,representation,dim,seconds" > "$work/labels.csv"
echo "mean_pose,-,mean pose,none,$motion_size,0" >> "$work/labels.csv"

# in_background LOG COMMAND...: run COMMAND in the background, at most PARALLEL at once. Much
# of each step is single-threaded (start-up, imports, tracing, the data pipeline), so two
# processes keep two cores busier than one.
in_background() {
    local log=$1
    "${@:2}" > "$log" 2>&1 &
    while (( $(jobs -rp | wc -l) >= parallel )); do wait -n || true; done
}

# check_done FILE LOG: after `wait`, fail with the end of LOG unless the job wrote FILE
check_done() {
    if [[ ! -f "$1" ]]; then
        tail -n 20 "$2" >&2
        echo "error: a step failed (log: $2)" >&2
        exit 1
    fi
}

# The feature sets share recordings and split, hence the motion: one representation and one
# encoding per DIM serve all of them (train.py checks the motion fingerprint).
representation_job() {
    local chkpt=$work/repr/$1_$2
    learn_representation "$reference" "$chkpt" "$1" "$2"
    run motion_repr_learning/ae/encode_dataset.py "$reference" --chkpt-dir "$chkpt" \
        --out "$chkpt/encoded"
}
mkdir -p "$work/logs" "$work/rows"
for dim in $dims; do
    for kind in dae pca; do
        step "$kind representation of DIM $dim (log: $work/logs/${kind}_$dim.log)"
        rm -f "$work/repr/${kind}_$dim/encoded/encoding.json"
        in_background "$work/logs/${kind}_$dim.log" representation_job "$kind" "$dim"
    done
done
wait
for dim in $dims; do
    for kind in dae pca; do
        check_done "$work/repr/${kind}_$dim/encoded/encoding.json" "$work/logs/${kind}_$dim.log"
        grep -h "APE" "$work/logs/${kind}_$dim.log" | sed "s/^/$kind $dim: /"
    done
done

# The models, in table order: "data|name|labels|ENCODE|DIM|codes" (labels are CSV cells)
plan=()
for data in "${datasets[@]}"; do
    features=$(meta_value "$data" features)
    plan+=("$data|baseline_$features|$features,baseline,none,$motion_size|False||")
    kinds=(dae)
    [[ " $pca_feature_sets " != *" $features "* ]] || kinds+=(pca)
    for kind in "${kinds[@]}"; do
        model=$([[ $kind == dae ]] && echo proposed || echo "PCA reference")
        for dim in $dims; do
            plan+=("$data|${kind}${dim}_$features|$features,$model,$kind,$dim|True|$dim|\
$work/repr/${kind}_$dim/encoded")
        done
    done
done

# model_job PLAN_ENTRY: train and predict one model; its row goes to $work/rows/NAME.csv last
model_job() {
    local data name row encode dim codes t0=$SECONDS
    IFS='|' read -r data name row encode dim codes <<< "$1"
    train_speech_model "$data" "$work" "$name" "$encode" ${dim:+"$dim" "$codes"}
    predict_test "$data" "$work" "$name"
    echo "$name,$row,$((SECONDS - t0))" > "$work/rows/$name.csv"
}

rm -f "$work"/rows/*.csv
for entry in "${plan[@]}"; do
    name=$(cut -d'|' -f2 <<< "$entry")
    step "training and predicting $name (log: $work/logs/$name.log)"
    in_background "$work/logs/$name.log" model_job "$entry"
done
wait
for entry in "${plan[@]}"; do
    name=$(cut -d'|' -f2 <<< "$entry")
    check_done "$work/rows/$name.csv" "$work/logs/$name.log"
    cat "$work/rows/$name.csv" >> "$work/labels.csv"
done

mapfile -t names < <(tail -n +2 "$work/labels.csv" | cut -d, -f1)
step "evaluation of ${#names[@]} predictions"
evaluate "$reference" "$work" "${names[@]}" > "$work/evaluation.log"
run evaluation/collect_results.py table "$work/result" "$work/labels.csv" \
    "$results_dir/iva19_table.csv" "$results_dir/iva19_table.md" \
    --title "IVA'19 on $(basename "$raw_dir"): held-out test files (positions in cm)"
step "IVA'19 comparison done in $((SECONDS - start)) s -> $results_dir/iva19_table.{md,csv}"
