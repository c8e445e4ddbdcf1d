"""The runtime stays light: importing it must not pull in TensorFlow, Keras or scipy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "keras", "scipy", "tf_keras", "training")


@pytest.mark.parametrize(
    "module", ["kws", "kws.listen", "kws.pipeline", "kws.model", "kws.audio", "kws.features"]
)
def test_runtime_import_loads_no_heavy_module(module: str) -> None:
    code = (
        f"import json, sys, {module}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert not loaded & set(HEAVY), f"{module} imported {sorted(loaded & set(HEAVY))}"


def test_loading_a_model_does_not_import_tensorflow(tiny_models) -> None:
    code = (
        "import json, sys\n"
        "from kws.model import load_model\n"
        f"load_model({str(tiny_models['streaming'])!r})\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
