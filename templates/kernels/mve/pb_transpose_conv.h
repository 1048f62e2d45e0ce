/* Fast int8 TRANSPOSE_CONV with a stride above 1, Helium (MVE) tier for the Cortex-M55.
 * Stride 1 is a convolution and runs the matrix multiply of pb_conv.h.
 *
 * Output pixels fall in stride_h x stride_w phases; each phase is a stride-1 convolution of
 * the input with its own share of the filter, a window of taps_h x taps_w input pixels
 * (protobrain/compiler/ops/tiers/transpose_conv.py). Per phase (phase_h * stride_w +
 * phase_w): PB_MVE_TCONV_PHASE_WORDS words in `phases`, and the matrix multiply's block
 * stream (mve/pb_conv.c): per
 * block of four output channels the weights [depth_pad/16][4][16] int8 and the quant
 * group's vectors (FAST: bias', multiplier, -right shift; GENERAL: all five), the input
 * offset folded into bias'. Bit-exact with TensorFlow Lite Micro's reference kernel. */
#ifndef PB_MVE_TRANSPOSE_CONV_H
#define PB_MVE_TRANSPOSE_CONV_H

#include "pb_common.h"

/* taps_h, taps_w, depth_pad (taps_h * taps_w * in_c rounded up to 16, zero weights
 * beyond), the offset of the phase's block stream in bytes */
#define PB_MVE_TCONV_PHASE_WORDS 4

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;  /* leading padding of the transposed convolution */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t depth_pad;          /* the deepest phase's */
    int32_t pad_value;          /* the input zero point: what taps outside the input read */
    const int32_t *phases;      /* PB_MVE_TCONV_PHASE_WORDS per phase */
    int32_t requant;            /* PB_MVE_REQUANT_FAST or PB_MVE_REQUANT_GENERAL (pb_helium.h) */
    const int32_t *blocks;      /* every phase's block stream */
} pb_fast_mve_tconv_params_t;

/* scratch: two im2col rows, pb_fast_mve_tconv_s8_scratch_bytes() in
 * compiler/ops/tiers/transpose_conv.py. */
void pb_fast_mve_tconv_s8(const pb_fast_mve_tconv_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_MVE_TRANSPOSE_CONV_H */
