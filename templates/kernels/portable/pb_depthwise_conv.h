/* DEPTHWISE_CONV_2D: int8 (per-tensor or per-channel weights) and 16x8, NHWC, dilated. */
#ifndef PB_DEPTHWISE_CONV_H
#define PB_DEPTHWISE_CONV_H

#include "pb_common.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w;
    int32_t depth_multiplier;  /* output channels = in_c * depth_multiplier */
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left; /* leading padding; negative crops the input */
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t mult;              /* per-tensor requantization ... */
    int32_t shift;
    const int32_t *mults;      /* ... or one per output channel (NULL when per-tensor) */
    const int32_t *shifts;
    const int8_t *filter;      /* [filter_h][filter_w][in_c * depth_multiplier] */
    const int32_t *bias;       /* int8 activations; may be NULL */
    const int64_t *bias64;     /* int16 activations; may be NULL */
} pb_depthwise_conv_params_t;

void pb_depthwise_conv_s8(const pb_depthwise_conv_params_t *p, const int8_t *input, int8_t *output);
void pb_depthwise_conv_s16(const pb_depthwise_conv_params_t *p, const int16_t *input, int16_t *output);

#endif /* PB_DEPTHWISE_CONV_H */
