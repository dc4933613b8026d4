#!/usr/bin/env bash
# Set up tinyzoo from nothing: a virtual environment in .venv with the pinned stack, and the Debian
# text-to-speech engines the synthetic-speech data source uses. Safe to run again: it only redoes what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "tinyzoo needs Python 3.11 (executorch 1.5.1 wheels); found $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

stamp=.venv/.tinyzoo-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing the pinned stack into .venv (torch 2.14.1, executorch[ethos-u] 1.5.1, …)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  # torchaudio 2.11 pins torch 2.11, with which executorch 1.5.1 fails; its transforms work on torch 2.14.1.
  .venv/bin/python -m pip install -q --no-deps torchaudio==2.11.0
  echo "$want" > "$stamp"
fi

# Text-to-speech engines for synthetic keyword clips (common/data/synthetic_speech.py).
TTS_PACKAGES="espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
if ! command -v espeak-ng >/dev/null || ! command -v flite >/dev/null || ! command -v text2wave >/dev/null || [ ! -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing text-to-speech engines: $TTS_PACKAGES"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $TTS_PACKAGES >/dev/null
  else
    echo "note: for synthetic speech install the TTS engines: sudo apt-get install $TTS_PACKAGES" >&2
  fi
fi
# Cortex-M toolchain for the firmware apps' compile check (tests/test_firmware_cross.py; the device build itself
# is documented in common/firmware/README.md).
FIRMWARE_PACKAGES="gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
if ! command -v arm-none-eabi-gcc >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the Cortex-M toolchain: $FIRMWARE_PACKAGES"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $FIRMWARE_PACKAGES >/dev/null
  else
    echo "note: for the firmware compile check install: sudo apt-get install $FIRMWARE_PACKAGES" >&2
  fi
fi
echo "ready: . .venv/bin/activate && tinyzoo list"
