#!/usr/bin/env bash
# Creates (or reuses) the Python venv with PyFlink for the reference benchmark.
# Idempotent: re-running only checks that the pinned version is installed.
#
#   bench/pyflink/setup.sh                    # venv at $HOME/.cache/riffle-bench-venv
#   RIFFLE_BENCH_VENV=/some/dir bench/pyflink/setup.sh
#   PYTHON=python3.11 bench/pyflink/setup.sh  # choose the interpreter
#
# apache-flink 2.3.0 is the newest release on PyPI; it ships wheels for CPython 3.9-3.12 and
# runs on Java 11/17 (17 is the recommended JDK since Flink 2.0).
set -euo pipefail

FLINK_VERSION="2.3.0"
VENV="${RIFFLE_BENCH_VENV:-$HOME/.cache/riffle-bench-venv}"
PYTHON="${PYTHON:-python3}"

if ! command -v java >/dev/null 2>&1; then
    echo "setup.sh: java not found; PyFlink ${FLINK_VERSION} needs a JDK/JRE 11 or 17" \
         "(e.g. apt-get install openjdk-17-jre-headless)" >&2
    exit 1
fi
java_major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
if [ -n "$java_major" ] && [ "$java_major" -lt 11 ]; then
    echo "setup.sh: Java $java_major found; PyFlink ${FLINK_VERSION} needs Java 11 or newer (17 recommended)" >&2
    exit 1
fi

if ! "$PYTHON" -c 'import sys; sys.exit(not ((3, 9) <= sys.version_info[:2] <= (3, 12)))'; then
    echo "setup.sh: $PYTHON is Python $("$PYTHON" -c 'import sys; print(sys.version.split()[0])');" \
         "apache-flink ${FLINK_VERSION} has wheels for 3.9-3.12 only (set PYTHON=python3.11)" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup.sh: creating venv at $VENV with $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    "$PYTHON" -m venv "$VENV"
fi

if "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('apache-flink') != '${FLINK_VERSION}')" 2>/dev/null; then
    echo "setup.sh: apache-flink ${FLINK_VERSION} already installed in $VENV"
else
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install "apache-flink==${FLINK_VERSION}"
fi

"$VENV/bin/python" - <<'EOF'
import importlib.metadata as m, sys
from pyflink.version import __version__
print(f"setup.sh: apache-flink {m.version('apache-flink')} (pyflink {__version__}), "
      f"Python {sys.version.split()[0]}, venv {sys.prefix}")
EOF
java -version 2>&1 | head -1 | sed 's/^/setup.sh: java: /'
