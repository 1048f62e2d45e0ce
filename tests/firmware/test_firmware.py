"""Firmware on simulated boards: bit-exact over serial, robust to malformed frames."""

import random

import pytest
from conftest import SHARED_MODEL_NAMES, shared_model
from conftest import needs_simulator as needs
from devices import pack, verify_on_device

from protobrain.boards import board_names, load_board
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model
from protobrain.run import protocol

SIMULATED = [b for b in board_names() if load_board(b).simulated]


@pytest.fixture(scope="module")
def an386_all_models(tmp_path_factory):
    """One firmware with every shared model that exists, running in QEMU."""
    from protobrain.firmware.build import build
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard

    board = needs("qemu-mps2-an386")
    paths = [shared_model(n) for n in SHARED_MODEL_NAMES]
    progs = [build_program(read_model(p)) for p in paths]
    image = build(board, progs, [p.read_bytes() for p in paths], tmp_path_factory.mktemp("fw") / "an386")
    with QemuBoard(board, image.elf) as q, Device(q.port) as dev:
        yield dev, paths, progs, image


def _verify_on(dev, path, prog, n_random, seed=0):
    from protobrain.verify.reference import Reference

    return verify_on_device(dev, Reference(path), prog, n_random, seed)


def test_every_shared_model_bit_exact_on_an386(an386_all_models):
    dev, paths, progs, image = an386_all_models
    info = dev.info()
    assert [m["name"] for m in info["models"]] == [p.graph.name for p in progs]
    for path, prog in zip(paths, progs):
        result = _verify_on(dev, path, prog, n_random=4 if prog.graph.name == "vww_96_int8" else 10)
        assert result.ok, f"{prog.graph.name}: first mismatch {result.mismatches[0]}"
        assert result.cases >= 7


def test_malformed_frames_never_break_the_device(an386_all_models):
    """1,000 malformed frames (random bytes, bad CRCs, wrong lengths, unknown commands and
    models), then a valid INVOKE still answers bit-exact."""
    dev, paths, progs, _ = an386_all_models
    rng = random.Random(42)
    port = dev.port
    hello = next(i for i, p in enumerate(progs) if p.graph.name == "hello_world_int8")
    for k in range(1000):
        kind = k % 5
        if kind == 0:  # random garbage
            blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        elif kind == 1:  # bad CRC
            blob = bytearray(protocol.encode(protocol.CMD_PING, k, b"x" * rng.randrange(0, 20)))
            blob[-1] ^= 0xFF
        elif kind == 2:  # length beyond the device buffer
            blob = protocol.encode(protocol.CMD_INVOKE, k, b"")[:4] + b"\xff\xff"
        elif kind == 3:  # unknown command
            blob = protocol.encode(0x55, k, b"??")
        else:  # unknown model, and wrong input size
            blob = protocol.encode(protocol.CMD_INVOKE, k, bytes([200 if k % 2 else hello]) + b"\x01\x02\x03")
        port.write(bytes(blob))
    port.flush()
    dev._resync(70000)  # complete any frame left open, drop the error replies
    assert dev.ping(b"alive") == b"alive"
    hello_path = paths[hello]
    result = _verify_on(dev, hello_path, progs[hello], n_random=20, seed=5)
    assert result.ok


def test_device_errors_are_reported(an386_all_models):
    from protobrain.run.device import DeviceError

    dev, *_ = an386_all_models
    with pytest.raises(DeviceError, match="unknown model"):
        dev.request(protocol.CMD_INVOKE, bytes([250]))
    with pytest.raises(DeviceError, match="wrong input size"):
        dev.request(protocol.CMD_INVOKE, bytes([0]) + b"\x00" * 3)
    with pytest.raises(DeviceError, match="unknown command"):
        dev.request(0x42)


@pytest.mark.parametrize("board_name", [b for b in SIMULATED if b != "qemu-mps2-an386"])
def test_models_that_fit_are_bit_exact_on_every_simulated_board(board_name, tmp_path):
    from protobrain.firmware.build import build
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard

    board = needs(board_name)
    paths = {n: p for n in SHARED_MODEL_NAMES if (p := SHARED_MODELS_PATH(n))}
    progs = [build_program(read_model(p)) for p in paths.values()]
    groups = pack(board, progs)
    verified = set()
    for k, group in enumerate(groups):
        blobs = [paths[[n for n in paths if n.lower() == p.graph.name][0]].read_bytes() for p in group]
        image = build(board, group, blobs, tmp_path / f"fw{k}")
        with QemuBoard(board, image.elf) as q, Device(q.port) as dev:
            for prog in group:
                path = paths[[n for n in paths if n.lower() == prog.graph.name][0]]
                result = _verify_on(dev, path, prog, n_random=2)
                assert result.ok, f"{board_name}/{prog.graph.name}: {result.mismatches[0]}"
                verified.add(prog.graph.name)
    if board_name == "qemu-microbit":
        assert verified >= {"hello_world_int8", "micro_speech_quantized"}
    else:
        assert len(verified) >= 4, verified


def SHARED_MODELS_PATH(name):
    try:
        return shared_model(name)
    except pytest.skip.Exception:
        return None


def test_too_big_model_fails_before_flashing_with_numbers(tmp_path):
    from protobrain.firmware.build import DoesNotFit, build

    board = needs("qemu-microbit")
    path = shared_model("vww_96_int8")
    with pytest.raises(DoesNotFit) as e:
        build(board, [build_program(read_model(path))], [path.read_bytes()], tmp_path / "fw")
    msg = str(e.value)
    assert "vww_96_int8" in msg and "16,384" in msg and "55,296" in msg
    assert not (tmp_path / "fw" / "firmware.elf").exists()


def test_pty_serial_path_is_the_same_code_path(tmp_path):
    """A real board is a serial device: the same verify code over QEMU's pty."""
    from protobrain.firmware.build import build
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard

    board = needs("qemu-mps2-an386")
    path = shared_model("micro_speech_quantized")
    prog = build_program(read_model(path))
    image = build(board, [prog], [path.read_bytes()], tmp_path / "fw")
    with QemuBoard(board, image.elf, serial="pty") as q:
        assert q.port.startswith("/dev/pts/")
        with Device(q.port) as dev:
            assert _verify_on(dev, path, prog, n_random=5).ok


def test_dead_link_is_reported_clearly(tmp_path):
    import socket

    from protobrain.run.device import Device, LinkError

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    with Device(f"socket://127.0.0.1:{port}", timeout=0.3, retries=2) as dev:
        with pytest.raises(LinkError, match="no reply from the device .* after 2 tries"):
            dev.ping()
    srv.close()
