/* Fast int8 kernels, ARMv6-M tier (Cortex-M0/M0+; plain C elsewhere): CONV_2D and
 * FULLY_CONNECTED as one matrix multiply over im2col rows, two rows by two output channels
 * at a time. DEPTHWISE_CONV_2D is pb_depthwise_conv.h.
 *
 * The generator (protobrain/compiler/ops/tiers/armv6m.py) stores the weights as unsigned
 * bytes v = w + 128 and folds every constant it can into bias''; the kernel copies the
 * input as unsigned bytes u = x + 128 and subtracts 128 * sum(u) per row. Results are
 * bit-exact with TensorFlow Lite Micro's reference kernels. */
#ifndef PB_V6M_CONV_H
#define PB_V6M_CONV_H

#include "pb_v6m.h"

typedef struct {
    int32_t rows;               /* output pixels (batches * out_h * out_w), or FC batches */
    int32_t in_h, in_w, in_c;   /* input of one batch */
    int32_t out_h, out_w;
    int32_t out_c;              /* output channels computed (all but those with all-zero weights) */
    int32_t out_stride;         /* the layer's output channels: one output row's length */
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t depth;              /* taps per output: filter_h * filter_w * in_c */
    int32_t depth_pad;          /* depth rounded up to 8 (zero weights beyond) */
    int32_t pad_u;              /* the input zero point + 128: what padding taps read */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t requant;            /* PB_V6M_REQUANT_FAST or PB_V6M_REQUANT_EXACT */
    const int32_t *weights;     /* per channel pair, depth_pad taps of (v0, v1) bytes */
    const int32_t *quant;       /* PB_V6M_QUANT_WORDS per output channel, out_c rounded up to even */
    /* NULL when every channel is computed; else the output channel of each computed one,
     * and the row (out_stride bytes) every output row starts from: the skipped channels'
     * constants */
    const int32_t *out_index;
    const int32_t *const_row;
} pb_v6m_mm_params_t;

/* scratch: 2 * depth_pad bytes (one row: depth_pad), word-aligned, planned in the arena by the generator
 * (pb_v6m_mm_s8_scratch_bytes() in compiler/ops/tiers/armv6m.py). */
void pb_v6m_mm_s8(const pb_v6m_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_V6M_CONV_H */
