"""How to add an operator: the three places it touches. Copy the parts of this file into
place; it is documentation, not a module protobrain imports.

The example is a made-up elementwise operator (an int8 negation): the shape of the code
is what matters, not the operator. An operator touches exactly three places:

1. The lowering: protobrain/compiler/ops/<family>.py (a new file, or the module of its
   family). It checks the operator's types and options, computes every parameter at
   generation time as TFLite Micro's Prepare does, and returns one KernelCall. Modules in
   that folder register themselves on import (compiler/ops/__init__.py imports them all),
   so a new file needs no other edit. A case it does not support calls `require(False, ...)`
   and the user gets one line naming the operator and the reason.

2. The kernel: templates/kernels/portable/pb_<family>.c and .h, plain C99 that compiles
   warning-free with -Wall -Wextra -Werror on every target. The generator copies the files
   a program uses into its output. A faster form for a tier goes beside it under
   templates/kernels/dsp/ or mve/ with the same file name, and its lowering rewrite lives in
   protobrain/compiler/ops/tiers/ (select.py decides which calls a tier takes).

3. The test: tests/compiler/test_op_<family>.py builds small models with TensorFlow's
   converter (tests/helpers/builders.py: `convert`, cached on disk) and checks them with
   conftest's `check_model_bytes`, which compiles the generated C for this host with the
   portable kernels and the DSP tier's C form and compares every output byte with TFLite
   Micro on random and edge inputs. The model fuzzer (protobrain/verify/fuzz/) mutates the
   new operator's options without further work.
"""

# ---- 1. protobrain/compiler/ops/negate.py ------------------------------------------------

from protobrain.compiler.ops.base import KernelCall, register, require, tensors


@register("NEG", inputs=(1, 1), types=("int8",))  # (fewest, most) inputs; activation types
def lower(op, g):
    (inp,), (out,) = tensors(op, g)
    require(inp.dtype == "int8" and out.dtype == "int8", f"type {inp.dtype}")
    require(inp.quant is not None and out.quant is not None, "missing quantization")
    return KernelCall(
        kernel="pb_negate",  # templates/kernels/portable/pb_negate.c and .h
        function="pb_negate_s8",
        struct="pb_negate_params_t",
        fields={"size": inp.size, "input_zp": inp.quant.zp, "output_zp": out.quant.zp},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=0,
    )


# ---- 2. templates/kernels/portable/pb_negate.h and .c ------------------------------------

KERNEL_H = """
#ifndef PB_NEGATE_H_
#define PB_NEGATE_H_
#include "pb_common.h"

typedef struct {
    int32_t size, input_zp, output_zp;
} pb_negate_params_t;

void pb_negate_s8(const pb_negate_params_t *p, const int8_t *input, int8_t *output);
#endif
"""

KERNEL_C = """
#include "pb_negate.h"

void pb_negate_s8(const pb_negate_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        int32_t v = -(input[i] - p->input_zp) + p->output_zp;
        output[i] = (int8_t)PB_MIN(PB_MAX(v, -128), 127);
    }
}
"""


# ---- 3. tests/compiler/test_op_negate.py ------------------------------------------------

def test_negate_is_bit_exact():
    """(in the test file: `from builders import convert`, `from conftest import check_model_bytes`)"""
    from builders import convert
    from conftest import check_model_bytes

    def make():
        import tensorflow as tf

        x = tf.keras.Input((16,), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: -t)(x))

    check_model_bytes(convert(make, [(16,)], key="negate"), "negate")
