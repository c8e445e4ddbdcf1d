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


def test_training_commands_import_packages_never_another_command() -> None:
    """training/'s top level holds only commands (python -m training.<name>); what they share
    lives in its packages, so no command module imports another (nor does a package)."""
    import ast
    from pathlib import Path

    root = Path(__file__).parents[1] / "training"
    commands = {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
    assert {"wakeword", "commands", "train", "export", "sweep"} <= commands
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if len(parts) == 2 and parts[0] == "training" and parts[1] in commands:
                    offenders.append(f"{path.relative_to(root.parent)} imports {name}")
    assert not offenders, offenders
