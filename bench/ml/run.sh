#!/usr/bin/env bash
# Fit-time benchmark of riffle-ml against scikit-learn (and the Rust libraries linfa and
# smartcore) on the same 200,000 x 20 generated CSV files, all in one run, on this machine.
#
#   bench/ml/run.sh [DIR]        # data and results in DIR (default /tmp/riffle-ml-bench)
#
# Riffle's side is three release examples of crates/riffle-ml (bench_linear, bench_trees,
# bench_classic), which also write the CSV files; scikit-learn's side reads those files in the
# venv $RIFFLE_ML_VENV (default ~/.cache/riffle-ml-venv, created here if missing from $PYTHON,
# by default /usr/bin/python3 where it exists: see bench/ml/online.sh on why the build of
# CPython matters).
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR="${1:-/tmp/riffle-ml-bench}"
VENV="${RIFFLE_ML_VENV:-$HOME/.cache/riffle-ml-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riffle-target}"
mkdir -p "$DIR"
PYTHON="${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q "scikit-learn==1.9.1" numpy pandas
fi
cargo build --release -q -p riffle-ml --examples
examples="$CARGO_TARGET_DIR/release/examples"
{
    echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "== riffle"
    "$examples/bench_linear" "$DIR"
    "$examples/bench_trees" "$DIR/trees.csv"
    "$examples/bench_classic" "$DIR/classic"
    echo "== scikit-learn $("$VENV/bin/python" -c 'import sklearn; print(sklearn.__version__)')"
    "$VENV/bin/python" bench/ml/bench_sklearn.py "$DIR"
    "$VENV/bin/python" bench/ml/bench_classic.py "$DIR/classic"
    if [ -f bench/ml/rust-baselines/Cargo.toml ]; then
        echo "== linfa / smartcore"
        CARGO_TARGET_DIR="$HOME/.cache/riffle-baselines-target" \
            cargo run --release -q --manifest-path bench/ml/rust-baselines/Cargo.toml -- "$DIR"
    fi
} 2>&1 | tee "$DIR/results.txt"
