/* Fast int8 DEPTHWISE_CONV_2D, Helium (MVE) tier for the Cortex-M55 (CONV_2D and
 * FULLY_CONNECTED are pb_conv.h). The parameters and layouts are this tier's own
 * (protobrain/compiler/ops/tiers/mve.py); pb_depthwise_conv.c describes them. */
#ifndef PB_MVE_DEPTHWISE_CONV_H
#define PB_MVE_DEPTHWISE_CONV_H

#include "pb_common.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels; /* input channels */
    int32_t multiplier;           /* depth multiplier: channels * multiplier outputs per pixel */
    int32_t out_h, out_w;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t requant;            /* PB_MVE_REQUANT_FAST or PB_MVE_REQUANT_GENERAL (pb_helium.h) */
    const int32_t *weights;     /* [multiplier][channels/8][taps][8] int16 */
    const int32_t *quant;       /* per 8 channels two groups: lanes c,c+2,c+4,c+6 then c+1,...,c+7 */
    const int32_t *pad;         /* channels bytes of the input zero point: padding taps read it */
} pb_fast_mve_dw_params_t;

/* scratch: 3x3 windows with FAST requantization, three window rows of
 * (out_w - 1) * stride_w + 2 * dilation_w + 1 pixels; otherwise one pointer per tap;
 * pb_fast_mve_dw_s8_scratch_bytes() in compiler/ops/tiers/mve.py. */
void pb_fast_mve_dw_s8(const pb_fast_mve_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_MVE_DEPTHWISE_CONV_H */
