#!/usr/bin/env bash
# Runs the PyFlink reference jobs for parallelism 1 and 2 and prints a markdown table.
# Usage: bench/pyflink/run.sh            (ROWS=5000000 by default; JOBS to choose jobs)
# Needs the venv made by setup.sh. Each run starts its own JVM and local mini-cluster.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${RIFFLE_BENCH_VENV:-$HOME/.cache/riffle-bench-venv}"
ROWS="${ROWS:-5000000}"
JOBS="${JOBS:-source stateless window}"
PARALLELISM="${PARALLELISM:-1 2}"
DETAILS="$(mktemp)"
trap 'rm -f "$DETAILS"' EXIT

if [ ! -x "$VENV/bin/python" ]; then
    echo "run.sh: no venv at $VENV; run $HERE/setup.sh first" >&2
    exit 1
fi

echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
if pgrep -x rustc >/dev/null || pgrep -x cargo >/dev/null; then
    echo "# warning: a cargo/rustc process is running; figures will be low" >&2
fi
"$VENV/bin/python" -c "import importlib.metadata as m; print('# apache-flink', m.version('apache-flink'))"
java -version 2>&1 | head -1 | sed 's/^/# /'
echo
echo "| job | P | rows | seconds | M events/s | M events/s per worker |"
echo "|---|---|---|---|---|---|"
for job in $JOBS; do
    for p in $PARALLELISM; do
        "$VENV/bin/python" "$HERE/nexmark_ref.py" --rows "$ROWS" --parallelism "$p" --job "$job" \
            2> >(grep '^# ' >>"$DETAILS" || true)
    done
done
wait
sleep 1
echo
cat "$DETAILS"
