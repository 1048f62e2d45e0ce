"""Renode scripts: generated for boards Renode models, refused clearly for others.
(Renode itself is not installable here, so the scripts are checked, not run.)"""

import pytest

from protobrain.boards import load_board
from protobrain.errors import ProtobrainError
from protobrain.run.renode import renode_boards, write_renode


def test_scripts_name_platform_uart_and_elf(tmp_path):
    assert set(renode_boards()) >= {"disco_f746ng", "nrf52840_dk"}
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    for name in renode_boards():
        board = load_board(name)
        resc, robot = write_renode(board, elf, tmp_path / name, ["kws_ref_model"])
        text = resc.read_text()
        assert f"LoadPlatformDescription @{board.renode['platform']}" in text
        assert f"connector Connect {board.renode['uart']} term" in text
        assert str(elf) in text
        rob = robot.read_text()
        assert "Wait For Line On Uart" in rob and f"ready on {name}" in rob and "${RENODEKEYWORDS}" in rob


def test_board_without_renode_platform_is_refused(tmp_path):
    with pytest.raises(ProtobrainError, match="Renode has no platform for qemu-mps2-an386"):
        write_renode(load_board("qemu-mps2-an386"), tmp_path / "x.elf", tmp_path, [])
