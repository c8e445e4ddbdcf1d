"""training.core.toml_config: the TOML + ``--set`` reader every training CLI shares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kws.errors import KwsError
from training.core.toml_config import apply_override, read_toml, set_path


def test_overrides_parse_as_toml_and_fall_back_to_strings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n[params]\nkernel = [20, 5]\n')
    data = read_toml(path, ["params.kernel=[10, 5]", "epochs=3", "corpus=data/hey", "a.b.c=true"])
    assert data == {
        "name": "x",
        "params": {"kernel": [10, 5]},
        "epochs": 3,
        "corpus": "data/hey",
        "a": {"b": {"c": True}},
    }


@pytest.mark.parametrize(
    ("assignment", "message"),
    [("epochs", "key=value"), ("=3", "key=value"), ("epochs.x=1", "'epochs' is a value")],
)
def test_bad_overrides_are_one_line_errors(assignment: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_override({"epochs": 25}, assignment)


def test_unreadable_or_invalid_files_name_the_file(tmp_path: Path) -> None:
    cases = ((tmp_path / "bad.toml", b"epochs = = 3\n"), (tmp_path / "bin.toml", b"\xff\xfe"))
    for path, content in cases:
        path.write_bytes(content)
        with pytest.raises(KwsError, match=re.escape(f"{path.name}: cannot read grid")):
            read_toml(path, what="grid")
    with pytest.raises(KwsError, match=r"missing\.toml"):
        read_toml(tmp_path / "missing.toml")


def test_set_path_creates_tables() -> None:
    data: dict = {}
    set_path(data, "params.cell", "lstm")
    assert data == {"params": {"cell": "lstm"}}
