"""TFLite Micro's signal library operators (CUSTOM:Signal*) against its Python interpreter,
which registers them all: each operator alone in a model written here (the converter does
not emit them), over every type and option value, and the audio preprocessor model that
chains them, on the host and on a simulated Cortex-M4 over serial.

The stateful operators (spectral subtraction, framer, delay, stacker, overlap-add) are
compared over consecutive invocations from reset, so their state is checked too. Where
TFLite Micro leaves an output unwritten (a framer's or stacker's output while its valid
flag is false, energies outside start..end), both sides' undefined values are masked out.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import RecordedReference, assert_bit_exact, needs_simulator, shared_model

from protobrain.compiler.ops.signal_fft import factors, twiddles
from protobrain.compiler.ops.signal_filterbank import log_lut
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import ModelError, UnsupportedError
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

T = {"int16": 7, "int32": 2, "float32": 0}  # tflite.TensorType of the "T" option
ARENA = 1 << 20  # TFLite Micro's default arena (10x the file) is too small for the FFT state


def signal_model(op: str, inputs, outputs, options, consts=()) -> bytes:
    """One CUSTOM:<op>: activation inputs [(shape, dtype)], then constant inputs (arrays),
    and outputs [(shape, dtype)]; options become its flexbuffer custom options."""
    tensors = [{"shape": list(s), "type": d} for s, d in inputs]
    tensors += [{"shape": list(np.shape(c)), "type": str(np.asarray(c).dtype), "data": np.asarray(c)} for c in consts]
    first_out = len(tensors)
    tensors += [{"shape": list(s), "type": d} for s, d in outputs]
    ins = list(range(first_out))
    outs = list(range(first_out, len(tensors)))
    return write_model(tensors, [(f"CUSTOM:{op}", ins, outs, None, options)], list(range(len(inputs))), outs)


class Masked:
    """A model side (compiled or reference) whose outputs TFLite Micro leaves undefined in
    places: mask(outputs) zeroes those places, the same way on both sides."""

    def __init__(self, side, mask):
        self.side, self.mask = side, mask

    def __getattr__(self, name):
        return getattr(self.side, name)

    def reset(self):
        self.side.reset()

    def run(self, *xs):
        out = self.side.run(*xs)
        return self.mask(out) if self.mask else out


def check(data: bytes, name: str, n_random: int = 8, extra=(), mask=None) -> int:
    """The portable kernels and the DSP tier's C form against TFLite Micro, over n_random
    random inputs, the three edge inputs and `extra`, run one after another from reset."""
    reference = RecordedReference(Masked(Reference(data, arena_size=ARENA), mask))
    cases = 0
    for tier in ("portable", "dsp"):
        compiled = compile_bytes(data, name, tier=tier)
        cases = assert_bit_exact(Masked(compiled, mask), reference, n_random=n_random, extra_inputs=extra)
    return cases


def refused(data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedError, match=reason):
        build_program(read_model_bytes(data, "m"))


# ---- window, FFT auto scale, energy ------------------------------------------------------


@pytest.mark.parametrize("shift", [0, 12, 31])
@pytest.mark.parametrize("shape", [(16,), (3, 16)])
def test_window(shape, shift):
    window = np.random.default_rng(shift).integers(-32768, 32767, 16, endpoint=True).astype(np.int16)
    window[:2] = (-32768, 32767)
    data = signal_model("SignalWindow", [(shape, "int16")], [(shape, "int16")], {"shift": shift}, [window])
    assert check(data, "window") == 11


def test_window_refusals():
    window = np.ones(6, np.int16)
    refused(signal_model("SignalWindow", [((16,), "int16")], [((16,), "int16")], {"shift": 1}, [window]),
            "not a whole number of 6-sample windows")
    refused(signal_model("SignalWindow", [((6,), "int16")], [((6,), "int16")], {"shift": 32}, [window]),
            r"shift 32 outside \[0, 31\]")
    refused(signal_model("SignalWindow", [((6,), "int16")], [((6,), "int16")], {"shift": 1, "x": 0}, [window]),
            "the kernel reads exactly")
    refused(signal_model("SignalWindow", [((6,), "int16"), ((6,), "int16")], [((6,), "int16")], {"shift": 1}),
            "the window must be a constant tensor")


def test_fft_auto_scale():
    n = 32
    one = np.zeros(n, np.int16)
    one[3] = 1
    extra = [one, -one, one * 0x4000, one * -0x4000, one * 0x3FFF,
             np.where(np.arange(n) == 5, -32768, 7).astype(np.int16),  # -32768 then smaller values
             np.where(np.arange(n) == 30, -32768, 7).astype(np.int16)]  # smaller values, then -32768
    data = signal_model("SignalFftAutoScale", [((n,), "int16")], [((n,), "int16"), ((), "int32")], {})
    assert check(data, "fft_auto_scale", extra=extra) == 11 + len(extra)


@pytest.mark.parametrize("start,end", [(0, 33), (5, 30), (7, 7)])
def test_energy(start, end):
    data = signal_model("SignalEnergy", [((66,), "int16")], [((33,), "uint32")],
                        {"end_index": end, "start_index": start})

    def written(out):  # TFLite Micro writes bins start..end-1 only
        out = out.copy()
        out[:start], out[end:] = 0, 0
        return out

    check(data, "energy", mask=written)


def test_energy_refuses_bins_past_the_spectrum():
    refused(signal_model("SignalEnergy", [((66,), "int16")], [((33,), "uint32")], {"end_index": 34, "start_index": 0}),
            "end_index 34 past")


# ---- real FFT and inverse ------------------------------------------------------------------


FFT_CASES = [(4, 4), (8, 5), (12, 12), (30, 30), (40, 33), (100, 100), (512, 480)]  # radices 4, 2, 3, 5


@pytest.mark.parametrize("dtype", ["int16", "int32", "float32"])
@pytest.mark.parametrize("n,length", FFT_CASES)
def test_rfft(dtype, n, length):
    rows = 2 if n < 100 else 1
    data = signal_model("SignalRfft", [((rows, length), dtype)], [((rows, n + 2), dtype)],
                        {"T": T[dtype], "fft_length": n})
    check(data, "rfft", n_random=4)


@pytest.mark.parametrize("dtype", ["int16", "int32", "float32"])
@pytest.mark.parametrize("n", [n for n, _ in FFT_CASES])
def test_irfft(dtype, n):
    data = signal_model("SignalIrfft", [((2, n + 2), dtype)], [((2, n), dtype)], {"T": T[dtype], "fft_length": n})
    check(data, "irfft", n_random=4)


def test_fft_tables():
    """The factorisation (fours first, then two, then odd radices) and fixed-point twiddles
    on the unit circle, scaled to the sample type's largest value."""
    assert factors(256) == [4, 64, 4, 16, 4, 4, 4, 1]
    assert factors(128) == [4, 32, 4, 8, 4, 2, 2, 1]
    assert factors(60) == [4, 15, 3, 5, 5, 1]
    assert factors(7) == [7, 1]
    tw = np.asarray(twiddles(8, False, "int16")).reshape(-1, 2)
    assert tw[0].tolist() == [32767, 0] and tw[2].tolist() == [0, -32767] and tw[4].tolist() == [-32767, 0]
    assert np.asarray(twiddles(8, True, "int32")).reshape(-1, 2)[2].tolist() == [0, 2147483647]


def test_fft_refusals():
    def rfft(n, dtype="int16", t=None, length=None, out=None):
        return signal_model("SignalRfft", [((length or n,), dtype)], [((out or n + 2,), dtype)],
                            {"T": T[dtype] if t is None else t, "fft_length": n})

    refused(rfft(14), "7 has the prime factor 7")
    refused(signal_model("SignalRfft", [((9,), "int16")], [((10,), "int16")], {"T": 7, "fft_length": 9}), "even length")
    refused(rfft(2), "at least 4")
    refused(rfft(1 << 17, length=8, out=8), "fft_length 131072 above 65536")
    refused(rfft(16, t=2), "types int16 -> int16 for T int32")
    refused(rfft(16, t=9), "T 9")
    refused(rfft(16, length=20), "longer than fft_length")
    refused(rfft(16, out=16), "gives 9 complex values")


# ---- filter bank, square root, spectral subtraction, PCAN, log -----------------------------


def filter_bank_tables(bins: int, channels: int, seed: int, negative: bool = False):
    """Overlapping channels over the spectrum, as the audio front end builds them (random
    weights; negative ones wrap modulo 2^64 in TFLite Micro's unsigned sums)."""
    rng = np.random.default_rng(seed)
    edges = np.linspace(1, bins - 1, channels + 2).astype(int)
    freq_starts = edges[:-1].astype(np.int16)
    widths = np.diff(edges).astype(np.int16)
    widths[0] = 0 if seed % 2 else widths[0]  # an empty first channel
    weight_starts = np.concatenate([[0], np.cumsum(widths[:-1])]).astype(np.int16)
    total = int(widths.sum())
    lo = -4096 if negative else 0
    weights = rng.integers(lo, 4096, total).astype(np.int16)
    unweights = rng.integers(lo, 4096, total).astype(np.int16)
    return [weights, unweights, freq_starts, weight_starts, widths]


@pytest.mark.parametrize("channels,negative", [(1, False), (12, False), (40, True)])
def test_filter_bank(channels, negative):
    tables = filter_bank_tables(129, channels, channels, negative)
    data = signal_model("SignalFilterBank", [((129,), "uint32")], [((channels,), "uint64")],
                        {"num_channels": channels}, tables)
    small = np.random.default_rng(1).integers(0, 2**20, 129).astype(np.uint32)
    check(data, "filter_bank", extra=[small])


def test_filter_bank_refuses_tables_reading_outside():
    tables = filter_bank_tables(129, 8, 2)
    tables[2] = tables[2].copy()
    tables[2][5] = 127  # channel 5 would read bins past the 129
    data = signal_model("SignalFilterBank", [((129,), "uint32")], [((8,), "uint64")], {"num_channels": 8}, tables)
    refused(data, "channel 5 reads bins 127")


def test_filter_bank_square_root():
    """The shift is a run-time input (random int32: only the low five bits count)."""
    data = signal_model("SignalFilterBankSquareRoot", [((40,), "uint64"), ((), "int32")], [((40,), "uint32")], {})
    ramp = np.array([0, 1, 2, 3, 4, 2**32 - 1, 2**32, 2**32 + 1, 2**62, 2**64 - 1] * 4, np.uint64)
    extra = [(ramp, np.array(s, np.int32)) for s in (0, 1, 15, 31, 32, -1)]
    assert check(data, "sqrt", extra=extra) == 11 + len(extra)


def test_filter_bank_square_root_with_constant_shift():
    data = signal_model("SignalFilterBankSquareRoot", [((24,), "uint64")], [((24,), "uint32")], {},
                        [np.array(7, np.int32)])
    check(data, "sqrt_const")


SPECTRAL = {"alternate_one_minus_smoothing": 15401, "alternate_smoothing": 983, "clamping": False,
            "min_signal_remaining": 819, "num_channels": 40, "one_minus_smoothing": 15975, "smoothing": 409,
            "smoothing_bits": 10, "spectral_subtraction_bits": 14}


@pytest.mark.parametrize("changes", [{}, {"clamping": True}, {"num_channels": 7},
                                     {"smoothing_bits": 0, "spectral_subtraction_bits": 40, "smoothing": -5,
                                      "alternate_smoothing": 2**31 - 1, "one_minus_smoothing": 3}])
def test_spectral_subtraction(changes):
    """The noise estimate persists: 11 invocations in a row, then a run of quiet and loud
    inputs that makes it track and clamp."""
    opts = SPECTRAL | changes
    n = opts["num_channels"]
    data = signal_model("SignalFilterBankSpectralSubtraction", [((n,), "uint32")],
                        [((n,), "uint32"), ((n,), "uint32")], opts)
    rng = np.random.default_rng(n)
    extra = [rng.integers(0, 2**k, n).astype(np.uint32) for k in (8, 8, 20, 30, 4, 4, 12)]
    assert check(data, "spectral_subtraction", extra=extra) == 11 + len(extra)


@pytest.mark.parametrize("snr_shift", [0, 6, 40, 63])
def test_pcan(snr_shift):
    lut = np.random.default_rng(snr_shift).integers(-32768, 32767, 125, endpoint=True).astype(np.int16)
    data = signal_model("SignalPCAN", [((40,), "uint32"), ((40,), "uint32")], [((40,), "uint32")],
                        {"snr_shift": snr_shift}, [lut])
    levels = np.array([0, 1, 2, 3, 4, 7, 8, 1023, 1024, 2047, 2048, 4096, 2**20, 2**31, 2**32 - 1] * 3)[:40]
    extra = [(levels.astype(np.uint32), levels[::-1].astype(np.uint32))]
    check(data, "pcan", extra=extra)


def test_pcan_refuses_a_short_gain_table():
    data = signal_model("SignalPCAN", [((8,), "uint32"), ((8,), "uint32")], [((8,), "uint32")], {"snr_shift": 6},
                        [np.zeros(100, np.int16)])
    refused(data, "gain table of 100 entries")


@pytest.mark.parametrize("bits,scale", [(0, 64), (3, 64), (31, 1600), (5, -1)])
def test_filter_bank_log(bits, scale):
    """Many channels: each value rounds three times, rarely exactly halfway."""
    data = signal_model("SignalFilterBankLog", [((2048,), "uint32")], [((2048,), "int16")],
                        {"input_correction_bits": bits, "output_scale": scale})
    x = np.concatenate([[0, 1, 2, 3], 2 ** np.arange(2, 32), [2**32 - 1, 65535, 65537, 3 << 20]]).astype(np.uint32)
    small = np.random.default_rng(bits).integers(0, 1 << (32 - bits), 2048).astype(np.uint32)
    check(data, "log", extra=[np.resize(x, 2048), small])


def test_log_table_is_the_interpolated_log2():
    lut = log_lut()
    assert len(lut) == 130 and lut[0] == 0 and lut[1] == 224 and lut[64] == 5568 and lut[128:] == [0, 0]


# ---- framer, delay, stacker, overlap-add ---------------------------------------------------


def valid_only(outputs):
    """A frame or stack output means nothing while its valid flag is false."""
    frames, valid = outputs
    return [frames if valid else np.zeros_like(frames), valid]


@pytest.mark.parametrize("size,step,prefill", [(8, 4, True), (8, 4, False), (10, 4, False), (10, 4, True),
                                               (4, 4, True), (3, 4, False), (16, 2, False)])
@pytest.mark.parametrize("shape", [(8,), (2, 16)])
def test_framer(shape, size, step, prefill):
    frames = shape[-1] // step
    data = signal_model("SignalFramer", [(shape, "int16")], [(shape[:-1] + (frames, size), "int16"), ((), "bool")],
                        {"frame_size": size, "frame_step": step, "prefill": prefill})
    check(data, "framer", mask=valid_only)


def test_framer_refusals():
    def framer(size, step, prefill, n=8):
        return signal_model("SignalFramer", [((n,), "int16")], [((n // step, size), "int16"), ((), "bool")],
                            {"frame_size": size, "frame_step": step, "prefill": prefill})

    refused(framer(2, 4, True), "prefill with frame_size 2 below frame_step 4")
    refused(framer(4, 3, False, n=8), "not whole steps of 3")
    refused(framer(1 << 21, 4, False), "frame_size 2097152")


@pytest.mark.parametrize("delay", [0, 3, 20])
@pytest.mark.parametrize("shape", [(8,), (3, 8)])
def test_delay(shape, delay):
    data = signal_model("SignalDelay", [(shape, "int16")], [(shape, "int16")], {"delay_length": delay})
    check(data, "delay")


@pytest.mark.parametrize("left,right,step", [(0, 0, 1), (2, 1, 1), (2, 2, 3), (1, 0, 2), (3, 0, 4)])
def test_stacker(left, right, step):
    frames = left + right + 1
    data = signal_model("SignalStacker", [((5,), "int16")], [((5 * frames,), "int16"), ((), "bool")],
                        {"num_channels": 5, "stacker_left_context": left, "stacker_right_context": right,
                         "stacker_step": step})
    check(data, "stacker", mask=valid_only)


def test_stacker_refuses_steps_past_the_stack():
    data = signal_model("SignalStacker", [((5,), "int16")], [((10,), "int16"), ((), "bool")],
                        {"num_channels": 5, "stacker_left_context": 1, "stacker_right_context": 0, "stacker_step": 3})
    refused(data, "stacker_step 3 outside 1..2")


@pytest.mark.parametrize("dtype", ["int16", "float32"])
@pytest.mark.parametrize("shape,step", [((3, 8), 4), ((2, 3, 8), 8), ((4, 6), 1)])
def test_overlap_add(dtype, shape, step):
    out = shape[:-2] + (shape[-2] * step,)
    data = signal_model("SignalOverlapAdd", [(shape, dtype)], [(out, dtype)], {"T": T[dtype], "frame_step": step})
    check(data, "overlap_add")


def test_overlap_add_refuses_steps_past_the_frame():
    data = signal_model("SignalOverlapAdd", [((3, 8), "int16")], [((27,), "int16")], {"T": 7, "frame_step": 9})
    refused(data, "frame_step 9 outside 1..8")


# ---- options, and the audio preprocessor ----------------------------------------------------


def test_custom_options_are_read_and_damage_is_reported():
    data = signal_model("SignalEnergy", [((8,), "int16")], [((4,), "uint32")], {"end_index": 4, "start_index": 1})
    op = read_model_bytes(data).operators[0]
    assert op.name == "CUSTOM:SignalEnergy" and op.options == {"end_index": 4, "start_index": 1}
    damaged = signal_model("SignalEnergy", [((8,), "int16")], [((4,), "uint32")], b"\x01\x02\xff\x7f")
    with pytest.raises(ModelError, match="not a valid flexbuffer"):
        read_model_bytes(damaged)
    refused(signal_model("SignalEnergy", [((8,), "int16")], [((4,), "uint32")], {"end_index": 4.5, "start_index": 1}),
            "end_index is float")


N_PREPROCESSOR = 12  # consecutive invocations: the noise estimate carries from one to the next


def preprocessor_inputs(n: int, seed: int) -> list[np.ndarray]:
    """Audio-like frames (tones, noise, silence, full scale) of the preprocessor's 480 samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(480)
    out = []
    for k in range(n):
        kind = k % 4
        if kind == 0:
            x = rng.uniform(100, 20000) * np.sin(2 * np.pi * rng.uniform(50, 7000) * t / 16000)
        elif kind == 1:
            x = rng.normal(0, rng.uniform(1, 3000), 480)
        elif kind == 2:
            x = np.zeros(480) + rng.integers(-2, 3, 480)
        else:
            x = rng.integers(-32768, 32768, 480)
        out.append(np.clip(x, -32768, 32767).astype(np.int16).reshape(1, 480))
    return out


def test_audio_preprocessor_bit_exact_over_consecutive_invocations():
    path = shared_model("audio_preprocessor_int8")
    data = path.read_bytes()
    names = {op.name for op in read_model_bytes(data).operators}
    assert {"CUSTOM:SignalRfft", "CUSTOM:SignalFilterBankSpectralSubtraction", "CUSTOM:SignalPCAN"} <= names
    cases = check(data, "audio_preprocessor", n_random=4, extra=preprocessor_inputs(N_PREPROCESSOR, 0))
    assert cases == 7 + N_PREPROCESSOR


def test_audio_preprocessor_keeps_state_between_invocations():
    """The same frame twice gives different features (the noise estimate moved), as in
    TFLite Micro; after reset, the first answer again."""
    path = shared_model("audio_preprocessor_int8")
    compiled = compile_bytes(path.read_bytes(), "audio_preprocessor")
    reference = Reference(path)
    x = preprocessor_inputs(1, 5)[0]
    compiled.reset()  # the library may be loaded already, by an earlier test
    first, second = compiled.run(x), compiled.run(x)
    assert not np.array_equal(first, second)
    assert np.array_equal(first, reference.run(x)) and np.array_equal(second, reference.run(x))
    compiled.reset()
    assert np.array_equal(compiled.run(x), first)


def test_audio_preprocessor_bit_exact_on_cortex_m4_over_serial(tmp_path):
    from devices import running_firmware, verify_on_device

    board = needs_simulator("qemu-mps2-an386")
    path = shared_model("audio_preprocessor_int8")
    prog = build_program(read_model_bytes(path.read_bytes(), "audio_preprocessor"), tier="dsp",
                         flash_budget=board.flash.length)
    with running_firmware(board, [prog], [path.read_bytes()], tmp_path / "fw") as dev:
        result = verify_on_device(dev, Reference(path), prog, n_random=N_PREPROCESSOR, seed=2)
    assert result.ok, f"first mismatch {result.mismatches[0]}"
    assert result.cases == N_PREPROCESSOR + 3
