"""tools.c_array: the generated C++ compiles, its array holds the .tflite's exact bytes, 16-byte
aligned, and its constants are the model's metadata; files without kws metadata are refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kws.tflite_file import read_metadata
from tools.c_array import c_name, c_string, main

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware_models"
MODEL = FIRMWARE / "chirp_demo_streaming.tflite"

TEST_MAIN = r"""
#include <cstdint>
#include <cstdio>
#include "{name}.h"

static_assert({name}_model::kModelLen > 0, "length is a compile-time constant");

int main(int argc, char** argv) {{
  if (argc != 2) return 2;
  if (reinterpret_cast<std::uintptr_t>(g_{name}_model) % 16 != 0) return 3;
  if (g_{name}_model_len != {name}_model::kModelLen) return 4;
  std::FILE* f = std::fopen(argv[1], "wb");
  if (f == nullptr) return 5;
  std::fwrite(g_{name}_model, 1, g_{name}_model_len, f);
  std::fclose(f);
  std::printf("%d %d %d %d %s %s %.3f\n", {name}_model::kSampleRate,
              {name}_model::kWindowFrames, {name}_model::kStrideFrames,
              {name}_model::kNumStates, {name}_model::kLabels[1],
              {name}_model::kStateInputs[0], {name}_model::kThresholds[1]);
  return 0;
}}
"""


def test_names_and_strings_are_valid_c() -> None:
    assert c_name("hey-jarvis.v2") == "hey_jarvis_v2"
    assert c_name("2nd") == "m_2nd"
    assert c_string('a"b\\c\né') == '"a\\042b\\134c\\012\\303\\251"'


def test_compiled_array_round_trips_the_model(tmp_path: Path) -> None:
    if shutil.which("g++") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("g++ is required under CI")
        pytest.skip("g++ not installed")
    assert main([str(MODEL), "--out", str(tmp_path), "--name", "chirp"]) == 0
    (tmp_path / "main.cc").write_text(TEST_MAIN.format(name="chirp"))
    exe = tmp_path / "roundtrip"
    subprocess.run(
        ["g++", "-std=c++17", "-Wall", "-Werror", "-o", str(exe), "main.cc", "chirp.cc"],
        cwd=tmp_path, check=True, capture_output=True, text=True,
    )  # fmt: skip
    done = subprocess.run(
        [str(exe), str(tmp_path / "back.tflite")], capture_output=True, text=True, check=True
    )
    assert (tmp_path / "back.tflite").read_bytes() == MODEL.read_bytes()
    md = read_metadata(MODEL)
    rate, window, stride, states, label, state, threshold = done.stdout.split()
    assert (int(rate), int(window), int(stride)) == (
        md.features.sample_rate, md.window_frames, md.stride_frames
    )  # fmt: skip
    assert int(states) == len(md.state_tensors) and state == md.state_tensors[0].input
    assert label == md.labels[1] and float(threshold) == pytest.approx(
        md.thresholds[label].threshold
    )


def test_cli_refuses_files_without_kws_metadata(tmp_path: Path) -> None:
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    import flatbuffers

    model = schema.ModelT.InitFromPackedBuf(bytearray(MODEL.read_bytes()), 0)
    model.metadata = [m for m in model.metadata if m.name not in (b"kws_metadata", "kws_metadata")]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(bytes(builder.Output()))
    done = subprocess.run(
        [sys.executable, "-m", "tools.c_array", str(bare), "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("python -m tools.c_array: error: ")
    assert "no kws metadata" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(MODEL), "--out", str(tmp_path), "--name", "not-c"]) == 2
    assert "'not-c' is not a C identifier" in capsys.readouterr().err
