"""Host side of the serial protocol (see templates/firmware/pb_protocol.h)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SYNC = b"\xa5\x5a"
CMD_PING, CMD_INFO, CMD_INVOKE, CMD_PROFILE = 0x01, 0x02, 0x03, 0x04
CMD_WRITE_ARENA, CMD_RUN_STEPS, CMD_READ_ARENA = 0x05, 0x06, 0x07
CMD_LISTEN_RESET, CMD_LISTEN, CMD_SPEAK, CMD_SPEAK_NEXT = 0x08, 0x09, 0x0A, 0x0B  # the protobrain bundle
CMD_SPEAK_STREAM, CMD_SPEAK_FRAME = 0x0C, 0x0D  # the bundle: speak frames the host streams
REPLY_FLAG, REPLY_ERROR = 0x80, 0xFF
ERRORS = {1: "bad CRC", 2: "bad length", 3: "unknown command", 4: "unknown model", 5: "wrong input size",
          6: "offset, length or step out of range"}
COUNT_KINDS = {0: "none", 1: "cycles (DWT)", 2: "cycles (SysTick)", 3: "cycles (mcycle)"}


def encode(frame_type: int, seq: int, payload: bytes = b"") -> bytes:
    body = struct.pack("<BBH", frame_type, seq & 0xFF, len(payload)) + payload
    return SYNC + body + struct.pack("<I", zlib.crc32(body))


@dataclass
class Frame:
    type: int
    seq: int
    payload: bytes


class Decoder:
    """Incremental frame decoder: feed bytes, collect whole frames; skips garbage."""

    def __init__(self):
        self.buf = bytearray()
        self.bad_crc = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        frames = []
        while True:
            start = self.buf.find(SYNC)
            if start < 0:
                del self.buf[:-1]
                return frames
            del self.buf[:start]
            if len(self.buf) < 6:
                return frames
            frame_type, seq, length = struct.unpack_from("<BBH", self.buf, 2)
            end = 6 + length + 4
            if len(self.buf) < end:
                return frames
            body = bytes(self.buf[2:6 + length])
            (crc,) = struct.unpack_from("<I", self.buf, 6 + length)
            if crc == zlib.crc32(body):
                frames.append(Frame(frame_type, seq, body[4:]))
                del self.buf[:end]
            else:  # not a real frame start: skip this sync pair and look again
                self.bad_crc += 1
                del self.buf[:2]
