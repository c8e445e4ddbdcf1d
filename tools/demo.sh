#!/usr/bin/env bash
# Install kws (tools/setup.sh), then listen with the four shipped wake-word models: on the
# default microphone when one answers (with the environment model too); otherwise on the bundled
# demo recording (a held-out voice saying the wake words over room tone, speech and music, see
# firmware_models/demo/README.md), paced like a live microphone. On a terminal a readable line
# follows each JSON event. Ctrl-C stops it with a summary status event.
# Extra arguments go to kws.listen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
WAKE_WORDS=()
for name in hey_jarvis alexa okay_nabu hey_mycroft; do
  WAKE_WORDS+=(--model "firmware_models/$name.tflite")
done
if .venv/bin/python -c "import sounddevice as sd; sd.query_devices(kind='input')" 2>/dev/null; then
  echo "listening on the default microphone: say hey jarvis, alexa, okay nabu or hey mycroft" \
    "(Ctrl-C to stop)" >&2
  exec .venv/bin/python -m kws.listen "${WAKE_WORDS[@]}" \
    --model firmware_models/environment.tflite "$@"
fi
DEMO=firmware_models/demo/wake_words.wav
echo "no microphone answered: streaming $DEMO (36 s) in real time;" \
  "what is said when: firmware_models/demo/README.md" >&2
exec .venv/bin/python -m kws.listen "${WAKE_WORDS[@]}" --input "$DEMO" --realtime "$@"
