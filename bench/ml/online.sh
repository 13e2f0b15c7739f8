#!/usr/bin/env bash
# Online learning, predict then learn per record: Riffle against River on the same CSV
# files, in alternating rounds in one run (issue 6's throughput comparison).
#
#   bench/ml/online.sh [DIR] [ROUNDS]     # MODELS=logistic-sgd,linear-sgd runs only those
#
# River runs in the venv $RIFFLE_RIVER_VENV (default ~/.cache/riffle-river-venv), made here if
# missing from $PYTHON (default /usr/bin/python3 where it exists). The Python matters: a
# CPython built without its optimisations (pyenv's default build) ran River's loops 1.5x
# slower on this machine than Debian's build of the same 3.11, which would flatter Riffle.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR="${1:-/tmp/riffle-online-bench}"
ROUNDS="${2:-3}"
VENV="${RIFFLE_RIVER_VENV:-$HOME/.cache/riffle-river-venv}"
PYTHON="${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riffle-target}"
mkdir -p "$DIR"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q "river==0.26.1" pandas
fi
cargo build --release -q -p riffle-ml --example bench_online
riffle="$CARGO_TARGET_DIR/release/examples/bench_online"
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== River $("$VENV/bin/python" -c 'import river; print(river.__version__)') on $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])') ($(readlink -f "$PYTHON"))"
for round in $(seq "$ROUNDS"); do
    echo "== round $round"
    "$riffle" "$DIR"
    "$VENV/bin/python" bench/ml/bench_river.py "$DIR"
done
