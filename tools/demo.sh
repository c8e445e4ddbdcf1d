#!/usr/bin/env bash
# Install kws (tools/setup.sh), then listen: on the default microphone when one answers, with
# the shipped "hey jarvis" and environment models; otherwise with the demo model on the bundled
# demo recording, paced like a live microphone. Ctrl-C stops it with a summary status event.
# Extra arguments go to kws.listen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
MODEL=firmware_models/chirp_demo.tflite
if .venv/bin/python -c "import sounddevice as sd; sd.query_devices(kind='input')" 2>/dev/null; then
  echo "listening on the default microphone (Ctrl-C to stop)" >&2
  exec .venv/bin/python -m kws.listen --model firmware_models/hey_jarvis.tflite \
    --model firmware_models/environment.tflite "$@"
fi
echo "no microphone answered: streaming firmware_models/demo/chirp_demo.wav in real time" >&2
exec .venv/bin/python -m kws.listen --model "$MODEL" \
  --input firmware_models/demo/chirp_demo.wav --realtime "$@"
