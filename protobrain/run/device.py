"""Talk to a running protobrain firmware over a serial line (real port, pty or TCP).

Requests are retried on timeout; between tries the link is flushed with enough zero bytes
to complete any partial frame the device may be holding, so it resynchronises.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass

import numpy as np
import serial

from protobrain.compiler.ir import DTYPES
from protobrain.errors import ProtobrainError
from protobrain.run import protocol


class LinkError(ProtobrainError):
    exit_code = 3


class DeviceError(ProtobrainError):
    exit_code = 3


@dataclass
class InvokeResult:
    outputs: list[np.ndarray]
    count: int
    count_kind: str


@dataclass
class Profile:
    """What the device measured during its last inference."""
    stack_used: int  # bytes: high-water mark since boot
    stack_size: int
    count_kind: str
    step_counts: list[int]  # timer counts per step (differences of the stamps)


class Device:
    def __init__(self, port: str, baudrate: int = 115200, timeout: float = 10.0, retries: int = 3):
        self.port_name = port
        self.timeout = timeout
        self.retries = retries
        try:
            self.port = serial.serial_for_url(port, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as e:
            raise LinkError(f"cannot open serial port {port}: {e}") from None
        self.decoder = protocol.Decoder()
        self.seq = 0
        self._info = None
        self.max_frame = 65536 + 16

    def close(self):
        self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- transport -----------------------------------------------------------------
    def _read_frame(self, seq: int, deadline: float) -> protocol.Frame | None:
        while time.monotonic() < deadline:
            try:
                data = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as e:
                raise LinkError(f"serial link {self.port_name} failed: {e}") from None
            for frame in self.decoder.feed(data):
                if frame.seq == seq:
                    return frame
        return None

    def _resync(self, pending: int) -> None:
        """Complete any partial frame on the device, then drop whatever it answers."""
        self.port.write(b"\x00" * pending)
        self.port.flush()
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            if self.port.read(4096):
                end = time.monotonic() + 0.3
        self.decoder = protocol.Decoder()

    def request(self, frame_type: int, payload: bytes = b"") -> bytes:
        for attempt in range(self.retries):
            self.seq = (self.seq + 1) & 0xFF
            frame = protocol.encode(frame_type, self.seq, payload)
            try:
                self.port.write(frame)
                self.port.flush()
            except (serial.SerialException, OSError) as e:
                raise LinkError(f"serial link {self.port_name} failed: {e}") from None
            # QEMU feeds the guest about 10 KiB/s; give big frames the time they need.
            deadline = time.monotonic() + self.timeout + len(frame) / 8000.0
            reply = self._read_frame(self.seq, deadline)
            if reply is None:
                self._resync(len(frame) + 16)
                continue
            if reply.type == protocol.REPLY_ERROR:
                code = reply.payload[0] if reply.payload else 0
                if code == 1 and attempt + 1 < self.retries:  # corrupted on the wire: try again
                    continue
                raise DeviceError(f"device refused the request: {protocol.ERRORS.get(code, f'error {code}')}")
            if reply.type != frame_type | protocol.REPLY_FLAG:
                raise DeviceError(f"unexpected reply type 0x{reply.type:02x} to command 0x{frame_type:02x}")
            return reply.payload
        raise LinkError(f"no reply from the device on {self.port_name} after {self.retries} tries "
                        f"({self.timeout:.0f} s each); is the firmware running and is the port right?")

    # --- commands --------------------------------------------------------------------
    def ping(self, payload: bytes = b"ping") -> bytes:
        return self.request(protocol.CMD_PING, payload)

    def info(self) -> dict:
        if self._info is None:
            self._info = json.loads(self.request(protocol.CMD_INFO).decode())
        return self._info

    def model_index(self, name: str) -> int:
        names = [m["name"] for m in self.info()["models"]]
        if name not in names:
            raise DeviceError(f"the firmware has no model '{name}'; it has: {', '.join(names)}")
        return names.index(name)

    def invoke(self, model: int, *inputs: np.ndarray) -> InvokeResult:
        desc = self.info()["models"][model]
        raw = b"".join(np.ascontiguousarray(x).tobytes() for x in inputs)
        payload = self.request(protocol.CMD_INVOKE, bytes([model]) + raw)
        kind, count = struct.unpack_from("<BQ", payload, 0)
        outputs, offset = [], 9
        for o in desc["outputs"]:
            arr = np.frombuffer(payload, dtype=DTYPES[o["dtype"]], count=o["bytes"] // np.dtype(DTYPES[o["dtype"]]).itemsize, offset=offset)
            outputs.append(arr.reshape(o["shape"]).copy())
            offset += o["bytes"]
        return InvokeResult(outputs, count, protocol.COUNT_KINDS.get(kind, str(kind)))

    def profile(self) -> Profile:
        payload = self.request(protocol.CMD_PROFILE)
        used, size, kind, n = struct.unpack_from("<IIBH", payload, 0)
        stamps = struct.unpack_from(f"<{n}I", payload, 11)
        steps = [(b - a) & 0xFFFFFFFF for a, b in zip((0,) + stamps[:-1], stamps)]
        return Profile(used, size, protocol.COUNT_KINDS.get(kind, str(kind)), steps)

    # --- arena access: run a model step by step and read every intermediate tensor -------
    def _chunk(self) -> int:
        return int(self.info().get("buffer_bytes", 64)) - 8

    def write_arena(self, model: int, offset: int, data: bytes) -> None:
        for k in range(0, len(data), self._chunk()):
            part = data[k:k + self._chunk()]
            self.request(protocol.CMD_WRITE_ARENA, struct.pack("<BI", model, offset + k) + part)

    def read_arena(self, model: int, offset: int, length: int) -> bytes:
        out = bytearray()
        while len(out) < length:
            n = min(self._chunk(), length - len(out))
            out += self.request(protocol.CMD_READ_ARENA, struct.pack("<BIH", model, offset + len(out), n))
        return bytes(out)

    def run_steps(self, model: int, first: int, last: int) -> int:
        payload = self.request(protocol.CMD_RUN_STEPS, struct.pack("<BHH", model, first, last))
        return struct.unpack_from("<Q", payload, 1)[0]
