#!/usr/bin/env bash
# Installs what aef-db needs on Debian 12 and nothing more: PostgreSQL 15 with
# the extensions and tools the project uses (pg_cron, pgTAP with pg_prove, wal2json
# for the realtime tests) from Debian's packages, and
# the virtualenv .venv with the package and its test tools. Each step runs only
# when something is missing, so running it again does no harm.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for pkg in postgresql-15 postgresql-client-15 postgresql-15-cron postgresql-15-pgtap postgresql-15-wal2json \
           libtap-parser-sourcehandler-pgtap-perl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The virtualenv is rebuilt only when pyproject.toml changes (its hash is the stamp).
stamp=".venv/.installed-from"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
[ -x .venv/bin/python ] || python3 -m venv .venv
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing aef-db into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  echo "$wanted" > "$stamp"
fi
