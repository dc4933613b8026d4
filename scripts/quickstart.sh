#!/usr/bin/env bash
# From nothing to a DS-CNN keyword-spotting model for Ethos-U55-128: set up, then run the whole chain
# (synthetic-speech training, int8, Vela, TOSA-reference verification, card) on data the repository ships.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tinyzoo build kws/ds_cnn --profile quick --target ethos-u55-128 --build-dir build/quickstart/kws/ds_cnn "$@"
