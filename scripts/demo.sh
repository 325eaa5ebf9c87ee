#!/usr/bin/env bash
# The main job: install what is missing, start the embedded database under
# $AEF_DB_HOME (default ./.aef), apply every migration, then show their status
# and the doctor's report. Safe to run again: each step is a no-op when done.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
aef=.venv/bin/aef-db
$aef db start
$aef migrate up
$aef migrate status
$aef doctor
