#!/usr/bin/env bash
# Creates (or reuses) a Python venv with PyFlink for the reference benchmark.
# Idempotent: re-running only checks that the pinned version is installed.
set -euo pipefail

FLINK_VERSION="2.3.0"
VENV="${RIFFLE_BENCH_VENV:-$HOME/.cache/riffle-bench-venv}"
PYTHON="${PYTHON:-python3}"

if ! command -v java >/dev/null 2>&1; then
    echo "setup.sh: java not found; PyFlink ${FLINK_VERSION} needs a JDK 11 or 17 (e.g. apt-get install openjdk-17-jre-headless)" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup.sh: creating venv at $VENV"
    "$PYTHON" -m venv "$VENV"
fi

if "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('apache-flink') != '${FLINK_VERSION}')" 2>/dev/null; then
    echo "setup.sh: apache-flink ${FLINK_VERSION} already installed in $VENV"
else
    "$VENV/bin/python" -m pip install --upgrade pip
    "$VENV/bin/python" -m pip install "apache-flink==${FLINK_VERSION}"
fi

"$VENV/bin/python" -c "import importlib.metadata as m; print('apache-flink', m.version('apache-flink'))"
