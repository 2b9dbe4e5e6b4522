#!/usr/bin/env bash
# The main job on the built-in demo speaker: generate it, split it, build the vectors.
# Run through `make demo` (which installs everything first) or directly inside the venv.
# DEMO_DIR (default demo/) holds every intermediate file; results/ holds the tables.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_DIR=${DEMO_DIR:-demo}
SEED=${SEED:-0}
start=$SECONDS
step() { printf '\n== [%4ds] %s ==\n' "$((SECONDS - start))" "$*"; }

step "demo speaker -> $DEMO_DIR/raw"
python data_processing/make_demo_dataset.py "$DEMO_DIR/raw" --seed "$SEED"

step "split and vectors for IVA'19 (20 fps, positions + velocities) -> $DEMO_DIR/iva19"
python data_processing/prepare_data.py "$DEMO_DIR/raw" "$DEMO_DIR/iva19" --seed "$SEED"
python data_processing/create_vector.py "$DEMO_DIR/iva19" 60 --features MFCC --fps 20

step "split and vectors for Audio2Gestures (30 fps, 6D rotations) -> $DEMO_DIR/a2g"
python data_processing/prepare_data.py "$DEMO_DIR/raw" "$DEMO_DIR/a2g" --seed "$SEED"
python data_processing/create_vector.py "$DEMO_DIR/a2g" 0 --features Spectro \
    --mel-preset a2g --fps 30 --motion rot6d

step "done in $((SECONDS - start)) s"
echo "raw recordings:  $DEMO_DIR/raw/{speech,motion}, hidden modes in $DEMO_DIR/raw/hidden_modes.json"
echo "IVA'19 dataset:  $DEMO_DIR/iva19 (meta.json, X_*.npy, Y_*.npy, test_inputs/)"
echo "A2G dataset:     $DEMO_DIR/a2g (meta.json, sequences/)"
