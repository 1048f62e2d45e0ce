"""UF2: the drag-and-drop flashing format of the RP2040 boot ROM (and many other boards).

A file of 512-byte blocks, each carrying 256 bytes of the image, its flash address and
the chip family; the boot ROM's USB drive writes them to flash and restarts the chip."""

from __future__ import annotations

import struct

MAGIC_START0, MAGIC_START1, MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
FLAG_FAMILY_ID = 0x00002000
PAYLOAD = 256


def encode(image: bytes, base_address: int, family_id: int) -> bytes:
    """The UF2 blocks of a flat binary image that starts at base_address."""
    chunks = [image[k:k + PAYLOAD] for k in range(0, len(image), PAYLOAD)]
    blocks = []
    for n, chunk in enumerate(chunks):
        data = chunk + b"\x00" * (476 - len(chunk))
        blocks.append(struct.pack("<8I", MAGIC_START0, MAGIC_START1, FLAG_FAMILY_ID, base_address + n * PAYLOAD,
                                  PAYLOAD, n, len(chunks), family_id) + data + struct.pack("<I", MAGIC_END))
    return b"".join(blocks)


def decode(blob: bytes) -> tuple[int, bytes, int]:
    """(base address, image, family id) of a UF2 file that encode() wrote; checks every block."""
    if len(blob) % 512 or not blob:
        raise ValueError("a UF2 file is a whole number of 512-byte blocks")
    count = len(blob) // 512
    image, base, family = bytearray(), None, None
    for n in range(count):
        block = blob[512 * n:512 * (n + 1)]
        m0, m1, flags, addr, size, index, total, fam = struct.unpack_from("<8I", block)
        (end,) = struct.unpack_from("<I", block, 508)
        if (m0, m1, end) != (MAGIC_START0, MAGIC_START1, MAGIC_END) or index != n or total != count:
            raise ValueError(f"UF2 block {n} is malformed")
        base = addr if base is None else base
        if addr != base + n * PAYLOAD or not flags & FLAG_FAMILY_ID or size != PAYLOAD:
            raise ValueError(f"UF2 block {n} has address {addr:#x}, size {size} or flags {flags:#x} out of order")
        family = fam if family is None else family
        image += block[32:32 + size]
    return base, bytes(image), family
