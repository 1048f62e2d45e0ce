/* float32 one-input operators: the reference's expressions in single precision, in its
 * order of operations (C99, so no multiply-add is fused). FLOOR, CEIL, ROUND, SQRT, RSQRT,
 * ABS, NEG, SQUARE, the clamps and the casts are exact on every IEEE target; the rest are
 * as exact as the C math library (expf, logf, sinf, ...): bit for bit where it is the one
 * TFLite Micro was built with. int16 SQRT, which only LiteRT runs, is its float32
 * expression too (sqrtf and a division: exact on every IEEE target). */
#include <math.h>

#include "pb_unary_f32.h"

#define PB_MAP_F32(name, expr)                                                  \
    void name(const pb_unary_f32_params_t *p, const float *input, float *output) \
    {                                                                           \
        int32_t i;                                                              \
        for (i = 0; i < p->size; ++i) {                                         \
            const float x = input[i];                                           \
            output[i] = (expr);                                                 \
        }                                                                       \
    }

/* Halves to even, through floorf, as the reference rounds (tf.round). */
static float pb_round_half_even(float x)
{
    const float lower = floorf(x);
    const float diff = x - lower;
    if (diff < 0.5f || (diff == 0.5f && (int32_t)lower % 2 == 0)) {
        return lower;
    }
    return lower + 1.0f;
}

/* HARD_SWISH: x * min(6, max(0, x + 3)) / 6, the comparisons ordered as std::min/max. */
static float pb_hard_swish(float x)
{
    const float shifted = x + 3.0f;
    const float low = 0.0f < shifted ? shifted : 0.0f;
    return x * (low < 6.0f ? low : 6.0f) / 6.0f;
}

/* LOGISTIC: 1 beyond the upper cut-off, exp(x) below the lower one, else 1 / (1 + exp(-x)). */
static float pb_logistic(float x)
{
    if (x > 16.619047164916992188f) {
        return 1.0f;
    }
    if (x < -9.0f) {
        return expf(x);
    }
    return 1.0f / (1.0f + expf(-x));
}

PB_MAP_F32(pb_abs_f32, fabsf(x))
PB_MAP_F32(pb_neg_f32, -x)
PB_MAP_F32(pb_square_f32, x * x)
PB_MAP_F32(pb_sqrt_f32, sqrtf(x))
PB_MAP_F32(pb_rsqrt_f32, 1.0f / sqrtf(x))
PB_MAP_F32(pb_exp_f32, expf(x))
PB_MAP_F32(pb_log_f32, logf(x))
PB_MAP_F32(pb_floor_f32, floorf(x))
PB_MAP_F32(pb_ceil_f32, ceilf(x))
PB_MAP_F32(pb_round_f32, pb_round_half_even(x))
PB_MAP_F32(pb_cos_f32, cosf(x))
PB_MAP_F32(pb_sin_f32, sinf(x))
PB_MAP_F32(pb_elu_f32, x < 0.0f ? expm1f(x) : x)
PB_MAP_F32(pb_hard_swish_f32, pb_hard_swish(x))
PB_MAP_F32(pb_relu_f32, x < 0.0f ? 0.0f : x)
PB_MAP_F32(pb_relu6_f32, x > 6.0f ? 6.0f : (x < 0.0f ? 0.0f : x))
PB_MAP_F32(pb_logistic_f32, pb_logistic(x))
PB_MAP_F32(pb_tanh_f32, tanhf(x))

void pb_sqrt_s16(const pb_sqrt_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const float y = sqrtf(p->input_scale * (float)(input[i] > 0 ? input[i] : 0)) / p->output_scale;
        /* Beyond the int32 range: INT32_MIN, as LiteRT's (x86) conversion gives it. */
        const int32_t v = (y >= -2147483648.0f && y < 2147483648.0f) ? (int32_t)y : INT32_MIN;
        output[i] = (int16_t)PB_CLAMP(v, -32768, 32767);
    }
}

void pb_leaky_relu_f32(const pb_leaky_relu_f32_params_t *p, const float *input, float *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const float x = input[i];
        output[i] = x > 0.0f ? x : x * p->alpha;
    }
}

void pb_log_softmax_f32(const pb_rows_f32_params_t *p, const float *input, float *output)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const float *in = input + i * p->depth;
        float *out = output + i * p->depth;
        float max = -3.40282347e+38f, sum = 0.0f, log_sum;
        for (c = 0; c < p->depth; ++c) {
            max = max < in[c] ? in[c] : max;
        }
        for (c = 0; c < p->depth; ++c) {
            sum += expf(in[c] - max);
        }
        log_sum = logf(sum);
        for (c = 0; c < p->depth; ++c) {
            out[c] = in[c] - max - log_sum;
        }
    }
}

void pb_l2norm_f32(const pb_rows_f32_params_t *p, const float *input, float *output)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const float *in = input + i * p->depth;
        float *out = output + i * p->depth;
        float sum = 0.0f, norm;
        for (c = 0; c < p->depth; ++c) {
            sum += in[c] * in[c];
        }
        norm = sqrtf(sum);
        norm = norm < 1e-6f ? 1e-6f : norm;
        for (c = 0; c < p->depth; ++c) {
            out[c] = in[c] / norm;
        }
    }
}

/* float32 to an integer: NaN gives 0, values below the type's range its minimum, values
 * from its maximum + 1 up its maximum, the rest truncate toward zero. */
#define PB_CAST_FROM_F32(out_name, out_t, lowest, highest, lowest_f, above_f)                   \
    void pb_cast_f32_##out_name(const pb_unary_f32_params_t *p, const float *input, out_t *output) \
    {                                                                                           \
        int32_t i;                                                                              \
        for (i = 0; i < p->size; ++i) {                                                         \
            const float x = input[i];                                                           \
            output[i] = x != x ? (out_t)0                                                       \
                      : x < (lowest_f) ? (out_t)(lowest)                                        \
                      : x >= (above_f) ? (out_t)(highest)                                       \
                      : (out_t)x;                                                               \
        }                                                                                       \
    }
PB_CAST_FROM_F32(s8, int8_t, -128, 127, -128.0f, 128.0f)
PB_CAST_FROM_F32(s16, int16_t, -32768, 32767, -32768.0f, 32768.0f)
PB_CAST_FROM_F32(s32, int32_t, INT32_MIN, INT32_MAX, -2147483648.0f, 2147483648.0f)
PB_CAST_FROM_F32(u32, uint32_t, 0u, UINT32_MAX, 0.0f, 4294967296.0f)

#define PB_CAST_TO_F32(in_name, in_t)                                                          \
    void pb_cast_##in_name##_f32(const pb_unary_f32_params_t *p, const in_t *input, float *output) \
    {                                                                                          \
        int32_t i;                                                                             \
        for (i = 0; i < p->size; ++i) {                                                        \
            output[i] = (float)input[i];                                                       \
        }                                                                                      \
    }
PB_CAST_TO_F32(s8, int8_t)
PB_CAST_TO_F32(s16, int16_t)
PB_CAST_TO_F32(s32, int32_t)
PB_CAST_TO_F32(u32, uint32_t)
PB_CAST_TO_F32(b, uint8_t)

void pb_cast_f32_b(const pb_unary_f32_params_t *p, const float *input, uint8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (uint8_t)(input[i] != 0.0f);
    }
}

void pb_cast_f32_f32(const pb_unary_f32_params_t *p, const float *input, float *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = input[i];
    }
}
