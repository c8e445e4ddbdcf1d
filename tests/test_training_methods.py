"""benchmarks.training_methods' report: each variant's test figures, what mining did, and plots."""

from __future__ import annotations

from pathlib import Path

from benchmarks.training_methods import VARIANTS, markdown, plot, plot_history


def _row(variant: str, frr1: float | None, best_epoch: int, mined: dict | None = None) -> dict:
    point = None if frr1 is None else {"frr": frr1, "threshold": 0.9, "fa_per_hour": 0.8}
    return {
        "variant": variant,
        "epochs_run": 3,
        "selection": {"selected_by": "validation streams FRR", "best_epoch": best_epoch},
        "train_seconds": 12.0,
        "rounds": [{"round": 0, "mined": {}}, *([{"round": 1, "mined": mined}] if mined else [])],
        "history": [
            {"epoch": e, "round": 0, "loss": 0.1, "val_frr": {"kw": {"0.5": None, "1": 0.5}}}
            for e in (1, 2, 3)
        ],
        "evaluation": {
            "at": {"0.5": None, "1": point},
            "shipped_threshold_on_test": {"fa_per_hour": 1.25, "frr": 0.4, "apart_accepts": 7},
            "apart_minutes": 12.4,
            "validation": {"at": {"1": point}},
        },
    }


def test_report_shows_each_variant_and_what_mining_found(tmp_path: Path) -> None:
    assert list(VARIANTS) == [
        "espeak-flite", "tts", "clips", "sequences", "sequences+mining", "sequences+average",
    ]  # fmt: skip
    # the recipe averages the weights: only the last variant measures that, the rest the raw ones
    assert [v["weight_average"] for v in VARIANTS.values()] == [0.0] * 5 + [0.998]
    mined = {
        "mined": 20, "hours": 1.5, "files": 3, "peaks_above_0.5_per_hour": 4.0,
        "mined_score_min": 0.11, "mined_score_median": 0.3,
    }  # fmt: skip
    rows = [_row("clips", 0.8, 2), _row("sequences+mining", None, 3, mined)]
    text = markdown(rows, "python -m benchmarks.training_methods ...", "data/x")
    clips = next(line for line in text.splitlines() if line.startswith("| clips |"))
    assert "80.0 %" in clips and "1.25" in clips and "40.0 %" in clips
    assert "7 in 12.4 min" in clips and "real recorded speech" in clips
    mining = next(line for line in text.splitlines() if line.startswith("| sequences+mining |"))
    assert mining.count("not reached") == 3  # FRR at 0.5 and 1 FA/h, and on validation
    assert "20 windows mined from 1.50 h" in text and "median 0.300" in text
    plot(rows, tmp_path / "frr.png")
    plot_history(rows, tmp_path / "validation.png")
    assert (tmp_path / "frr.png").stat().st_size > 1000
    assert (tmp_path / "validation.png").stat().st_size > 1000
