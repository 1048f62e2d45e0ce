"""The serial protocol, host side: framing, CRC, resynchronisation after garbage."""

import random

from protobrain.run import protocol


def test_round_trip_and_garbage_between_frames():
    frames = [protocol.encode(protocol.CMD_INVOKE, k, bytes(range(k % 256)) * 3) for k in range(20)]
    rng = random.Random(1)
    stream = b""
    for f in frames:
        stream += bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))) + f
    dec = protocol.Decoder()
    got = []
    for i in range(0, len(stream), 7):  # arbitrary chunking
        got += dec.feed(stream[i:i + 7])
    assert [(g.seq, g.payload) for g in got] == [(k, bytes(range(k % 256)) * 3) for k in range(20)]


def test_corrupted_frame_is_dropped():
    good = protocol.encode(protocol.CMD_PING, 7, b"abc")
    bad = bytearray(good)
    bad[8] ^= 0x40
    dec = protocol.Decoder()
    assert dec.feed(bytes(bad)) == []
    assert [f.payload for f in dec.feed(good)] == [b"abc"]


def test_crc_matches_zlib_layout():
    f = protocol.encode(0x02, 1)
    assert f[:2] == b"\xa5\x5a" and len(f) == 10
