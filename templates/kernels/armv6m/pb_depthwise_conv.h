/* Fast int8 DEPTHWISE_CONV_2D (depth multiplier 1), ARMv6-M tier (Cortex-M0/M0+; plain C
 * elsewhere): one channel at a time, its input plane copied with its padding as unsigned
 * bytes, its taps' weights widened once into words. The matrix multiply is pb_conv.h. */
#ifndef PB_V6M_DEPTHWISE_CONV_H
#define PB_V6M_DEPTHWISE_CONV_H

#include "pb_v6m.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;  /* leading padding (never negative on this tier) */
    int32_t plane_h, plane_w;   /* one channel's padded input plane */
    int32_t taps_pad;           /* filter_h * filter_w rounded up to 4 */
    int32_t pad_u;              /* the input zero point + 128: what padding reads */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t requant;            /* PB_V6M_REQUANT_FAST or PB_V6M_REQUANT_EXACT */
    const int32_t *weights;     /* per channel, taps_pad int8 weights (w, not biased) */
    const int32_t *quant;       /* PB_V6M_QUANT_WORDS per channel: bias'' = bias' - 128 * sum(w) */
} pb_v6m_dw_params_t;

/* Most taps (filter_h * filter_w) a window may have. */
#define PB_V6M_DW_MAX_TAPS 64

/* scratch: four channels' planes (one when the channels are not a multiple of 4), and 4
 * bytes more, planned in the arena by the generator (pb_v6m_dw_s8_scratch_bytes() in
 * compiler/ops/tiers/armv6m.py). */
void pb_v6m_dw_s8(const pb_v6m_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_V6M_DEPTHWISE_CONV_H */
