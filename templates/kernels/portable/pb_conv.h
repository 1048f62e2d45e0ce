/* CONV_2D: int8 (per-tensor or per-channel weights) and 16x8, NHWC, grouped, dilated. */
#ifndef PB_CONV_H
#define PB_CONV_H

#include "pb_common.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t filter_h, filter_w;
    int32_t filter_c;          /* input channels seen by one filter (in_c / groups) */
    int32_t group_out_c;       /* output channels per group (out_c / groups) */
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left; /* leading padding; negative crops the input */
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t mult;              /* per-tensor requantization ... */
    int32_t shift;
    const int32_t *mults;      /* ... or one per output channel (NULL when per-tensor) */
    const int32_t *shifts;
    const int8_t *filter;      /* [out_c][filter_h][filter_w][filter_c] */
    const int32_t *bias;       /* int32 bias, may be NULL */
    const int64_t *bias64;     /* int64 bias (16x8 only), may be NULL */
} pb_conv_params_t;

void pb_conv_s8(const pb_conv_params_t *p, const int8_t *input, int8_t *output);
/* 16x8 with int64 bias (or none): 64-bit accumulator and requantization. */
void pb_conv_s16(const pb_conv_params_t *p, const int16_t *input, int16_t *output);
/* 16x8 with int32 bias: 32-bit (wrapping) accumulator and requantization. */
void pb_conv_s16_b32(const pb_conv_params_t *p, const int16_t *input, int16_t *output);

#endif /* PB_CONV_H */
