#!/usr/bin/env bash
# The main job on the built-in demo speaker, from nothing to one comparison report:
#   1. generate the demo speaker (speech + motion capture with hidden gesture modes)
#   2. the IVA'19 comparison: baseline vs proposed (DAE) vs PCA, two feature sets
#   3. the Audio2Gestures ablation: baseline, split, mapping, bicycle, full
#   4. held-out predictions of every Audio2Gestures variant (several samples per file)
#   5. the FGD feature extractor
#   6. results/report.md: every method, every metric, plots
#   7. one BVH per method and one video (ground truth beside the methods, with the speech)
# Run through `make demo` (which installs everything first) or directly inside the venv.
# DEMO_PROFILE=quick (default, ~15-20 min on 2 cores) or full (`make demo-full`: longer
# training, better numbers; README.md gives its run time). DEMO_DIR (default demo/) holds
# every intermediate file, RESULTS_DIR (default results/) what people look at. Rerunning
# reuses finished steps.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_DIR=${DEMO_DIR:-demo}
RESULTS_DIR=${RESULTS_DIR:-results}
SEED=${SEED:-0}
PROFILE=${DEMO_PROFILE:-quick}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
case $PROFILE in
    quick) ;;
    full)  # the comparison's settings closer to the papers' (see docs/iva19.md)
        export N_CONTEXT=${N_CONTEXT:-30} EPOCHS=${EPOCHS:-10} A2G_STEPS=${A2G_STEPS:-1600}
        export A2G_EVAL_RUNS=${A2G_EVAL_RUNS:-10} ;;
    *) echo "error: DEMO_PROFILE must be quick or full, got '$PROFILE'" >&2; exit 1 ;;
esac
start=$SECONDS
step() { printf '\n== [%4ds] %s ==\n' "$((SECONDS - start))" "$*"; }

raw=$DEMO_DIR/raw compare=$DEMO_DIR/iva19_compare a2g=$DEMO_DIR/a2g a2g_runs=$DEMO_DIR/a2g_runs
step "demo speaker -> $raw"
[[ -f "$raw/hidden_modes.json" ]] || \
    python data_processing/make_demo_dataset.py "$raw" --seed "$SEED"

step "IVA'19 comparison -> $RESULTS_DIR/iva19_table.md"
RAW_DIR=$raw COMPARE_DIR=$compare RESULTS_DIR=$RESULTS_DIR SEED=$SEED \
    bash example_scripts/iva19_compare.sh

step "Audio2Gestures dataset (30 fps, 6D rotations) -> $a2g"
if [[ ! -f "$a2g/meta.json" ]]; then
    python data_processing/prepare_data.py "$raw" "$a2g" --seed "$SEED"
    python data_processing/create_vector.py "$a2g" 0 --features Spectro --mel-preset a2g \
        --fps 30 --motion rot6d
fi
step "Audio2Gestures ablation -> $RESULTS_DIR/a2g_table.md"
A2G_RUNS=$a2g_runs A2G_SEED=$SEED bash example_scripts/a2g_ablation.sh "$a2g" "$RESULTS_DIR"

variants=(baseline split mapping bicycle full)
step "Audio2Gestures held-out samples (10 per file) -> $a2g_runs/*/test_samples"
for variant in "${variants[@]}"; do
    [[ -d "$a2g_runs/$variant/test_samples" ]] || python predict.py "$a2g_runs/$variant" \
        "$a2g/test/inputs" "$a2g_runs/$variant/test_samples" --format npy --samples 10 \
        --seed "$SEED"
done

reference=$compare/MFCC
step "FGD feature extractor (trained on $reference) -> $DEMO_DIR/fgd_extractor"
python evaluation/fgd.py train "$reference" "$DEMO_DIR/fgd_extractor" --seed "$SEED"

# Every method as "title|prediction directory|dataset|BVH source": IVA'19 models in the order
# of the comparison table (labels.csv), then the Audio2Gestures variants.
runs=$compare/runs
methods=()
while IFS=, read -r name features model representation dim _; do
    case $model in
        "mean pose") title="mean pose" data=$reference ;;
        baseline) title="IVA'19 baseline ($features)" data=$compare/$features ;;
        proposed) title="IVA'19 DAE-$dim ($features)" data=$compare/$features ;;
        *) title="PCA-$dim ($features)" data=$compare/$features ;;
    esac
    methods+=("$title|$runs/predicted/$name|$data|$runs/predicted/$name")
done < <(tail -n +2 "$runs/labels.csv")
for variant in "${variants[@]}"; do
    methods+=("A2G $variant|$a2g_runs/$variant/test_samples|$a2g|$a2g_runs/$variant")
done

step "report of ${#methods[@]} methods -> $RESULTS_DIR/report.md"
report_args=()
for entry in "${methods[@]}"; do
    IFS='|' read -r title predictions data _ <<< "$entry"
    report_args+=(--method "$title" "$predictions" "$data")
done
python evaluation/report.py --truth "$reference:test" --fgd "$DEMO_DIR/fgd_extractor" \
    --out "$RESULTS_DIR/report" "${report_args[@]}"

test_id=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["splits"]["test"][0])' \
    "$reference/meta.json")
wav=$reference/test/inputs/$test_id.wav
bvh_dir=$RESULTS_DIR/bvh
step "one BVH per method for held-out file $test_id -> $bvh_dir"
mkdir -p "$bvh_dir"
cp "$reference/test/labels/$test_id.bvh" "$bvh_dir/ground_truth.bvh"
for entry in "${methods[@]}"; do
    IFS='|' read -r title _ data source <<< "$entry"
    out=$bvh_dir/$(tr -c 'A-Za-z0-9\n' '_' <<< "$title" | tr -s _ | sed 's/_$//').bvh
    if [[ -f "$source/config.json" ]]; then  # an Audio2Gestures run
        python predict.py "$source" "$wav" "$out" --seed "$SEED" > /dev/null
    else
        python helpers/to_bvh.py "$source/$test_id.txt" "$out" --data "$data" > /dev/null
    fi
    echo "$out"
done

video=$RESULTS_DIR/demo_$test_id.mp4
step "video: ground truth beside four methods, with the speech -> $video"
python helpers/render_video.py "$bvh_dir/ground_truth.bvh" \
    "$bvh_dir/IVA_19_baseline_MFCC.bvh" "$bvh_dir/IVA_19_DAE_32_MFCC.bvh" \
    "$bvh_dir/A2G_baseline.bvh" "$bvh_dir/A2G_full.bvh" \
    --titles "ground truth" "IVA'19 baseline" "IVA'19 DAE-32" "A2G baseline" "A2G full" \
    --audio "$wav" --out "$video"

step "demo ($PROFILE) done in $((SECONDS - start)) s"
cat <<EOF
report:  $RESULTS_DIR/report.md (+ report.csv, report_metrics.png, report_speed.png)
tables:  $RESULTS_DIR/iva19_table.md, $RESULTS_DIR/a2g_table.md
BVH:     $bvh_dir/*.bvh (one per method and the ground truth, held-out file $test_id)
video:   $video
EOF
