"""``benchmarks.frr_fa --peers``: score peer engines (benchmarks.peers) on the same streams as
our models and set them side by side: FRR at each target FA/hr and CPU seconds per audio hour.

Our CPU cost is the process CPU time (``time.process_time``) of :func:`benchmarks.frr_fa.
score_streams`, which runs every model in one pass sharing the frontend: with several models the
figure is that pass's total (``ours_cpu["models_in_pass"]`` says how many), not one model's. It
includes reading the WAVs, which a peer's cost (:func:`benchmarks.peers.run.score_peer`) does
not, so it slightly favours the peers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.peers import ENGINES, PeerEngine, load_peer
from benchmarks.peers.run import peer_entry, ratio, score_peer
from benchmarks.streams import EvalStream
from kws.evaluation import Timeline

HELP = (
    "compare peer engines on the same streams, e.g. openwakeword:hey_jarvis; bare: every "
    "engine that ships a model for our keyword label"
)


def peer_specs(specs: Sequence[str], labels: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """(engine, wake word) pairs from ``ENGINE:WAKE_WORD`` strings; with none, every engine
    for each of our keyword labels it ships a model for. ValueError when nothing matches or a
    spec is malformed, an engine unknown or its package missing."""
    pairs: list[tuple[str, str]] = []
    if specs:
        for spec in specs:
            engine, sep, word = spec.partition(":")
            if not sep or not engine or not word:
                raise ValueError(f"--peers takes ENGINE:WAKE_WORD, got {spec!r}")
            pairs.append((engine, word))
        return list(dict.fromkeys(pairs))
    words = list(dict.fromkeys(label for model in labels for label in model))
    for engine, cls in ENGINES.items():
        try:
            shipped = cls.wake_words()
        except ImportError as exc:
            raise ValueError(str(exc)) from None
        pairs += [(engine, word) for word in words if word in shipped]
    if not pairs:
        raise ValueError(
            f"no peer engine ships a model for {', '.join(map(repr, words))}; "
            "name one with --peers ENGINE:WAKE_WORD"
        )
    return pairs


def load_peers(specs: Sequence[str], labels: Sequence[Sequence[str]]) -> list[PeerEngine]:
    """The peer engines :func:`peer_specs` names, loaded (ImportError becomes ValueError)."""
    engines = []
    for engine, word in peer_specs(specs, labels):
        try:
            engines.append(load_peer(engine, word))
        except ImportError as exc:
            raise ValueError(str(exc)) from None
    return engines


def score_peers(
    engines: Sequence[PeerEngine], streams: Sequence[EvalStream], progress: bool
) -> list[dict[str, Any]]:
    """One :func:`peer_entry` per engine, scored on ``streams``."""
    return [peer_entry(e, score_peer(e, streams, progress)) for e in engines]


def _frr(entry: dict[str, Any], key: str) -> float | None:
    point = entry["frr_at"].get(key)
    return None if point is None else point["frr"]


def _apart(entry: dict[str, Any], key: str) -> int | None:
    point = entry["frr_at"].get(key)
    return None if point is None else point.get("apart_accepts", 0)


def comparison(
    ours: Sequence[dict[str, Any]],
    ours_cpu: dict[str, Any],
    peers: Sequence[dict[str, Any]],
    keys: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per (our model entry, peer): FRR at each target key side by side with the peer's
    minus ours in percentage points (positive: the peer misses more) and each one's firings on
    the look-alike phrases counted apart (benchmarks.streams.APART_KINDS), and CPU s per audio hour
    side by side with peer / ours (above 1: ours is that many times cheaper). The peer's CPU is
    what a user pays; where the benchmark ran more (Porcupine's sensitivity grid), that measured
    figure is ``peer_as_benchmarked``."""
    rows = []
    for entry in ours:
        for peer in peers:
            frr = {}
            for key in keys:
                a, b = _frr(entry, key), _frr(peer, key)
                diff = None if a is None or b is None else 100 * (b - a)
                frr[key] = {
                    "ours": a,
                    "peer": b,
                    "peer_minus_ours_points": diff,
                    "look_alikes": {"ours": _apart(entry, key), "peer": _apart(peer, key)},
                }
            mine = ours_cpu["cpu_s_per_audio_hour"]
            # What a user of the peer pays: Porcupine's one detector, not the benchmark's grid.
            theirs = peer.get("user_cpu_s_per_audio_hour", peer["cpu_s_per_audio_hour"])
            rows.append(
                {
                    "model": entry["model"],
                    "label": entry["label"],
                    "peer": peer["name"],
                    "frr_at": frr,
                    "cpu_s_per_audio_hour": {
                        "ours": mine,
                        "ours_models_in_pass": ours_cpu["models_in_pass"],
                        "peer": theirs,
                        "peer_as_benchmarked": peer["cpu_s_per_audio_hour"],
                        "peer_over_ours": ratio(theirs, mine),
                    },
                }
            )
    return rows


def ours_cpu(cpu_s: float, audio_s: float, models_in_pass: int) -> dict[str, Any]:
    """Our pipeline's CPU cost: one pass over every stream with all ``models_in_pass`` models."""
    scope = f"the pass total of {models_in_pass} models sharing the frontend"
    return {
        "cpu_s": cpu_s,
        "audio_s": audio_s,
        "cpu_s_per_audio_hour": cpu_s / audio_s * 3600 if audio_s else None,
        "models_in_pass": models_in_pass,
        "scope": "one model" if models_in_pass == 1 else scope,
    }


def section(
    ours: Sequence[dict[str, Any]],
    timelines: Mapping[Any, Sequence[Timeline]],
    cpu_s: float,
    models_in_pass: int,
    peers: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The results.json additions: ``ours_cpu``, ``peers`` and ``comparison``. ``timelines``
    are frr_fa's (every label's list covers every stream, so any one gives the audio length)."""
    audio_s = sum(t.duration_s for t in next(iter(timelines.values())))
    cpu = ours_cpu(cpu_s, audio_s, models_in_pass)
    keys = list(ours[0]["frr_at"])
    return {"ours_cpu": cpu, "peers": list(peers), "comparison": comparison(ours, cpu, peers, keys)}
