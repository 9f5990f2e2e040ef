# Shared set-up for scripts/demo and scripts/test: sourced, not run. Safe to run any number of times.
# Creates .venv, installs coldlab with the extras asked for, and the Debian packages the tests need.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "coldlab needs Python >= 3.11; none was found on PATH" >&2; exit 2; }

# Packages named here come from Debian; installed once, skipped when present.
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "note: not root, so Debian packages ${missing[*]} were not installed; tests that need them will skip" >&2
    return 0
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# setup_venv EXTRAS: (re)install only when pyproject.toml or the extras changed.
setup_venv() {
  local extras="$1"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  local stamp=".venv/.coldlab-installed"
  local want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[$extras]"
    echo "$want" > "$stamp"
  fi
  export PATH="$ROOT/.venv/bin:$PATH"
}
