"""Speaker profiles: one versioned file, atomic writes, corrupt files reported and kept."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from kws import enroll
from kws.errors import KwsError
from kws.profiles import (
    Profile,
    ProfileError,
    check_model,
    default_path,
    identify,
    load_profiles,
    save_profiles,
)

MODEL_ID = "tiny_speaker:3:seed0"


def profile(name: str, vector: list[float], model_id: str = MODEL_ID) -> Profile:
    return Profile.from_embeddings(name, model_id, [np.array(vector)])


def test_round_trip_and_mean_unit_embedding(tmp_path: Path) -> None:
    alice = Profile.from_embeddings(
        "alice", MODEL_ID, [np.array([2.0, 0, 0]), np.array([0, 1.0, 0])]
    )
    assert alice.utterances == 2
    assert np.allclose(alice.embedding, [np.sqrt(0.5), np.sqrt(0.5), 0], atol=1e-6)
    path = tmp_path / "deep" / "speakers.json"
    save_profiles([alice, profile("bob", [0, 0, 1])], path)
    data = json.loads(path.read_text())
    assert data["format"] == "kws-speakers" and data["schema_version"] == 1
    loaded = load_profiles(path)
    assert [p.name for p in loaded] == ["alice", "bob"]
    assert np.allclose(loaded[0].embedding, alice.embedding, atol=1e-6)
    assert loaded[0].created == alice.created and loaded[0].model_id == MODEL_ID


def test_missing_file_is_nobody_and_default_path_follows_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "kws" / "speakers.json"
    assert load_profiles() == []
    save_profiles([profile("alice", [1, 0, 0])])
    assert [p.name for p in load_profiles(tmp_path / "xdg" / "kws" / "speakers.json")] == ["alice"]
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "share" / "kws" / "speakers.json"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b"\xff\xfe\x00", "invalid JSON"),
        (b'{"hello": 1}', 'no "format": "kws-speakers"'),
        (b"[1, 2]", 'no "format"'),
        (b'{"format": "kws-speakers", "schema_version": 9, "profiles": []}', "schema_version 9"),
        (
            b'{"format": "kws-speakers", "schema_version": 1, "profiles": [{"name": "a"}]}',
            "missing",
        ),
        (b'{"format": "kws-speakers", "schema_version": 1, "profiles": {}}', "must be a list"),
        (b'{"format": "kws-speakers", "schema_version": 1, "profiles": [], "x": 1}', "x"),
    ],
)
def test_corrupt_or_foreign_file_is_one_line_error_and_never_overwritten(
    tmp_path: Path, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "speakers.json"
    path.write_bytes(content)
    with pytest.raises(ProfileError, match=message) as info:
        load_profiles(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    # Every enroll command stops before writing: list, remove, enroll (before loading a model).
    for argv in (
        ["--list"],
        ["--remove", "alice"],
        ["--model", str(tmp_path / "absent.tflite"), "--name", "bob", str(tmp_path / "x.wav")],
    ):
        assert enroll.main([*argv, "--profiles", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"kws.enroll: error: {path}") and err.count("\n") == 1
    assert path.read_bytes() == content


def test_duplicate_names_are_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "speakers.json"
    save_profiles([profile("a", [1, 0, 0]), profile("a", [0, 1, 0])], path)
    with pytest.raises(ProfileError, match="appears twice"):
        load_profiles(path)


def test_profile_from_another_model_is_refused() -> None:
    profiles = [profile("alice", [1, 0, 0]), profile("bob", [0, 1, 0], "other:3:x")]
    check_model(profiles[:1], MODEL_ID, "speakers.json")
    with pytest.raises(ProfileError, match="'bob' was enrolled with speaker model 'other:3:x'"):
        check_model(profiles, MODEL_ID, "speakers.json")


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_household_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "speakers.json"
    save_profiles([profile("alice", [1, 0, 0])], path)
    before = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(KwsError, match="disk full"):
        save_profiles([profile("alice", [1, 0, 0]), profile("bob", [0, 1, 0])], path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speakers.json"]  # no temp left


def test_identify_picks_the_best_profile_above_threshold() -> None:
    profiles = [profile("alice", [1, 0, 0]), profile("bob", [0, 1, 0])]
    match = identify(np.array([0.9, 0.3, 0.0]), profiles, 0.8)
    assert match.name == "alice" and match.score == pytest.approx(0.9 / np.sqrt(0.9))
    assert identify(np.array([0.6, 0.6, 0.5]), profiles, 0.8).name is None
    nobody = identify(np.array([1.0, 0, 0]), [], 0.5)
    assert nobody.to_dict() == {"name": None, "score": None}
