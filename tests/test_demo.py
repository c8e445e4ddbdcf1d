"""What a new user sees: ``tools/demo.sh`` without a microphone streams the bundled recording
through the four shipped wake-word models, and ``kws.listen`` on a terminal writes a readable
line beside each JSON event while piped output stays pure JSON lines."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kws.events import Detection, Environment, Score, Status
from kws.readable import clock, readable

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware_models"
DEMO = FIRMWARE / "demo" / "wake_words.wav"
WAKE_WORDS = ("hey_jarvis", "alexa", "okay_nabu", "hey_mycroft")
CHIRP = (str(FIRMWARE / "chirp_demo.tflite"), str(FIRMWARE / "demo" / "chirp_demo.wav"))


def listen(*args: str, tty: bool = False) -> tuple[str, str]:
    """Run ``python -m kws.listen``: (stdout, stderr), stdout a pseudo-terminal if ``tty``."""
    command = [sys.executable, "-m", "kws.listen", *args]
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
        return done.stdout, done.stderr
    master, slave = pty.openpty()
    process = subprocess.Popen(command, stdout=slave, stderr=subprocess.PIPE, cwd=ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return b"".join(chunks).decode().replace("\r\n", "\n"), err.decode()


def test_demo_sh_without_a_microphone_plays_the_recording_to_the_four_wake_words() -> None:
    script = (ROOT / "tools" / "demo.sh").read_text()
    assert f"for name in {' '.join(WAKE_WORDS)}; do" in script
    assert "DEMO=firmware_models/demo/wake_words.wav" in script
    assert 'kws.listen "${WAKE_WORDS[@]}" --input "$DEMO" --realtime "$@"' in script


@pytest.mark.slow
def test_the_shipped_wake_words_on_the_bundled_recording() -> None:
    """What the shipped models catch in the demo (the README says the same): 'hey jarvis' in
    the quiet but not over music (the stop-43 hey_jarvis scores 0.81 there; stop 24's caught
    it, and missed twice as many test wake words at 1 FA/h), 'alexa' over French speech and
    'okay nabu' over music (both retrained as clips; the first alexa missed its word and fired
    on 'okay nabu'), 'hey mycroft' over Italian speech (the retrained hey_mycroft; the first
    one, trained on "mick-roft", missed it), and nothing else.
    Retrained models change this: update the test and the README together."""
    models = [arg for name in WAKE_WORDS for arg in ("--model", str(FIRMWARE / f"{name}.tflite"))]
    out, _ = listen(*models, "--input", str(DEMO))
    truth = json.loads(DEMO.with_suffix(".json").read_text())["keywords"]
    hits, false_alarms = set(), []
    for event in (json.loads(line) for line in out.splitlines()):
        if event["type"] != "detection":
            continue
        said = [
            k for k in truth
            if k["model"] == event["model"] and k["onset_s"] <= event["end"] <= k["offset_s"] + 1
        ]  # fmt: skip
        if said:
            hits.add((said[0]["model"], said[0]["onset_s"]))
        else:
            false_alarms.append((event["model"], round(event["end"], 1)))
    assert hits == {
        ("hey_jarvis", 2.0), ("alexa", 8.5), ("okay_nabu", 17.5), ("hey_mycroft", 26.5),
    }  # fmt: skip
    assert false_alarms == []


def test_on_a_terminal_a_readable_line_follows_each_event() -> None:
    out, err = listen("--model", CHIRP[0], "--input", CHIRP[1], tty=True)
    events = [json.loads(line) for line in out.splitlines()]  # stdout: still only JSON
    found = [e for e in events if e["type"] == "detection"]
    assert len(found) == 4
    lines = err.splitlines()
    assert lines[0].startswith("listening to wav:") and lines[0].endswith(": chirp")
    times = [clock(e["end"]) for e in found]
    assert lines[1:-1] == [f"  {t}  chirp  score {e['score']:.3f}"
                           for t, e in zip(times, found, strict=True)]  # fmt: skip
    assert re.fullmatch(
        r"stopped at 0:20\.0 \(end_of_input\): 4 detections, 0 overruns, .*", lines[-1]
    )


def test_piped_output_is_pure_json_lines_unless_asked() -> None:
    out, err = listen("--model", CHIRP[0], "--input", CHIRP[1])
    assert all(json.loads(line) for line in out.splitlines())
    assert err == ""
    forced_out, forced_err = listen("--model", CHIRP[0], "--input", CHIRP[1], "--readable")
    kinds = [json.loads(line)["type"] for line in forced_out.splitlines()]
    assert kinds == ["status", *["detection"] * 4, "status"]
    assert "stopped at 0:20.0" in forced_err
    _, quiet = listen("--model", CHIRP[0], "--input", CHIRP[1], "--no-readable", tty=True)
    assert quiet == ""


def test_readable_lines() -> None:
    assert clock(0.04) == "0:00.0" and clock(67.34) == "1:07.3" and clock(59.96) == "1:00.0"
    hit = Detection("hey_jarvis", "hey_jarvis", 0.9731, 6.0, 7.3, 1.0)
    assert readable(hit) == "  0:07.3  hey_jarvis  score 0.973"
    named = Detection("commands", "yes", 0.9, 0.0, 1.0, 1.0, {"name": "ana", "score": 0.8})
    assert readable(named) == "  0:01.0  commands:yes  score 0.900  said by ana"
    room = Environment("environment", "rain", 0.61, 1.0, 5.0)
    assert readable(room) == "  0:05.0  environment: rain  score 0.61"
    assert readable(Score(1.0, "m", {"a": 0.5})) is None
    error = Status("stopped", 3.0, reason="error", info={"error": "device lost"})
    assert readable(error) == (
        "stopped at 0:03.0 (error: device lost): 0 detections, 0 overruns, 0.0 CPU-s"
    )
