# Shared by scripts/run and scripts/test: a virtualenv with the project installed, rebuilt when
# pyproject.toml changes, and the UI bundle built when missing or stale.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

ensure_venv() {
  local extras="$1" stamp
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  stamp="$(sha256sum pyproject.toml | cut -c1-16)-$extras"
  if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ]; then
    echo "==> installing Python packages ($extras)"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[$extras]"
    # the workers and the scheduler run with -OO (plugin/processes.py): their bytecode, cached
    .venv/bin/python -m compileall -q -j 0 -o 2 .venv/lib >/dev/null 2>&1 || true
    echo "$stamp" > .venv/.installed
  fi
  .venv/bin/python -m compileall -q -j 0 -o 2 plugin >/dev/null 2>&1 || true
}

ensure_ui() {
  local stamp
  command -v npm >/dev/null || { echo "npm is required to build the UI (Node.js 20+)"; return 1; }
  stamp="$( (cat ui/package-lock.json ui/package.json ui/index.html ui/vite.config.* 2>/dev/null; find ui/src ui/public -type f 2>/dev/null | sort | xargs cat 2>/dev/null) | sha256sum | cut -c1-16)"
  if [ ! -f ui/dist/index.html ] || [ "$(cat ui/dist/.stamp 2>/dev/null)" != "$stamp" ]; then
    echo "==> building the UI"
    (cd ui && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run build --silent)
    echo "$stamp" > ui/dist/.stamp
  fi
}
