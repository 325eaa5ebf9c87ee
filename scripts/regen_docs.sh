#!/usr/bin/env bash
# Regenerates the generated documents: docs/cli.md from the commands' --help, and
# docs/schema.md and src/aef_db/sql/schema.sql from a freshly migrated throw-away
# embedded cluster.
# tests/acceptance/test_docs.py fails when either is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
home="$(mktemp -d /tmp/aef-db-docs-XXXXXX)"
chmod 755 "$home"
trap 'AEF_DB_HOME="$home" .venv/bin/aef-db db stop >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
export AEF_DB_HOME="$home"
unset DATABASE_URL
.venv/bin/aef-db migrate up >/dev/null 2>&1
.venv/bin/aef-db docs schema -o docs/schema.md
.venv/bin/aef-db docs schema-sql -o src/aef_db/sql/schema.sql
.venv/bin/python scripts/cli_reference.py
