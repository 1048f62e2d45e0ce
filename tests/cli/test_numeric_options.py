"""Numeric options are checked the same way on every command (one range type from
cli/options.py: a one-line error naming the option, the value and what it takes), and
`flash` on a simulated board refuses the options only a real board uses."""

import click
import pytest
from conftest import shared_model
from test_errors import assert_one_line_error, run_cli

from protobrain.cli.main import main
from protobrain.cli.options import Checked


def _params(cmd, path=()):
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _params(sub, (*path, name))
    else:
        for p in cmd.params:
            yield " ".join(path), p


def test_every_numeric_option_has_a_checked_range():
    numeric = [(c, p) for c, p in _params(main)
               if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType))]
    assert len(numeric) > 20, "the walk found the commands' numeric options"
    unchecked = [f"{c} {p.opts[0]}" for c, p in numeric if not isinstance(p.type, Checked)]
    assert unchecked == []
    # and every default is inside its own range
    for c, p in numeric:
        if p.default is not None:
            assert p.type.convert(p.default, p, None) == p.default, (c, p.opts)


@pytest.mark.parametrize("args, words", [
    (["verify", "{model}", "-n", "-5"], ["-n -5", "whole number from 0"]),
    (["bench", "{model}", "-b", "qemu-mps2-an386", "-n", "-5"], ["-n -5", "whole number from 1"]),
    (["verify", "{model}", "--seed", "-1"], ["--seed -1", "whole number from 0"]),
    (["verify", "{model}", "-n", "many"], ["-n many", "whole number"]),
    (["train", "vision", "--width", "nan"], ["--width nan", "number from 0.25 to 2"]),
    (["data", "audit", "--flip", "0.9"], ["--flip 0.9", "number from 0 to 0.5"]),
    (["demo", "speak", "yes", "-o", "{tmp}/x.wav", "--seed", "-3"], ["--seed -3"]),
])
def test_bad_numbers_are_one_line_errors(args, words, tmp_path):
    args = [a.format(model=shared_model("hello_world_int8"), tmp=tmp_path) for a in args]
    assert_one_line_error(run_cli(*args), *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra, option", [(["--port", "/dev/ttyACM0"], "--port"), (["-n", "5"], "-n"),
                                           (["--tool", "pyocd"], "--tool")])
def test_flash_on_a_simulated_board_refuses_real_board_options(extra, option, tmp_path):
    proc = run_cli("flash", "--board", "qemu-mps2-an386", "--firmware", tmp_path, *extra)
    assert_one_line_error(proc, option, "qemu-mps2-an386 is simulated")
