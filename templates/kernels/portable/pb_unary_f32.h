#ifndef PB_UNARY_F32_H
#define PB_UNARY_F32_H

#include "pb_common.h"

/* float32 one-input operators, each the reference's single-precision expression (C math
 * library: expf, logf, sqrtf, sinf, cosf, tanhf, expm1f, floorf, ceilf), and CASTs from
 * and to float32; int16 SQRT in float32 as LiteRT computes it. */

typedef struct {
    int32_t size;
} pb_unary_f32_params_t;

typedef struct {
    int32_t size;
    float alpha;
} pb_leaky_relu_f32_params_t;

/* int16 SQRT (zero points 0) as LiteRT computes it: sqrtf(input_scale * x) / output_scale
 * in float32, truncated toward zero (INT32_MIN beyond the int32 range), clamped; x < 0
 * gives 0. */
typedef struct {
    int32_t size;
    float input_scale, output_scale;
} pb_sqrt_s16_params_t;

/* LOG_SOFTMAX and L2_NORMALIZATION over rows of `depth` values. */
typedef struct {
    int32_t outer, depth;
} pb_rows_f32_params_t;

#define PB_UNARY_F32_DECL(name) void name(const pb_unary_f32_params_t *p, const float *input, float *output);
PB_UNARY_F32_DECL(pb_abs_f32)
PB_UNARY_F32_DECL(pb_neg_f32)
PB_UNARY_F32_DECL(pb_square_f32)
PB_UNARY_F32_DECL(pb_sqrt_f32)
PB_UNARY_F32_DECL(pb_rsqrt_f32)
PB_UNARY_F32_DECL(pb_exp_f32)
PB_UNARY_F32_DECL(pb_log_f32)
PB_UNARY_F32_DECL(pb_floor_f32)
PB_UNARY_F32_DECL(pb_ceil_f32)
PB_UNARY_F32_DECL(pb_round_f32)
PB_UNARY_F32_DECL(pb_cos_f32)
PB_UNARY_F32_DECL(pb_sin_f32)
PB_UNARY_F32_DECL(pb_elu_f32)
PB_UNARY_F32_DECL(pb_hard_swish_f32)
PB_UNARY_F32_DECL(pb_relu_f32)
PB_UNARY_F32_DECL(pb_relu6_f32)
PB_UNARY_F32_DECL(pb_logistic_f32)
PB_UNARY_F32_DECL(pb_tanh_f32)
#undef PB_UNARY_F32_DECL

void pb_sqrt_s16(const pb_sqrt_s16_params_t *p, const int16_t *input, int16_t *output);
void pb_leaky_relu_f32(const pb_leaky_relu_f32_params_t *p, const float *input, float *output);
void pb_log_softmax_f32(const pb_rows_f32_params_t *p, const float *input, float *output);
void pb_l2norm_f32(const pb_rows_f32_params_t *p, const float *input, float *output);

/* CAST to and from float32: pb_cast_<in>_<out>; bool is one byte, 0 or 1. */
#define PB_CAST_F32_DECL(in_name, in_t, out_name, out_t) \
    void pb_cast_##in_name##_##out_name(const pb_unary_f32_params_t *p, const in_t *input, out_t *output);
PB_CAST_F32_DECL(f32, float, s8, int8_t)
PB_CAST_F32_DECL(f32, float, s16, int16_t)
PB_CAST_F32_DECL(f32, float, s32, int32_t)
PB_CAST_F32_DECL(f32, float, u32, uint32_t)
PB_CAST_F32_DECL(f32, float, b, uint8_t)
PB_CAST_F32_DECL(f32, float, f32, float)
PB_CAST_F32_DECL(s8, int8_t, f32, float)
PB_CAST_F32_DECL(s16, int16_t, f32, float)
PB_CAST_F32_DECL(s32, int32_t, f32, float)
PB_CAST_F32_DECL(u32, uint32_t, f32, float)
PB_CAST_F32_DECL(b, uint8_t, f32, float)
#undef PB_CAST_F32_DECL

#endif
