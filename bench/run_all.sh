#!/usr/bin/env bash
# Every benchmark, one after another (each ≤ 3 min but isolation, up to ~20 min while a broken
# receiver still stalls the engine); tables on stdout, JSON in bench/results/.
#
#   bench/run_all.sh           measure this checkout's working tree
#   bench/run_all.sh --head    measure the committed HEAD (exported to .cache/bench-head), so a
#                              stable commit can be measured while the checkout is being edited
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

if [ "${1:-}" = "--head" ]; then
  rm -rf .cache/bench-head && mkdir -p .cache/bench-head
  git archive HEAD | tar -x -C .cache/bench-head
  echo "$(git rev-parse HEAD) $(git log -1 --format=%s)" > .cache/bench-head/.bench-source
  export BENCH_TARGET="$PWD/.cache/bench-head"
  echo "measuring HEAD $(git rev-parse --short HEAD) from $BENCH_TARGET"
fi

command -v wrk >/dev/null || apt-get install -y wrk
"$PY" -c "import psutil" 2>/dev/null || "$PY" -m pip install -q -r bench/requirements.txt

for name in e2e batch_ingest matching date_sweep waits isolation memory; do
  echo
  echo "=== bench/$name.py"
  "$PY" "bench/$name.py"
done
