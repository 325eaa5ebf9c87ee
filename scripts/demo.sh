#!/usr/bin/env bash
# The main job: install what is missing, start the embedded database under
# $AEF_DB_HOME (default ./.aef), apply every migration, run a sample SOP execution
# (aef-db demo: simulated browser, real database), then show the migrations'
# status, the doctor's report and the audit chain's verification. Safe to run
# again: setup and migrations are no-ops when done, and each demo run adds one
# more execution.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
aef=.venv/bin/aef-db
$aef db start
$aef migrate up
$aef demo
$aef migrate status
$aef doctor
$aef audit verify
