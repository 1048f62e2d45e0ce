"""Seed models of TFLite Micro's custom operators (options in flexbuffers): the signal
library (CUSTOM:Signal*) in a small audio front end (window, FFT auto scale, real FFT,
energy, filter bank, square root, spectral subtraction, PCAN, log) and a framing chain
(framer, delay, stacker, inverse real FFT, overlap-add) whose state persists between
invocations; and CIRCULAR_BUFFER with TFLite_Detection_PostProcess.
"""

from __future__ import annotations

import numpy as np

from protobrain.verify.fuzz.seeds_net import Net

INT16 = 7  # tflite.TensorType of the "T" options: the int16 forms


def _filter_bank(n: Net, bins: int, channels: int) -> list[int]:
    """The five constant tables of SignalFilterBank: overlapping channels over the bins."""
    edges = np.linspace(1, bins - 1, channels + 2).astype(int)
    widths = np.diff(edges)
    starts = np.concatenate([[0], np.cumsum(widths[:-1])])
    total = int(widths.sum())
    return [n.const(n.rng.integers(0, 4096, total), "int16"), n.const(n.rng.integers(0, 4096, total), "int16"),
            n.const(edges[:-1], "int16"), n.const(starts, "int16"), n.const(widths, "int16")]


def tiny_frontend() -> bytes:
    """32 samples -> 6 log filter bank channels, as the audio preprocessor computes them."""
    n = Net(14)
    frame, fft, channels = 24, 32, 6
    bins = fft // 2 + 1
    x = n.act([frame], "int16", name="samples")
    win = n.act([frame], "int16")
    n.op("CUSTOM:SignalWindow", [x, n.const(n.rng.integers(0, 32767, frame), "int16")], win, shift=12)
    scaled, shift = n.act([frame], "int16"), n.act([], "int32")
    n.op("CUSTOM:SignalFftAutoScale", [win], [scaled, shift])
    spectrum = n.act([2 * bins], "int16")
    n.op("CUSTOM:SignalRfft", [scaled], spectrum, T=INT16, fft_length=fft)
    energy = n.act([bins], "uint32")
    n.op("CUSTOM:SignalEnergy", [spectrum], energy, end_index=bins, start_index=0)
    sums = n.act([channels], "uint64")
    n.op("CUSTOM:SignalFilterBank", [energy, *_filter_bank(n, bins, channels)], sums, num_channels=channels)
    roots = n.act([channels], "uint32")
    n.op("CUSTOM:SignalFilterBankSquareRoot", [sums, shift], roots)
    clean, noise = n.act([channels], "uint32"), n.act([channels], "uint32", name="noise")
    n.op("CUSTOM:SignalFilterBankSpectralSubtraction", [roots], [clean, noise], alternate_one_minus_smoothing=15401,
         alternate_smoothing=983, clamping=False, min_signal_remaining=819, num_channels=channels,
         one_minus_smoothing=15975, smoothing=409, smoothing_bits=10, spectral_subtraction_bits=14)
    gained = n.act([channels], "uint32")
    n.op("CUSTOM:SignalPCAN", [clean, noise, n.const(n.rng.integers(0, 32767, 125), "int16")], gained, snr_shift=6)
    logs = n.act([channels], "int16", name="features")
    n.op("CUSTOM:SignalFilterBankLog", [gained], logs, input_correction_bits=3, output_scale=64)
    return n.build([x], [logs, noise], "tiny_frontend")


def tiny_frames() -> bytes:
    """Framer (prefilled: every frame valid) on the samples; delay, real FFT and its inverse,
    overlap-add and stacker (every stack valid) on them too; int16 throughout. The framer and
    stacker outputs are graph outputs beside their valid flags (what they hold while the
    flag is false is undefined)."""
    n = Net(15)
    x = n.act([1, 8], "int16", name="samples")
    frames, valid = n.act([1, 2, 8], "int16", name="frames"), n.act([], "bool", name="frames_valid")
    n.op("CUSTOM:SignalFramer", [x], [frames, valid], frame_size=8, frame_step=4, prefill=True)
    delayed = n.act([1, 8], "int16")
    n.op("CUSTOM:SignalDelay", [x], delayed, delay_length=3)
    spectrum = n.act([1, 10], "int16", name="spectrum")
    n.op("CUSTOM:SignalRfft", [delayed], spectrum, T=INT16, fft_length=8)
    back = n.act([1, 8], "int16")
    n.op("CUSTOM:SignalIrfft", [spectrum], back, T=INT16, fft_length=8)
    added = n.act([4], "int16")
    n.op("CUSTOM:SignalOverlapAdd", [back], added, T=INT16, frame_step=4)
    stacked, ready = n.act([12], "int16", name="stacked"), n.act([], "bool", name="stacked_valid")
    n.op("CUSTOM:SignalStacker", [added], [stacked, ready], num_channels=4, stacker_left_context=2,
         stacker_right_context=0, stacker_step=1)
    return n.build([x], [frames, valid, spectrum, stacked, ready], "tiny_frames")


def tiny_custom() -> bytes:
    """CIRCULAR_BUFFER (int8 frames, three slots) and TFLite_Detection_PostProcess (float32,
    fast non-max suppression over 6 anchors and 3 classes), both straight to graph outputs."""
    n = Net(16)
    frame = n.act([1, 1, 2, 3], scale=0.1, zp=-3, name="frame")
    slots = n.act([1, 3, 2, 3], scale=0.1, zp=-3, name="slots")
    n.op("CUSTOM:CIRCULAR_BUFFER", [frame], slots, cycles_max=1)
    boxes, scores = n.act([1, 6, 4], "float32", name="boxes"), n.act([1, 6, 4], "float32", name="scores")
    anchors = n.const(np.concatenate([n.rng.uniform(0.2, 0.8, (6, 2)), n.rng.uniform(0.1, 0.4, (6, 2))], 1), "float32")
    outs = [n.act([1, 4, 4], "float32", name="detected_boxes"), n.act([1, 4], "float32", name="classes"),
            n.act([1, 4], "float32", name="detected_scores"), n.act([1], "float32", name="detections")]
    n.op("CUSTOM:TFLite_Detection_PostProcess", [boxes, scores, anchors], outs, max_detections=4,
         max_classes_per_detection=1, detections_per_class=3, use_regular_nms=False, nms_score_threshold=0.0,
         nms_iou_threshold=0.5, num_classes=3, y_scale=10.0, x_scale=10.0, h_scale=5.0, w_scale=5.0)
    return n.build([frame, boxes, scores], [slots, *outs], "tiny_custom")
