#!/usr/bin/env bash
# The API against its own OpenAPI document: `schemathesis run --checks all` over every phase
# (examples, coverage, fuzzing, and stateful testing through the document's `links`), on a real
# server (`python server.py serve`: granian, SQLite, the embedded Redis) in a fresh data folder.
#
#   bash bench/schemathesis.sh            # 10 minutes (the budget of fuzzing and stateful phases)
#   bash bench/schemathesis.sh 120        # another budget, in seconds
#   AUTOMATION_API_SERVER=gunicorn bash bench/schemathesis.sh
#
# Exits with schemathesis' status (0: no failure). Reports (JUnit, NDJSON) go to $REPORT_DIR
# (default: a temporary folder, printed at the end). The last result is in bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUDGET=${1:-600}
PY=${PY:-.venv/bin/python}
WORK=$(mktemp -d)
REPORT_DIR=${REPORT_DIR:-$WORK/report}
PORT=${PORT:-$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
TOKEN="schemathesis-$($PY -c 'import secrets; print(secrets.token_hex(16))')"

export PORT AUTOMATION_DATA_DIR="$WORK/data" AUTOMATION_API_TOKEN="$TOKEN"
export DATABASE_URL=${DATABASE_URL:-sqlite:///$WORK/data/automation.db}
export AUTOMATION_SECRET_KEY=${AUTOMATION_SECRET_KEY:-$($PY -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')}
export AUTOMATION_ACCESS_LOG=0
unset REDIS_URL  # the embedded Redis of the data folder
mkdir -p "$AUTOMATION_DATA_DIR"

$PY server.py serve >"$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1 && break
  sleep 0.5
done

set +e
.venv/bin/schemathesis --config-file bench/schemathesis.toml run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --checks all --phases examples,coverage,fuzzing,stateful --max-time "$BUDGET" \
  --header "Authorization: Bearer $TOKEN" --workers 2 --request-timeout 30 \
  --suppress-health-check all --generation-database none --no-color \
  --report junit,ndjson --report-dir "$REPORT_DIR" "${@:2}"
STATUS=$?
set -e
echo "schemathesis exit status: $STATUS; reports in $REPORT_DIR; server log $WORK/serve.log"
grep -c '" 5[0-9][0-9] \|Traceback' "$WORK/serve.log" >/dev/null && echo "server errors logged: see $WORK/serve.log"
exit $STATUS
