#!/usr/bin/env bash
# Install the Autobahn TestSuite (wstest 0.8.2, Python 2.7 only) into a
# dedicated virtualenv. Idempotent: does nothing if the venv already holds a
# working wstest built from the current scripts/autobahn-requirements.txt.
#
# Env:
#   AUTOBAHN_VENV      venv location (default: $HOME/.cache/rocws/autobahn-venv)
#   AUTOBAHN_PYTHON27  explicit python2.7 interpreter (default: found via pyenv)
#
# Needs: CPython 2.7 (pyenv 2.7.18 on this machine kind), gcc (wsaccel and
# zope.interface are built from sdists), PyPI access.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQ="$SCRIPT_DIR/autobahn-requirements.txt"
VENV="${AUTOBAHN_VENV:-$HOME/.cache/rocws/autobahn-venv}"
STAMP="$VENV/.rocws-requirements.sha256"
# virtualenv >= 20.22 cannot create py2.7 envs; these are the versions that
# pip resolves for virtualenv 20.15.1 under CPython 2.7 (bootstrap tool only).
BOOTSTRAP_PKGS=(
  virtualenv==20.15.1 distlib==0.4.4 filelock==3.2.1 platformdirs==2.0.2
  six==1.17.0 importlib-metadata==2.1.3 importlib-resources==3.3.1
  pathlib2==2.3.7.post1 zipp==1.2.0 configparser==4.0.2
  contextlib2==0.6.0.post1 scandir==1.10.0 singledispatch==3.7.0
  typing==3.10.0.0
)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export PYTHONWARNINGS=ignore   # silence cryptography's py2 deprecation noise

log() { echo "[install-autobahn] $*"; }
die() { echo "[install-autobahn] ERROR: $*" >&2; exit 1; }

req_hash() { sha256sum "$REQ" | cut -d' ' -f1; }

# Run in a scratch cwd: wstest/twisted should not depend on (or litter) ours.
wstest_works() {
  local v="$1" out
  [[ -x "$v/bin/wstest" && -x "$v/bin/python" ]] || return 1
  out="$(cd "${TMPDIR:-/tmp}" && "$v/bin/wstest" --autobahnversion 2>/dev/null)" || return 1
  grep -q 'AutobahnTestSuite 0.8.2' <<<"$out" || return 1
  (cd "${TMPDIR:-/tmp}" && "$v/bin/python" -c \
    'import autobahntestsuite.fuzzing, autobahntestsuite.echo, wsaccel' 2>/dev/null) || return 1
}

[[ -f "$REQ" ]] || die "missing $REQ"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(req_hash)" ]] && wstest_works "$VENV"; then
  log "wstest already installed and working in $VENV; nothing to do"
  exit 0
fi

is_py27() { [[ -x "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; }

find_py27() {
  local c roots=()
  if [[ -n "${AUTOBAHN_PYTHON27:-}" ]]; then
    is_py27 "$AUTOBAHN_PYTHON27" && { echo "$AUTOBAHN_PYTHON27"; return 0; }
    die "AUTOBAHN_PYTHON27=$AUTOBAHN_PYTHON27 is not a Python 2.7 interpreter"
  fi
  if command -v pyenv >/dev/null 2>&1; then roots+=("$(pyenv root 2>/dev/null || true)"); fi
  roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv" "/root/.pyenv" "/opt/pyenv" "/usr/local/pyenv")
  for r in "${roots[@]}"; do
    [[ -n "$r" && -d "$r/versions" ]] || continue
    # newest 2.7.x first
    for c in $(ls -d "$r"/versions/2.7* 2>/dev/null | sort -rV); do
      is_py27 "$c/bin/python" && { echo "$c/bin/python"; return 0; }
    done
  done
  for c in python2.7 python2; do
    if command -v "$c" >/dev/null 2>&1 && is_py27 "$(command -v "$c")"; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

PY27="$(find_py27)" || die "no Python 2.7 interpreter found (pyenv 2.7.18 expected; set AUTOBAHN_PYTHON27)"
log "using Python 2.7 at $PY27"

START=$SECONDS
CACHE_DIR="$(dirname "$VENV")"
TOOLS="$CACHE_DIR/virtualenv-py27-20.15.1"
mkdir -p "$CACHE_DIR"

if ! PYTHONPATH="$TOOLS" "$PY27" -c 'import virtualenv' 2>/dev/null; then
  log "bootstrapping virtualenv 20.15.1 (py2.7-capable) into $TOOLS"
  rm -rf "$TOOLS" "$TOOLS.tmp"
  "$PY27" -m pip install -q --target "$TOOLS.tmp" "${BOOTSTRAP_PKGS[@]}"
  mv "$TOOLS.tmp" "$TOOLS"
fi

if [[ -e "$VENV" ]]; then
  log "removing stale/incomplete venv $VENV"
  rm -rf "$VENV"
fi
log "creating py2.7 virtualenv at $VENV"
PYTHONPATH="$TOOLS" "$PY27" -m virtualenv -q -p "$PY27" "$VENV"

log "pip installing pinned requirements from $REQ"
"$VENV/bin/python" -m pip install -q -r "$REQ"

wstest_works "$VENV" || die "wstest installed but does not run; see: $VENV/bin/wstest --autobahnversion"
req_hash >"$STAMP"
log "done in $((SECONDS - START))s: $(cd "${TMPDIR:-/tmp}" && "$VENV/bin/wstest" --autobahnversion 2>/dev/null | tr '\n' ' ')"
log "wstest: $VENV/bin/wstest"
