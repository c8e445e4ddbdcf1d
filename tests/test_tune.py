"""``training.tune``'s search-space files: what a trial may draw is checked before any trains,
and a bad file is a one-line error naming the file and the key (no Ray needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.tune import load_search, main

SPACE = Path(__file__).parents[1] / "training/grids/tune_ci.toml"


def test_the_ci_space_reads_with_its_budget_and_asha_settings() -> None:
    search = load_search(SPACE, ["tune.trials=5", "base.epochs=3"])
    assert search.tune.trials == 5 and search.tune.grace_epochs == 1
    assert search.options.quantization == "int8_weights" and search.options.cpus_per_row == 1
    assert search.max_epochs() == 3  # ASHA's horizon: the base's epochs, no epochs drawn
    drawn = search.resolve({"params.cell": "lstm", "learning_rate": 0.002}, "trial000")
    assert drawn["params"]["cell"] == "lstm" and drawn["learning_rate"] == 0.002
    assert drawn["params"]["conv_filters"] == 8  # the rest is the base's


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("space.learning_rate={ loguniform = [0.0, 0.01] }", "'learning_rate' must be"),
        ("space.epochs=[]", "'epochs' must be a non-empty list"),
        ("space.epochs={ normal = [1, 2] }", "'epochs' must be"),
        ("space.nonsense=[1, 2]", "nonsense"),
        ("tune.patience=3", "patience"),
        ("tune.reduction_factor=1", "reduction_factor >= 2"),
    ],
)
def test_a_bad_space_is_a_one_line_error_naming_the_file(
    assignment: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(SPACE), "--dry-run", "--set", assignment]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"training.tune: error: {SPACE}") or "[tune]" in err, err
    assert message in err and "\n" not in err


def test_a_value_the_model_cannot_take_is_named_before_any_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.toml"
    space.write_text(SPACE.read_text() + '"params.kernel" = [[10, 5], [400, 5]]\n')
    assert main([str(space), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"training.tune: error: {space}: [space] params.kernel = [400, 5]: ")
    assert "\n" not in err
