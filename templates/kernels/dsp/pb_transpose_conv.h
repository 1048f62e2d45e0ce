/* Fast int8 TRANSPOSE_CONV with a stride above 1, DSP tier (Cortex-M4/M7/M33; plain C
 * elsewhere). Stride 1 is a convolution and runs the matrix multiply of pb_conv.h.
 *
 * Output pixels fall in stride_h x stride_w phases; each phase is a stride-1 convolution of
 * the input with its own share of the filter, a window of taps_h x taps_w input pixels
 * (protobrain/compiler/ops/tiers/transpose_conv.py). Per phase (phase_h * stride_w +
 * phase_w): PB_TCONV_PHASE_WORDS words in `phases`, its weights in the matrix multiply's
 * int8 layout (output channels in pairs, depth in blocks of 4: two words per block, one
 * per channel) and PB_QUANT_WORDS per output channel (out_c rounded up to even), the input
 * offset folded into bias'. Bit-exact with TensorFlow Lite Micro's reference kernel. */
#ifndef PB_DSP_TRANSPOSE_CONV_H
#define PB_DSP_TRANSPOSE_CONV_H

#include "pb_requant.h"

/* taps_h, taps_w, depth_pad (taps_h * taps_w * in_c rounded up to 8, zero weights beyond),
 * the offset of the phase's weights in words */
#define PB_TCONV_PHASE_WORDS 4

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
    const int32_t *phases;      /* PB_TCONV_PHASE_WORDS per phase */
    int32_t requant;            /* PB_REQUANT_FAST or PB_REQUANT_EXACT */
    const int32_t *weights;
    const int32_t *quant;
} pb_fast_tconv_params_t;

/* scratch: pb_fast_tconv_s8_scratch_bytes() in compiler/ops/tiers/transpose_conv.py. */
void pb_fast_tconv_s8(const pb_fast_tconv_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_DSP_TRANSPOSE_CONV_H */
