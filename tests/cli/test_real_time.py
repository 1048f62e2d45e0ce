"""Real-time factors say which way they go: "12.0x slower than real time", never a bare
"12.02x real time" that reads like a speed-up."""

import re

from protobrain.cli.bundle import _rate


def test_slower_than_real_time_says_slower():
    # 8 kHz at 25 MHz allows 3,125 instructions per sample; 37,563 is 12.02 times that
    text = _rate(37_563, "instructions", 25_000_000, 8000)
    assert "12.0x slower than real time" in text
    assert "renders to a buffer, then plays" in text
    assert not re.search(r"\dx real time", text)


def test_faster_than_real_time_says_faster():
    text = _rate(1_488, "instructions", 25_000_000, 8000)  # 3,125 / 1,488 = 2.1
    assert "2.1x faster than real time" in text
    assert "renders to a buffer" not in text and not re.search(r"\dx real time", text)
