"""End to end: ``python -m benchmarks.frr_fa`` on the tiny chirp model with generated streams."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def make_eval_data(out: Path, seed: int = 0) -> dict[str, Path]:
    """A positives.json (chirp keywords at 5 and 20 dB in pink and white noise, two "voices"),
    a negatives.json (2.5 min of noise and non-keyword sounds), and a folder of plain clips."""
    from kws.wavfile import write_wav
    from training.core import synthetic
    from training.data import signals
    from training.data.streams import write_negative_streams, write_positive_streams

    rng = np.random.default_rng(seed)
    clips = [synthetic.keyword(rng) for _ in range(8)]
    positives = [
        (clip, {"voice": "low" if i % 2 else "high", "text": "chirp"})
        for i, clip in enumerate(clips)
    ]
    backgrounds = {"pink": signals.pink, "white": signals.white}
    positives_json = write_positive_streams(
        positives, backgrounds, out / "pos", seed=seed, snrs_db=(5, 20), gap_s=(2.0, 3.0)
    )
    hard = [synthetic.make_clip(k, rng) for k in ("falling_chirp", "steady_tone", "noise") * 6]
    negatives_json = write_negative_streams(
        {"pink": signals.pink, "sounds": hard},
        out / "neg",
        hours=2.5 / 60,
        seed=seed,
        file_seconds=75,
    )
    folder = out / "clips"
    folder.mkdir()
    for i, clip in enumerate(clips[:6]):
        write_wav(folder / f"chirp_{i}.wav", (clip * 6000).astype(np.int16), 16000)
    return {"positives": positives_json, "negatives": negatives_json, "clips": folder}


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_eval_data(tmp_path_factory.mktemp("frr_fa_data"))


def run_cli(*args: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "benchmarks.frr_fa", "--quiet", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_manifests_two_models_one_pass(
    tiny_models: dict[str, Path], eval_data: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = run_cli(
        "--model", tiny_models["window"], "--model", tiny_models["streaming"],
        "--positives", eval_data["positives"], "--negatives", eval_data["negatives"],
        "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["num_positives"] == 16
    assert results["negative_hours"] == pytest.approx(2.5 / 60)
    assert [m["model"] for m in results["models"]] == [
        str(tiny_models["window"]),
        str(tiny_models["streaming"]),
    ]
    for entry in results["models"]:
        assert entry["label"] == "chirp" and entry["num_positives"] == 16
        at1 = entry["frr_at"]["1"]
        assert at1 is not None and at1["frr"] <= 0.125 and at1["fa_per_hour"] <= 1.0
        assert entry["frr_at"]["0.5"]["frr"] >= at1["frr"]
        det = entry["det"]
        thresholds = [p["threshold"] for p in det]
        assert thresholds == sorted(thresholds)
        assert all(a["frr"] <= b["frr"] for a, b in itertools.pairwise(det))
        assert all(a["fa_per_hour"] >= b["fa_per_hour"] for a, b in itertools.pairwise(det))
        assert det[0]["frr"] == 0.0 and det[-1]["frr"] > det[0]["frr"]
        cells = entry["breakdown"]
        assert cells["threshold"] == at1["threshold"]
        assert {k: v["positives"] for k, v in cells["snr_db"].items()} == {"5": 8, "20": 8}
        assert set(cells["background"]) == {"pink", "white"}
        assert set(cells["voice"]) == {"high", "low"}
        for snr, cell in cells["snr_db"].items():  # SNR by background adds up to SNR alone
            parts = [v for k, v in cells["snr_db+background"].items() if k.startswith(f"{snr} / ")]
            assert {k.split(" / ")[1] for k in cells["snr_db+background"]} <= {"pink", "white"}
            assert sum(v["positives"] for v in parts) == cell["positives"]
            assert sum(v["misses"] for v in parts) == cell["misses"]
    assert (out / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "results.md").read_text()
    assert "| model | label | FRR@0.5 FA/h |" in markdown
    assert "| window.tflite | chirp |" in markdown and "| snr_db | FRR |" in markdown
    assert "streaming.tflite" in done.stdout  # the summary table
    # the second model against the first on the same trials, resampled
    (pair,) = results["paired"]["pairs"]
    assert (pair["reference"], pair["model"], pair["label"]) == (
        str(tiny_models["window"]),
        str(tiny_models["streaming"]),
        "chirp",
    )
    assert [r["target"] for r in pair["rows"]] == [0.5, 1.0, 2.0, 4.0, None]
    for row in pair["rows"][:2]:
        for key, entry in (
            ("reference", results["models"][0]),
            ("candidate", results["models"][1]),
        ):
            at = entry["frr_at"]["0.5" if row["target"] == 0.5 else "1"]
            assert row[key] == (1.0 if at is None else at["frr"])
    for row in pair["rows"]:
        assert row["low"] <= row["candidate"] - row["reference"] <= row["high"]
        assert 0.0 <= row["better"] <= 1.0
    mean = pair["rows"][-1]
    assert mean["reference"] == pytest.approx(np.mean([r["reference"] for r in pair["rows"][:4]]))
    assert "## Each model against the first, on the same trials" in markdown
    assert "resamples lower" in done.stdout


def test_look_alike_phrases_are_counted_apart_from_false_accepts_per_hour(
    tiny_models: dict[str, Path], eval_data: dict[str, Path], tmp_path: Path
) -> None:
    from training.core import synthetic
    from training.data import signals
    from training.data.streams import write_negative_streams

    rng = np.random.default_rng(5)
    chirps = [synthetic.keyword(rng) for _ in range(12)]  # the keyword itself, as look-alikes
    negatives = write_negative_streams(
        {"pink": signals.pink, "confusable": chirps}, tmp_path / "neg", hours=2 / 60, seed=1,
        file_seconds=60,
    )  # fmt: skip
    out = tmp_path / "out"
    done = run_cli(
        "--model", tiny_models["streaming"], "--positives", eval_data["positives"],
        "--negatives", negatives, "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    (entry,) = results["models"]
    assert results["apart_kinds"] == ["confusable"] and 0 < entry["apart_minutes"] < 2
    assert entry["negative_hours"] * 60 + entry["apart_minutes"] == pytest.approx(2.0)
    shipped = entry["at_model_threshold"]  # 0.5: the chirps among the look-alikes fire
    assert shipped["apart_accepts"] >= 6 and shipped["apart_s"] == pytest.approx(
        60 * entry["apart_minutes"]
    )
    assert shipped["fa_per_hour"] == pytest.approx(
        shipped["false_accepts"] / entry["negative_hours"]
    )
    assert "look-alikes@1" in (out / "results.md").read_text()


def test_calibrate_rewrites_the_threshold_and_refuses_the_impossible(
    tiny_models: dict[str, Path], eval_data: dict[str, Path], tmp_path: Path
) -> None:
    from kws.model import load_model
    from kws.pipeline import Pipeline, PipelineConfig
    from kws.tflite_file import read_metadata
    from kws.wavfile import load_audio

    model = tmp_path / "chirp.tflite"
    model.write_bytes(tiny_models["streaming"].read_bytes())
    data = ["--positives", eval_data["positives"], "--negatives", eval_data["negatives"]]
    before = model.read_bytes()
    done = run_cli("--model", model, *data, "--out", tmp_path / "no", "--calibrate", "-1")
    assert done.returncode == 2
    assert done.stderr.startswith("frr_fa: error: ") and done.stderr.count("\n") == 1
    assert "no threshold" in done.stderr
    assert model.read_bytes() == before

    done = run_cli("--model", model, *data, "--out", tmp_path / "out", "--calibrate", "1")
    assert done.returncode == 0, done.stderr
    calibration = json.loads((tmp_path / "out" / "results.json").read_text())["calibration"]
    (entry,) = calibration["models"]
    assert entry["old_threshold"] == 0.5 and entry["fa_per_hour"] <= 1.0
    threshold = read_metadata(model).thresholds["chirp"]
    assert threshold.threshold == entry["threshold"] != 0.5
    assert threshold.fa_per_hour == entry["fa_per_hour"]
    assert "threshold 0.5 -> " in done.stdout
    # The runtime fires with the written threshold: every keyword is caught and nothing fires
    # below it (whether a distractor also fires depends on the tiny model's training run).
    pipeline = Pipeline([load_model(model)], PipelineConfig(status_interval_s=0))
    detections = [
        e for e in pipeline.process(load_audio(tiny_models["stream_wav"])) if e.type == "detection"
    ]
    assert all(d.score >= threshold.threshold for d in detections)
    keywords = json.loads(tiny_models["stream_json"].read_text())["events"]
    for keyword in keywords:
        assert any(keyword["onset_s"] <= d.end <= keyword["offset_s"] + 1.0 for d in detections), (
            keyword
        )


def test_folder_of_clips_and_test_list(
    tiny_models: dict[str, Path], eval_data: dict[str, Path], tmp_path: Path
) -> None:
    from kws.wavfile import write_wav
    from training.core import synthetic

    done = run_cli(
        "--model", tiny_models["window"], "--positives", eval_data["clips"],
        "--negatives", eval_data["negatives"], "--out", tmp_path / "clips",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads((tmp_path / "clips" / "results.json").read_text())["models"]
    assert entry["num_positives"] == 6 and entry["frr_at"]["1"]["frr"] <= 1 / 6
    assert set(entry["breakdown"]["background"]) <= {"pink", "sounds"}

    # Speech Commands layout: word/speaker_nohash_n.wav, listed relative to the list's folder.
    rng = np.random.default_rng(1)
    lines = []
    for word, kind in (("chirp", "keyword"), ("tone", "steady_tone")):
        (tmp_path / "sc" / word).mkdir(parents=True)
        for i in range(4):
            name = f"{word}/spk{i % 2}_nohash_{i}.wav"
            write_wav(tmp_path / "sc" / name, synthetic.make_clip(kind, rng), 16000)
            lines.append(name)
    (tmp_path / "sc" / "testing_list.txt").write_text("\n".join(lines) + "\n")
    done = run_cli(
        "--model", tiny_models["window"], "--positives", tmp_path / "sc" / "testing_list.txt",
        "--label", "chirp", "--negatives", eval_data["negatives"], "--out", tmp_path / "sc_out",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "sc_out" / "results.json").read_text())
    assert results["num_positives"] == 4 and results["num_negative_streams"] == 3
    assert set(results["models"][0]["breakdown"]["voice"]) == {"spk0", "spk1"}


def test_errors_are_one_line_with_exit_2(
    tiny_models: dict[str, Path], eval_data: dict[str, Path], tmp_path: Path
) -> None:
    bad_json = tmp_path / "positives.json"
    bad_json.write_text('{"schema": "something else"}')
    missing_wav = tmp_path / "m" / "positives.json"
    missing_wav.parent.mkdir()
    manifest = json.loads(eval_data["positives"].read_text())
    missing_wav.write_text(json.dumps(manifest))  # its WAVs are not next to it
    cases = {
        tmp_path / "nope.json": "no such manifest",
        bad_json: "expected a 'kws.eval.positive_streams' manifest",
        missing_wav: "no such WAV file",
        tmp_path / "empty_dir": "no WAV files",
    }
    (tmp_path / "empty_dir").mkdir()
    for positives, message in cases.items():
        done = run_cli(
            "--model", tiny_models["window"], "--positives", positives,
            "--negatives", eval_data["negatives"], "--out", tmp_path / "out",
        )  # fmt: skip
        assert done.returncode == 2, (positives, done.stderr)
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
        assert not (tmp_path / "out").exists()
    done = run_cli(
        "--model", tiny_models["window"], "--model", tiny_models["streaming"], "--paired", -1,
        "--positives", eval_data["positives"], "--negatives", eval_data["negatives"],
        "--out", tmp_path / "out",
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--paired needs a number of resamples >= 0, got -1" in done.stderr
    assert not (tmp_path / "out").exists()


def test_replayed_timelines_fire_where_the_pipeline_detects(tiny_models: dict[str, Path]) -> None:
    """The benchmark's smoothing (smoothing_calls) and kws.evaluation replay give exactly the
    detections kws.listen's pipeline makes at the metadata threshold."""
    from benchmarks.frr_fa import score_streams
    from benchmarks.streams import EvalStream
    from kws.audio import WavSource
    from kws.evaluation import fire_times
    from kws.events import Detection
    from kws.model import load_model
    from kws.pipeline import Pipeline, PipelineConfig

    for form in ("window", "streaming"):
        model = load_model(tiny_models[form])
        pipeline = Pipeline([model], PipelineConfig(thresholds={"*": 0.3}, status_interval_s=0))
        events = [e for b in WavSource(tiny_models["stream_wav"]) for e in pipeline.process(b)]
        detected = [e.end for e in events if isinstance(e, Detection)]
        timelines = score_streams([model], [EvalStream(tiny_models["stream_wav"])], False)
        (timeline,) = timelines[0, "chirp"]
        replayed = fire_times(timeline.times, timeline.scores, 0.3, model.metadata.refractory_s)
        assert len(detected) >= 4
        np.testing.assert_allclose(replayed, detected)
        assert model.metadata.name == "chirp"  # restored after scoring


def _peer_package_or_skip(module: str) -> None:
    """Skip without the peer package (the bench extra), except under CI where that fails."""
    import importlib.util
    import os

    if importlib.util.find_spec(module) is None:
        why = f"peer package not installed: {module} (the bench extra)"
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


def test_peers_on_the_same_streams(
    tiny_models: dict[str, Path], eval_data: dict[str, Path], tmp_path: Path
) -> None:
    _peer_package_or_skip("pymicro_wakeword")
    data = ["--positives", eval_data["positives"], "--negatives", eval_data["negatives"]]
    out = tmp_path / "out"
    done = run_cli(
        "--model", tiny_models["window"], "--model", tiny_models["streaming"], *data,
        "--out", out, "--peers", "microwakeword:hey_jarvis",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    cpu = results["ours_cpu"]
    assert cpu["models_in_pass"] == 2 and "pass total of 2 models" in cpu["scope"]
    assert cpu["audio_s"] > 2.5 * 60 and 0 < cpu["cpu_s_per_audio_hour"] < 3600
    (peer,) = results["peers"]
    assert peer["name"] == "microwakeword:hey_jarvis"
    assert peer["num_positives"] == 16 and peer["negative_hours"] == pytest.approx(2.5 / 60)
    assert peer["audio_s"] == pytest.approx(cpu["audio_s"], abs=0.01)
    assert 0 < peer["cpu_s_per_audio_hour"] < 3600 and peer["det"]
    rows = results["comparison"]
    assert [(r["model"], r["peer"]) for r in rows] == [
        (str(tiny_models[form]), "microwakeword:hey_jarvis") for form in ("window", "streaming")
    ]
    for row, entry in zip(rows, results["models"], strict=True):
        for key in ("0.5", "1"):
            cell = row["frr_at"][key]
            assert cell["ours"] == entry["frr_at"][key]["frr"]
            theirs = peer["frr_at"][key]
            assert cell["peer"] == (theirs and theirs["frr"])
            if cell["peer"] is not None:  # a hey_jarvis model hears no chirps: it misses more
                assert 0 <= cell["ours"] <= cell["peer"] <= 1
                expected = 100 * (cell["peer"] - cell["ours"])
                assert cell["peer_minus_ours_points"] == pytest.approx(expected)
        c = row["cpu_s_per_audio_hour"]
        assert (
            c["ours"] == cpu["cpu_s_per_audio_hour"] and c["peer"] == peer["cpu_s_per_audio_hour"]
        )
        assert c["peer_over_ours"] == pytest.approx(c["peer"] / c["ours"])
    markdown = (out / "results.md").read_text()
    assert "## Peers" in markdown and "pass total of 2 models" in markdown
    assert "| window.tflite | chirp | microwakeword:hey_jarvis |" in markdown
    assert "microwakeword:hey_jarvis" in done.stdout and "peer/ours" in done.stdout
    cells = peer["breakdown"]  # where the peer misses, at its own 1 FA/h threshold
    assert cells["threshold"] == peer["frr_at"]["1"]["threshold"]
    assert sum(c["positives"] for c in cells["snr_db+background"].values()) == 16
    misses = round(peer["frr_at"]["1"]["frr"] * 16)
    assert sum(c["misses"] for c in cells["background"].values()) == misses
    assert "### FRR by condition, side by side" in markdown
    header = "| background | window.tflite (chirp) | streaming.tflite (chirp) | "
    assert header + "microwakeword:hey_jarvis |" in markdown

    for peers, message in (
        (["nope:hey_jarvis"], "no peer engine 'nope'"),
        (["microwakeword:nope"], "microwakeword ships no 'nope' model"),
        (["hey_jarvis"], "--peers takes ENGINE:WAKE_WORD"),
        ([], "no peer engine ships a model for 'chirp'"),
    ):
        done = run_cli("--model", tiny_models["window"], *data, "--out", out, "--peers", *peers)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_each_label_is_scored_on_its_own_occurrences_and_firing_on_another_is_a_false_accept() -> (
    None
):
    from benchmarks.frr_fa import confusions, for_label
    from benchmarks.streams import EvalStream, Positive
    from kws.evaluation import Timeline, operating_point

    times = np.arange(0.0, 30.0, 0.1)
    scores = np.zeros_like(times)
    scores[(times >= 2.0) & (times < 2.5)] = 0.9  # fires on the "yes" at 2 s only
    mixed = EvalStream(
        Path("p.wav"), (Positive(1.5, 2.0, label="yes"), Positive(9, 9.5, label="no"))
    )
    only_no = EvalStream(Path("q.wav"), (Positive(4.0, 4.5, label="no"),))
    negative = EvalStream(Path("n.wav"))
    streams = [mixed, only_no, negative]
    line = Timeline(times, scores, 30.0, ((1.5, 2.0), (9.0, 9.5)))
    lines = [line, Timeline(times, scores, 30.0, ((4.0, 4.5),)), Timeline(times, scores * 0, 30.0)]
    yes_lines, yes_streams = for_label(lines, streams, "yes")
    assert [t.positives for t in yes_lines] == [((1.5, 2.0),), (), ()]
    assert [t.others for t in yes_lines] == [((9.0, 9.5),), ((4.0, 4.5),), ()]
    assert [s.positives for s in yes_streams][1:] == [(), ()]
    point = operating_point(yes_lines, 0.5, 1.0)
    assert point.frr == 0.0 and point.false_accepts == point.cross_accepts == 0
    no_lines, _ = for_label(lines, streams, "no")
    assert [t.positives for t in no_lines] == [((9.0, 9.5),), ((4.0, 4.5),), ()]
    point = operating_point(no_lines, 0.5, 1.0)
    assert point.frr == 1.0  # the firing at 2 s is not a "no" ...
    assert point.false_accepts == point.cross_accepts == 1  # ... but a "no" fired on a "yes"
    hours = (30.0 + 0.5) / 3600  # the negative stream and the "yes" it was said over
    assert point.fa_per_hour == pytest.approx(1 / hours)
    crossed = confusions(lines, streams, "no", 0.5, 1.0)
    assert crossed == {
        "yes": {"false_accepts": 1, "utterances": 1, "share": 1.0, "fa_per_hour": 1 / hours}
    }
    assert confusions(lines, streams, "yes", 0.5, 1.0)["no"]["false_accepts"] == 0
    unlabelled = EvalStream(Path("w.wav"), (Positive(1.5, 2.0),))  # a wake-word stream
    assert for_label([line], [unlabelled], "anything")[0][0].positives == ((1.5, 2.0),)


def test_another_devices_wake_word_is_reported_apart_from_the_fa_per_hour() -> None:
    from benchmarks.frr_fa import confusions, for_label
    from benchmarks.streams import EvalStream, Positive
    from kws.evaluation import Timeline, operating_point

    times = np.arange(0.0, 20.0, 0.1)
    scores = np.zeros_like(times)
    scores[(times >= 6.0) & (times < 6.5)] = 0.9  # fires on "alexa" only
    said = (Positive(1.5, 2.0), Positive(5.5, 6.0, label="alexa", apart=True))
    streams = [EvalStream(Path("p.wav"), said), EvalStream(Path("n.wav"))]
    lines = [
        Timeline(times, scores, 20.0, ((1.5, 2.0), (5.5, 6.0))),
        Timeline(times, 0 * scores, 20.0),
    ]
    own, _ = for_label(lines, streams, "hey_mycroft")
    assert own[0].positives == ((1.5, 2.0),) and own[0].others == ()
    point = operating_point(own, 0.5, 1.0)
    assert point.frr == 1.0 and point.false_accepts == 0  # not in the FA/h ...
    crossed = confusions(lines, streams, "hey_mycroft", 0.5, 1.0)  # ... but reported
    assert crossed["alexa"]["false_accepts"] == crossed["alexa"]["utterances"] == 1
    from benchmarks.frr_fa import summarize

    entry = {"negative_hours": 40 / 3600, "apart_minutes": 0.0}
    results = summarize(Path("p"), Path("n"), 0, streams[:1], streams[1:], [entry])
    assert results["num_positives"] == 1  # the keyword's own, not the other wake word


def test_breakdown_crosses_snr_with_background_and_counts_each_cell_alike() -> None:
    from benchmarks.streams import EvalStream, Positive, breakdown
    from kws.evaluation import Timeline

    times = np.arange(0.0, 40.0, 0.1)
    scores = np.zeros_like(times)
    for onset in (2.0, 12.0, 22.0):  # fires on three of the four keywords, not on the one at 32 s
        scores[(times >= onset + 0.5) & (times < onset + 0.8)] = 0.9
    said = (
        Positive(2.0, 2.5, snr_db=5.0, background="babble"),
        Positive(12.0, 12.5, snr_db=5.0, background="music"),
        Positive(22.0, 22.5, snr_db=20.0, background="babble"),
        Positive(32.0, 32.5, snr_db=5.0, background="babble"),
    )
    stream = EvalStream(Path("p.wav"), said)
    line = Timeline(times, scores, 40.0, tuple((p.onset_s, p.offset_s) for p in said))
    cells = breakdown([line], [stream], threshold=0.5, refractory_s=1.0)
    crossed = {k: (v["misses"], v["positives"]) for k, v in cells["snr_db+background"].items()}
    assert crossed == {"5 / babble": (1, 2), "5 / music": (0, 1), "20 / babble": (0, 1)}
    assert cells["snr_db+background"]["5 / babble"]["frr"] == 0.5
    assert {k: (v["misses"], v["positives"]) for k, v in cells["snr_db"].items()} == {
        "5": (1, 3),
        "20": (0, 1),
    }
    assert cells["background"]["babble"]["misses"] == 1


def test_the_mean_of_a_model_with_itself_scores_as_the_model(
    tiny_models: dict[str, Path], eval_data: dict[str, Path], tmp_path: Path
) -> None:
    """``--mean`` adds the models' mean score as one more row; a model averaged with itself
    scores exactly as it does alone, and has no shipped threshold."""
    out = tmp_path / "out"
    model = tiny_models["streaming"]
    done = run_cli(
        "--model", model, "--model", model, "--mean", "--positives", eval_data["positives"],
        "--negatives", eval_data["negatives"], "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    alone, _, mean = json.loads((out / "results.json").read_text())["models"]
    assert mean["model"] == mean["name"] == "mean of 2" and mean["members"] == [str(model)] * 2
    assert mean["det"] == alone["det"] and mean["frr_at"] == alone["frr_at"]
    assert mean["at_model_threshold"] is None
    refused = run_cli(
        "--model", model, "--model", model, "--mean", "--calibrate", "1",
        "--positives", eval_data["positives"], "--negatives", eval_data["negatives"], "--out", out,
    )  # fmt: skip
    assert refused.returncode == 2 and "not with --calibrate" in refused.stderr


def test_the_mean_refuses_what_it_cannot_average_in_one_line(tiny_models: dict[str, Path]) -> None:
    """Models with several keywords or other labels are refused before any stream is scored;
    models that score at other times once they are scored."""
    from types import SimpleNamespace

    from benchmarks.frr_fa import mean_label, mean_of
    from kws.evaluation import Timeline
    from kws.model import load_model

    def model(*labels: str) -> Any:
        return SimpleNamespace(metadata=SimpleNamespace(labels=labels))

    alexa = model("_background_", "alexa")
    assert mean_label([alexa, alexa], [["alexa"], ["alexa"]]) == "alexa"
    with pytest.raises(ValueError, match="give --label for multi-keyword models"):
        mean_label([model("yes", "no")] * 2, [["yes", "no"], ["yes", "no"]])
    with pytest.raises(ValueError, match="same labels"):
        mean_label([alexa, model("_background_", "jarvis")], [["alexa"], ["jarvis"]])
    chirp = load_model(tiny_models["streaming"])
    pair = [chirp, chirp]
    scores = np.array([0.1, 0.9, 0.2])
    early, late = (Timeline(np.array(t), scores, 1.0) for t in ([0.1, 0.2, 0.3], [0.2, 0.3, 0.4]))
    low = Timeline(early.times, scores / 2, 1.0)
    mean, (line,) = mean_of(pair, "chirp", {(0, "chirp"): [early], (1, "chirp"): [low]})
    assert np.allclose(line.scores, 0.75 * scores) and np.array_equal(line.times, early.times)
    assert mean.metadata.name == "mean of 2" and not mean.metadata.thresholds
    with pytest.raises(ValueError, match="score at the same times"):
        mean_of(pair, "chirp", {(0, "chirp"): [early], (1, "chirp"): [late]})
