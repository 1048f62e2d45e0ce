"""State kept between invocations: variable tensors live in a static state area outside
the arena, set at start-up and by pb_<name>_reset() as TFLite Micro resets them."""

import numpy as np

from conftest import assert_bit_exact
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.codegen.render import render
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference


def _add_variable(zp: int) -> bytes:
    """y = x + v, where v is an int8 variable tensor nothing writes: it holds what reset put there."""
    tensors = [
        {"shape": [1, 6], "type": "int8", "scale": 0.05, "zp": -3},
        {"shape": [1, 6], "type": "int8", "scale": 0.1, "zp": zp, "variable": True, "name": "v"},
        {"shape": [1, 6], "type": "int8", "scale": 0.2, "zp": 1},
    ]
    return write_model(tensors, [("ADD", [0, 1], [2], "AddOptions", {})], [0], [2])


def test_variable_tensors_live_in_the_state_area():
    program = build_program(read_model_bytes(_add_variable(7), "var"))
    assert [s.tensor for s in program.state] == [1]
    assert program.state_size == 6 and program.state[0].fill == 7
    assert all(1 not in b.tensors for b in program.plan.buffers), "a variable must not share the arena"
    files = render(program)
    assert "#define PB_VAR_STATE_SIZE 6u" in files["var.h"]
    assert "memset((void *)S(0), 7, 6u);" in files["var.c"]
    assert "void pb_var_reset(void);" in files["var.h"]


def test_int8_variables_reset_to_their_zero_point_like_tflite_micro():
    for zp in (-128, -5, 0, 9, 127):
        data = _add_variable(zp)
        compiled = compile_bytes(data, f"var{zp + 128}")
        assert_bit_exact(compiled, Reference(data), n_random=4)


def test_stateless_models_keep_no_state():
    tensors = [{"shape": [1, 4], "type": "int8", "scale": 0.05, "zp": 0},
               {"shape": [1, 4], "type": "int8", "scale": 0.05, "zp": 0}]
    program = build_program(read_model_bytes(write_model(tensors, [("RELU", [0], [1], None, {})], [0], [1]), "plain"))
    assert program.state == [] and program.state_size == 0
    c = render(program)["plain.c"]
    assert "static uint64_t state" not in c and "void pb_plain_reset(void)" in c
    compiled = compile_bytes(write_model(tensors, [("RELU", [0], [1], None, {})], [0], [1]), "plain")
    compiled.reset()  # callable on every model
    x = np.arange(-2, 2, dtype=np.int8).reshape(1, 4)
    assert np.array_equal(compiled.run(x), np.maximum(x, 0))
