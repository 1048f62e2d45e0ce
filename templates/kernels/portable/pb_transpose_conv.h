/* TRANSPOSE_CONV: int8 (per-tensor or per-channel weights) and 16x8, NHWC, strided. */
#ifndef PB_TRANSPOSE_CONV_H
#define PB_TRANSPOSE_CONV_H

#include "pb_common.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left; /* leading padding of the transposed convolution (>= 0) */
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t mult;              /* per-tensor requantization ... */
    int32_t shift;
    const int32_t *mults;      /* ... or one per output channel (NULL when per-tensor) */
    const int32_t *shifts;
    const int8_t *filter;      /* [out_c][filter_h][filter_w][in_c] */
    const int32_t *bias;       /* int8: int32 bias, may be NULL */
    const int64_t *bias64;     /* 16x8: int64 bias, may be NULL */
} pb_transpose_conv_params_t;

void pb_transpose_conv_s8(const pb_transpose_conv_params_t *p, const int8_t *input, int8_t *output);
/* 16x8: 64-bit accumulator and requantization, no zero points. */
void pb_transpose_conv_s16(const pb_transpose_conv_params_t *p, const int16_t *input, int16_t *output);

#endif /* PB_TRANSPOSE_CONV_H */
