#!/usr/bin/env bash
# From nothing to a keyword spotter worth keeping on Ethos-U55-128: set up, then run the chain on MLPerf Tiny's
# reference DS-CNN weights (published with the zoo) and data the repository ships — int8 PTQ, Vela, verification
# with the TOSA reference model, the same network's MLPerf .tflite side by side, and the card.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/tinyzoo build kws/ds_cnn.mlperf --profile quick --target ethos-u55-128 \
    --weights zoo/artifacts/kws/ds_cnn.mlperf/checkpoint.pt --build-dir build/quickstart/kws/ds_cnn.mlperf "$@"
cat <<'NEXT'

Next:
  . .venv/bin/activate
  tinyzoo build kws/ds_cnn --profile quick        # train the recipe's own DS-CNN (synthetic speech + the sample)
  tinyzoo data speech_commands --download --data-root DIR && tinyzoo build kws/ds_cnn --data-root DIR   # in full
NEXT
