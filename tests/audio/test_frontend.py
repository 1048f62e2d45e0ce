"""The integer log-mel frontend: numpy and generated C bit-exact, streaming, and right against float math."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from protobrain.audio.frontend import (
    FeatureQuantizer,
    FrontendConfig,
    StreamingFrontend,
    build_host,
    features,
    mel_edges,
    render_c,
    tables,
    to_float,
)
from protobrain.compiler import fixedpoint
from protobrain.errors import ProtobrainError
from protobrain.toolchain import host_cc

CONFIG = FrontendConfig()
# a second layout (16 kHz, 25 ms / 10 ms, 40 mels, finer log) so nothing depends on the defaults
WIDE = FrontendConfig(sample_rate=16000, window=400, hop=160, fft=512, n_mels=40, fmin=20.0, fmax=7600.0,
                      log_frac_bits=10)
WARNINGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]


def _int16(x) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _t(n: int, sr: int = 8000) -> np.ndarray:
    return np.arange(n) / sr


def sine(freq: float, amp: float = 20000.0, n: int = 8000, sr: int = 8000) -> np.ndarray:
    return _int16(amp * np.sin(2 * np.pi * freq * _t(n, sr)))


def chirp(n: int = 8000, sr: int = 8000) -> np.ndarray:
    """Full-scale sweep 100 Hz -> 3900 Hz over the clip."""
    t = _t(n, sr)
    return _int16(32767 * np.sin(2 * np.pi * (100 * t + 1900 * t * t / (n / sr))))


def noise(seed: int, n: int = 8000, std: float | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if std is None:
        return rng.integers(-32768, 32768, n).astype(np.int16)
    return _int16(rng.normal(0, std, n))


CLIPS = {
    "noise_seed0": lambda: noise(0),
    "noise_seed1": lambda: noise(1),
    "noise_seed2": lambda: noise(2, n=16000),
    "quiet_noise": lambda: noise(3, std=20),
    "square_full_scale": lambda: np.where(np.sin(2 * np.pi * 440 * _t(8000)) >= 0, 32767, -32768).astype(np.int16),
    "chirp_full_scale": chirp,
    "zeros": lambda: np.zeros(8000, np.int16),
    "all_min": lambda: np.full(8000, -32768, np.int16),
    "shorter_than_window": lambda: noise(4, n=CONFIG.window - 1),
    "exactly_one_window": lambda: noise(5, n=CONFIG.window),
    "length_4321": lambda: noise(6, n=4321),
    "length_8077": lambda: noise(7, n=8077),
}


@pytest.fixture(scope="module")
def host():
    return build_host(CONFIG)


@pytest.fixture(scope="module")
def wide_host():
    return build_host(WIDE)


def assert_same(got: np.ndarray, want: np.ndarray, what: str):
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    diff = np.argwhere(got != want)
    assert diff.size == 0, (f"{what}: {len(diff)} values differ, first at frame {diff[0][0]} mel {diff[0][1]}: "
                            f"{got[tuple(diff[0])]} vs {want[tuple(diff[0])]}")


def random_chunks(clip: np.ndarray, seed: int, largest: int = 1000) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(rng.integers(1, largest + 1, clip.size))
    return np.split(clip, cuts[cuts < clip.size])


# ---------------------------------------------------------------- numpy == C


def test_one_second_is_49_frames():
    assert CONFIG.frames(8000) == 49
    assert features(noise(0)).shape == (49, 20)
    assert CONFIG.frames(CONFIG.window - 1) == 0 and CONFIG.frames(CONFIG.window) == 1


@pytest.mark.parametrize("name", list(CLIPS))
def test_numpy_matches_c(host, name):
    clip = CLIPS[name]()
    want = features(clip)
    assert want.dtype == np.int16 and want.shape == (CONFIG.frames(clip.size), CONFIG.n_mels)
    assert_same(host.compute(clip), want, name)


def test_frame_function_matches(host):
    clip = noise(8, n=CONFIG.window)
    assert_same(host.frame(clip)[None], features(clip), "pb_frontend_frame")


@pytest.mark.parametrize("name", ["noise_seed0", "chirp_full_scale", "zeros", "all_min"])
def test_numpy_matches_c_other_config(wide_host, name):
    clip = np.resize(CLIPS[name](), 16000)  # one second at 16 kHz
    assert_same(wide_host.compute(clip), features(clip, WIDE), f"{name} (16 kHz layout)")


def test_silence_is_the_minimum_value():
    f = features(np.zeros(8000, np.int16))
    assert np.all(f == int(tables(CONFIG).log2_table[0]) - CONFIG.feature_offset)
    assert np.all(np.abs(to_float(f) + 16) < 0.01)  # log2(1) minus the 2*8 guard bits


# ---------------------------------------------------------------- streaming


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_numpy_random_chunks(seed):
    clip = noise(seed, n=8077)
    stream = StreamingFrontend(CONFIG)
    got = np.concatenate([stream.push(c) for c in random_chunks(clip, seed)])
    assert_same(got, features(clip), f"numpy streaming, seed {seed}")


def test_streaming_numpy_one_sample_at_a_time_and_reset():
    clip = chirp(n=3000)
    stream = StreamingFrontend(CONFIG)
    stream.push(noise(9, n=500))
    stream.reset()
    got = np.concatenate([stream.push(clip[i:i + 1]) for i in range(clip.size)])
    assert_same(got, features(clip), "numpy streaming, chunk size 1")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_c_random_chunks(host, seed):
    clip = noise(seed + 10, n=8077)
    assert_same(host.stream(random_chunks(clip, seed)), features(clip), f"C streaming, seed {seed}")


def test_streaming_c_one_sample_at_a_time(host):
    clip = chirp(n=3000)
    assert_same(host.stream([clip[i:i + 1] for i in range(clip.size)]), features(clip), "C streaming, chunk size 1")


def test_streaming_c_refuses_to_overflow_out(host):
    clip = noise(11, n=2000)
    host.reset()
    first = host.push(clip[:300])
    assert first.shape == (1, CONFIG.n_mels)
    kept = host.n_tail
    assert host.push(clip[300:], max_frames=2) == -1  # needs 10 frames: refused, nothing consumed
    assert host.n_tail == kept
    rest = host.push(clip[300:])
    assert_same(np.concatenate([first, rest]), features(clip), "C streaming after a refused push")


# ---------------------------------------------------------------- against float math


def float_log_mel(clip: np.ndarray, config: FrontendConfig) -> np.ndarray:
    """The same frontend in float64: same Q15 window and filters, np.fft.rfft, exact log2."""
    t = tables(config)
    n = config.frames(clip.size)
    frames = np.lib.stride_tricks.sliding_window_view(clip.astype(np.float64), config.window)[::config.hop][:n]
    spectrum = np.fft.rfft(frames * (t.window / 32768.0), n=config.fft) / config.fft
    mel = np.abs(spectrum) ** 2 @ (t.mel_matrix(config.n_bins).astype(np.float64) / 32768.0)
    return np.log2(np.maximum(mel, 1e-30))


@pytest.mark.parametrize("freq", [1000.0, 300.0, 2000.0, 3000.0])
def test_tone_peaks_in_nearest_mel_bin(freq):
    centres = mel_edges(CONFIG)[1:-1]
    want = int(np.argmin(np.abs(centres - freq)))
    peaks = np.argmax(features(sine(freq)), axis=1)
    assert np.all(peaks == want), f"{freq} Hz: peak bins {set(peaks.tolist())}, nearest centre is bin {want} ({centres[want]:.0f} Hz)"


@pytest.mark.parametrize("name, clip, config", [
    ("1 kHz sine", lambda: sine(1000.0), CONFIG),
    ("quiet 1 kHz sine", lambda: sine(1000.0, amp=30), CONFIG),
    ("noise", lambda: noise(12, std=3000), CONFIG),
    ("quiet noise", lambda: noise(13, std=10), CONFIG),
    ("chirp", chirp, CONFIG),
    ("chirp 16 kHz layout", lambda: chirp(n=16000, sr=16000), WIDE),
])
def test_close_to_float_reference(name, clip, config):
    clip = clip()
    want = float_log_mel(clip, config)
    got = to_float(features(clip, config), config)
    # non-negligible: at least one sample unit^2, and within 60 dB (20 octaves) of the frame's loudest bin,
    # above the Q15 twiddles' own error floor
    keep = (want >= 0.0) & (want >= want.max(axis=1, keepdims=True) - 20.0)
    assert keep.any(axis=1).all(), f"{name}: a frame has no value to compare"
    err = np.abs(got - want)[keep]
    assert err.max() < 0.1, f"{name}: integer log-mel off by {err.max():.3f} octaves"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs, field", [
    ({"window": 300}, "fft"),
    ({"fft": 384, "window": 256}, "fft"),
    ({"hop": 0}, "hop"),
    ({"hop": 300}, "hop"),
    ({"fmin": -1.0}, "fmin"),
    ({"fmax": 5000.0}, "fmax"),
    ({"fmin": 3000.0, "fmax": 2000.0}, "fmin"),
    ({"n_mels": 0}, "n_mels"),
    ({"n_mels": 120}, "n_mels"),  # more filters than the FFT resolves
    ({"log_frac_bits": 11}, "log_frac_bits"),
    ({"sample_rate": 0}, "sample_rate"),
])
def test_config_validation(kwargs, field):
    with pytest.raises(ProtobrainError) as e:
        FrontendConfig(**kwargs)
    msg = str(e.value)
    assert f"FrontendConfig.{field}=" in msg and "\n" not in msg, msg


@pytest.mark.parametrize("bad", [np.zeros(8000, np.float32), np.zeros((2, 4000), np.int16), [1, 2, 3]])
def test_rejects_non_int16_audio(bad):
    with pytest.raises(ProtobrainError, match="1-D int16"):
        features(bad)
    with pytest.raises(ProtobrainError, match="1-D int16"):
        StreamingFrontend().push(bad)


# ---------------------------------------------------------------- requantization into a net's input

ALL_INT16 = np.arange(-32768, 32768).astype(np.int16)
# (scale, zero point, dtype): int8 over the feature range, 16x8's symmetric int16, a power of two
# (exact ties everywhere), scales far from the usual ones, and saturation at both ends
INPUT_QUANTS = [(43.0 / 255, -34, "int8"), (0.1, 100, "int8"), (1 / 128, 3, "int8"), (50.0, -128, "int8"),
                (27.0 / 32767, 0, "int16"), (0.0123, 0, "int16"), (3e-5, 7, "int16"), (1 / 256, -5, "int16")]


def _float_quantize(q, scale, zp, dtype) -> np.ndarray:
    """round(q / 256 / scale) + zp, halves away from zero, saturated: the float reference."""
    v = q.astype(np.float64) / 256 / float(np.float32(scale))
    r = np.sign(v) * np.floor(np.abs(v) + 0.5) + zp
    info = np.iinfo(dtype)
    return np.clip(r, info.min, info.max).astype(np.int64)


@pytest.mark.parametrize("scale,zp,dtype", INPUT_QUANTS)
def test_feature_quantizer_c_matches_numpy_on_every_int16(host, scale, zp, dtype):
    fq = FeatureQuantizer.for_input(scale, zp, dtype)
    want = fq(ALL_INT16)
    assert want.dtype == np.dtype(dtype)
    assert_same(host.quantize(ALL_INT16.reshape(256, 256), fq), want.reshape(256, 256), f"{dtype} scale {scale}")
    # and it is TFLite's MultiplyByQuantizedMultiplier (scalar model) on the pre-shifted value
    info = np.iinfo(dtype)
    some = ALL_INT16[::97]
    scalar = [min(max(zp + fixedpoint.mul_by_quantized_mult(int(q) << 16, fq.multiplier, fq.shift - 16), info.min),
                  info.max) for q in some]
    assert np.array_equal(want[::97], scalar)


@pytest.mark.parametrize("scale,zp,dtype", INPUT_QUANTS)
def test_feature_quantizer_agrees_with_float(scale, zp, dtype):
    got = FeatureQuantizer.for_input(scale, zp, dtype)(ALL_INT16).astype(np.int64)
    want = _float_quantize(ALL_INT16, scale, zp, dtype)
    diff = np.abs(got - want)
    assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3, f"{int(np.sum(diff > 0))} of 65536 differ"
    assert np.any(got != got[0])  # not degenerate: the features do reach the input


def test_feature_quantizer_uses_log_frac_bits():
    q = np.array([-2560, 0, 1024, 2560], np.int16)
    assert FeatureQuantizer.for_input(0.5, 0, "int8")(q).tolist() == [-20, 0, 8, 20]  # Q8: q / 256 / 0.5
    assert FeatureQuantizer.for_input(0.5, 0, "int8", WIDE)(q).tolist() == [-5, 0, 2, 5]  # Q10


@pytest.mark.parametrize("scale,dtype,match", [(1e-9, "int8", "too fine"), (300.0, "int8", "too coarse"),
                                               (0.0, "int8", "positive"), (0.1, "uint8", "int8 or int16")])
def test_feature_quantizer_rejects_unusable_inputs(scale, dtype, match):
    with pytest.raises(ProtobrainError, match=match):
        FeatureQuantizer.for_input(scale, 0, dtype)


def test_feature_quantizer_needs_int16_features(host):
    fq = FeatureQuantizer.for_input(0.2, 0, "int8")
    for call in (fq, lambda x: host.quantize(x, fq)):
        with pytest.raises(ProtobrainError, match="int16"):
            call(np.zeros(4, np.int32))


# ---------------------------------------------------------------- generated C


@pytest.fixture(scope="module")
def c_sources(tmp_path_factory):
    out = tmp_path_factory.mktemp("frontend")
    paths = render_c(CONFIG, out)
    assert sorted(p.name for p in paths) == ["pb_frontend.c", "pb_frontend.h"]
    return out


def test_c_has_no_floats_or_malloc(c_sources):
    code = re.sub(r"/\*.*?\*/", "", (c_sources / "pb_frontend.c").read_text(), flags=re.S)
    assert not re.search(r"\b(float|double|malloc|free)\b", code)


def test_c_compiles_warning_free_on_host(c_sources, tmp_path):
    proc = subprocess.run([host_cc(), *WARNINGS, "-c", str(c_sources / "pb_frontend.c"), "-o", str(tmp_path / "f.o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_c_compiles_warning_free_for_cortex_m4(c_sources, tmp_path):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed (make setup installs gcc-arm-none-eabi)")
    proc = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", *WARNINGS, "-c",
                           str(c_sources / "pb_frontend.c"), "-o", str(tmp_path / "f.o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
