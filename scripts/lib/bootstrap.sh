# Sourced by scripts/test and scripts/demo: make .venv hold exactly what pyproject.toml asks for.
# Idempotent: reinstalls only when pyproject.toml changed since the last successful install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Flattr Companion needs Python 3.11 or newer (found: $("$PY" --version 2>&1))." >&2
  echo "Install it (Debian/Ubuntu: sudo apt-get install python3 python3-venv) and run this again." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV" >&2
  "$PY" -m venv "$VENV" || {
    echo "Could not create a virtual environment. On Debian/Ubuntu: sudo apt-get install python3-venv" >&2
    exit 1
  }
fi
STAMP="$VENV/.flattr-installed"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "== installing Python packages into $VENV (once per pyproject.toml change)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev,sim]"
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
