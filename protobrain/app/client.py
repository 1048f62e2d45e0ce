"""The protobrain bundle's serial verbs: LISTEN_RESET, LISTEN, SPEAK, SPEAK_NEXT, SPEAK_STREAM
and SPEAK_FRAME, on top of
the generic client of any protobrain firmware (protobrain.run.device.Device).

May import run and compiler.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from protobrain.compiler.ir import DTYPES
from protobrain.run import protocol
from protobrain.run.device import Device


@dataclass
class Heard:
    """LISTEN reply: per inference (newest frame index, timer count, raw scores)."""
    results: list
    count: int
    count_kind: str


def parse_heard(payload: bytes, dtype: np.dtype, nbytes: int) -> Heard:
    """A LISTEN reply: count header, results u8, then per inference frame u32, count u32 and
    the speech net's `nbytes` output bytes of `dtype`."""
    kind, count, n = struct.unpack_from("<BQB", payload, 0)
    results, offset = [], 10
    for _ in range(n):
        frame, inference_count = struct.unpack_from("<II", payload, offset)
        scores = np.frombuffer(payload, dtype, count=nbytes // dtype.itemsize, offset=offset + 8).copy()
        results.append((frame, inference_count, scores))
        offset += 8 + nbytes
    return Heard(results, count, protocol.COUNT_KINDS.get(kind, str(kind)))


def parse_samples(payload: bytes) -> tuple[np.ndarray, int]:
    """A SPEAK_NEXT or SPEAK_FRAME reply: its int16 samples and their timer count."""
    _, count = struct.unpack_from("<BQ", payload, 0)
    return np.frombuffer(payload, "<i2", offset=9).astype(np.int16), count


class BundleDevice(Device):
    """A Device running a protobrain bundle: the generic commands, plus listen and speak."""

    def listen_reset(self) -> None:
        self.request(protocol.CMD_LISTEN_RESET)

    def listen(self, samples: np.ndarray) -> Heard:
        """Send int16 samples (at most the firmware's max_samples); the speech net's outputs
        for every inference the chunk completed."""
        desc = self.info()["models"][self.info()["protobrain"]["speech"].get("model", 1)]["outputs"][0]
        dtype = np.dtype(DTYPES[desc["dtype"]])
        payload = self.request(protocol.CMD_LISTEN, np.asarray(samples, "<i2").tobytes())
        return parse_heard(payload, dtype, desc["bytes"])

    def speak(self, keyword: int, temperature_q8: int, seed: int) -> tuple[int, int]:
        """Start vocoding a stored keyword; returns (frames, samples per frame)."""
        payload = self.request(protocol.CMD_SPEAK, struct.pack("<BHI", keyword, temperature_q8, seed & 0xFFFFFFFF))
        return struct.unpack_from("<HH", payload, 0)

    def speak_stream(self, temperature_q8: int, seed: int) -> tuple[int, int, int]:
        """Start speaking frames this host sends; returns (samples per frame, features per
        frame, prediction coefficients per frame)."""
        payload = self.request(protocol.CMD_SPEAK_STREAM, struct.pack("<HI", temperature_q8, seed & 0xFFFFFFFF))
        return struct.unpack_from("<HHH", payload, 0)

    def speak_frame(self, features, coefficients=None) -> tuple[np.ndarray, int]:
        """One streamed frame (int16 features, and its Q12 prediction coefficients when the
        vocoder predicts): its samples and their timer count."""
        parts = [np.asarray(features, "<i2").reshape(-1)]
        if coefficients is not None:
            parts.append(np.asarray(coefficients, "<i2").reshape(-1))
        return parse_samples(self.request(protocol.CMD_SPEAK_FRAME, np.concatenate(parts).tobytes()))

    def speak_next(self) -> tuple[np.ndarray, int]:
        """The next frame of samples (empty once the word is done) and its timer count."""
        return parse_samples(self.request(protocol.CMD_SPEAK_NEXT))
