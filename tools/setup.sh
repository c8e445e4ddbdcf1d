#!/usr/bin/env bash
# Install what kws needs on a fresh Debian/Ubuntu machine: system packages (PortAudio and
# PulseAudio for the microphone path, espeak-ng/flite for training data, mosquitto and openssl
# for the MQTT tests) and a virtualenv in .venv with the package and all its extras. Safe to run
# again.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins espeak-ng flite sox wamerican wordnet-base \
    mosquitto openssl \
    >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[mic,mqtt,wyoming,train,bench,ray,dev]'
echo "kws is installed in .venv"
