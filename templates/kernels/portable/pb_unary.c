/* One-input integer operators: int16 ABS and RSQRT, int8 LOG_SOFTMAX and L2_NORMALIZATION
 * (fixed-point 1/sqrt and log as TFLite Micro computes them), int16 table functions and
 * int16/int32/int64 NEG (as LiteRT computes them), integer CASTs, ZEROS_LIKE. */
#include "pb_unary.h"
#include "pb_common_fixedpoint.h"

/* ---- fixed-point helpers ------------------------------------------------------------------ */

static int32_t pb_srdhm(int32_t a, int32_t b)
{
    return pb_sat_rounding_doubling_high_mul(a, b);
}

/* x * 2^exponent for 0 <= exponent < 31, saturating. */
static int32_t pb_sat_shl(int32_t x, int exponent)
{
    return exponent == 0 ? x : pb_saturating_shl(x, exponent);
}

static int32_t pb_sat_add(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + b;
    return (int32_t)(s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : s));
}

static int32_t pb_sat_sub(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a - b;
    return (int32_t)(s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : s));
}

/* 1/sqrt(x) for x >= 0 as a Q0.31 multiplier and a left shift: x normalised to [2^27, 2^29)
 * by pairs of bits, five Newton-Raphson steps from 1 in Q3.28, times sqrt(2)/2. x <= 1
 * gives the largest multiplier. */
static void pb_inv_sqrt(int32_t x, int32_t *multiplier, int *shift)
{
    int s = 11, pairs, i;
    int32_t half_input, v = (int32_t)1 << 28;
    if (x <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    while (x >= ((int32_t)1 << 29)) {
        x /= 4;
        ++s;
    }
    pairs = (pb_clz32((uint32_t)x) - 1) / 2 - 1;
    s -= pairs;
    x = (int32_t)((uint32_t)x << (2 * pairs));
    half_input = pb_rounding_divide_by_pot(x >> 1, 1);
    for (i = 0; i < 5; ++i) {
        const int32_t v3 = pb_sat_shl(pb_srdhm(pb_srdhm(v, v), v), 6);
        v = pb_sat_shl(pb_wrap_sub(pb_srdhm((int32_t)3 << 27, v), pb_srdhm(half_input, v3)), 3);
    }
    v = pb_srdhm(v, 1518500250); /* sqrt(2)/2 in Q0.31 */
    if (s < 0) {
        v = (int32_t)((uint32_t)v << -s);
        s = 0;
    }
    *multiplier = v;
    *shift = -s;
}

/* log(x) for x >= 1: x in Q12.19, result in Q5.26. The exponent of x in quarter steps plus a
 * rational approximation of log on [sqrt(sqrt(1/2)), sqrt(sqrt(2))], in Q6.25 until the end. */
static int32_t pb_log_q12_to_q5(int32_t x)
{
    const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t quarter = 8388608; /* 1/4 in Q6.25 */
    const int a_headroom_plus_1 = pb_clz32((uint32_t)x);
    const int32_t r_a = pb_sat_shl(pb_srdhm(pb_sat_shl(x, a_headroom_plus_1 - 1), sqrt_half), 1);
    const int32_t pow2_a = pb_sat_add(pb_sat_shl(12 - a_headroom_plus_1, 25), quarter);
    const int b_headroom = pb_clz32((uint32_t)pb_srdhm(x, sqrt_half)) - 1;
    const int32_t r_b = pb_sat_shl(x, b_headroom);
    const int32_t pow2_b = pb_sat_sub(pb_sat_shl(12 - b_headroom, 25), quarter);
    const int32_t r = PB_MIN(r_a, r_b);
    const int32_t pow2 = PB_MAX(pow2_a, pow2_b);
    const int32_t half_sum = pb_rounding_half_sum(r, sqrt_sqrt_half);
    const int32_t q = pb_wrap_add(pb_wrap_sub(r, sqrt_sqrt_half), pb_wrap_sub(r, sqrt_sqrt_half));
    const int32_t q_sq = pb_srdhm(q, q);
    const int32_t num = pb_wrap_add(pb_srdhm(q, r), pb_srdhm(pb_srdhm(q, q_sq), alpha_n));
    const int32_t den = pb_wrap_add(pb_srdhm(half_sum, pb_wrap_add(pb_wrap_add(alpha_i, q), pb_srdhm(alpha_d, q_sq))),
                                    pb_srdhm(alpha_f, q));
    const int32_t recip = pb_one_over_one_plus_x(den);
    const int32_t num_q6 = pb_rounding_divide_by_pot(num, 6);
    return pb_sat_shl(pb_wrap_add(pb_srdhm(pow2, log_2), pb_srdhm(num_q6, recip)), 1);
}

/* ---- ABS, RSQRT ------------------------------------------------------------------------- */

void pb_abs_s16(const pb_abs_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        int32_t v = input[i] < 0 ? -(int32_t)input[i] : input[i];
        if (p->needs_rescale) {
            v = pb_mul_by_quantized_mult(v, p->multiplier, p->shift);
        }
        output[i] = (int16_t)PB_CLAMP(v, -32768, 32767);
    }
}

void pb_abs_s16_plain(const pb_unary_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = input[i] < 0 ? -(int32_t)input[i] : input[i];
        output[i] = (int16_t)(uint16_t)(uint32_t)v; /* |-32768| wraps to -32768 */
    }
}

void pb_rsqrt_s16(const pb_rsqrt_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t value = input[i] - p->input_offset;
        int32_t v = 32767;
        if (value != 0) {
            int32_t inv;
            int inv_shift;
            /* 1/sqrt(value) as an integer scaled by 2^20, then to the output scale. */
            pb_inv_sqrt(value, &inv, &inv_shift);
            v = pb_mul_by_quantized_mult(1, inv, inv_shift + 20);
            v = pb_mul_by_quantized_mult(v, p->multiplier, p->shift - 20) + p->output_offset;
        }
        output[i] = (int16_t)PB_CLAMP(v, -32768, 32767);
    }
}

/* ---- L2_NORMALIZATION, LOG_SOFTMAX -------------------------------------------------------- */

void pb_l2norm_s8(const pb_l2norm_s8_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *in = input + i * p->depth;
        int8_t *out = output + i * p->depth;
        int32_t sum = 0, multiplier;
        int shift;
        for (c = 0; c < p->depth; ++c) {
            const int32_t d = in[c] - p->input_offset;
            sum += d * d;
        }
        pb_inv_sqrt(sum, &multiplier, &shift);
        for (c = 0; c < p->depth; ++c) {
            const int32_t v = pb_mul_by_quantized_mult(in[c] - p->input_offset, multiplier, shift + 7);
            out[c] = (int8_t)PB_CLAMP(v, -128, 127);
        }
    }
}

void pb_log_softmax_s8(const pb_log_softmax_s8_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *in = input + i * p->depth;
        int8_t *out = output + i * p->depth;
        int32_t max = -128, sum = 0, log_sum, lowest;
        for (c = 0; c < p->depth; ++c) {
            max = PB_MAX(max, (int32_t)in[c]);
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max;
            sum = pb_wrap_add(sum, pb_select(diff >= p->diff_min, p->exp_q12[-diff], 0));
        }
        log_sum = pb_log_q12_to_q5(sum);
        /* Differences at or below this give the lowest output. */
        lowest = PB_MAX(p->diff_min - 1, pb_mul_by_quantized_mult(pb_wrap_add(log_sum, INT32_MIN),
                                                                  p->reverse_multiplier, p->reverse_shift));
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max;
            const int32_t v = pb_rounding_divide_by_pot(pb_wrap_sub(p->diff_q5[-diff], log_sum), 22) + 127;
            out[c] = (int8_t)pb_select(diff > lowest, PB_CLAMP(v, -128, 127), -128);
        }
    }
}

/* ---- int16 tables, NEG ------------------------------------------------------------------- */

/* An int wrapped to int16, as the reference's int16_t assignments do. */
static int16_t pb_wrap16(int32_t v)
{
    return (int16_t)(uint16_t)(uint32_t)v;
}

/* floor(v / 128): an arithmetic shift right by 7, without relying on how the compiler
 * shifts negative values. */
static int32_t pb_floor_div128(int32_t v)
{
    return (v < 0 ? v - 127 : v) / 128;
}

void pb_lut_s16(const pb_lut_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t x = input[i];
        const int32_t node = (x + 32768) / 128; /* 256 + (x >> 7) */
        const int32_t base = p->table[node];
        const int32_t slope = pb_wrap16(p->table[node + 1] - base);
        output[i] = pb_wrap16(base + pb_floor_div128(slope * (x & 0x7f) + 64));
    }
}

void pb_neg_s16(const pb_unary_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = pb_wrap16(-(int32_t)input[i]);
    }
}

void pb_neg_s32(const pb_unary_params_t *p, const int32_t *input, int32_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int32_t)(0u - (uint32_t)input[i]);
    }
}

void pb_neg_s64(const pb_unary_params_t *p, const int64_t *input, int64_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int64_t)((uint64_t)0 - (uint64_t)input[i]);
    }
}

/* ---- ZEROS_LIKE, CAST ------------------------------------------------------------------- */

void pb_zeros(const pb_zeros_params_t *p, void *output)
{
    uint8_t *out = (uint8_t *)output;
    int32_t i;
    for (i = 0; i < p->nbytes; ++i) {
        out[i] = 0;
    }
}

/* Integer to integer converts modulo 2^n, as C compilers for every target do; to bool, any
 * nonzero value is 1. */
#define PB_CAST_INT(in_name, in_t, out_name, out_t, expr)                                          \
    void pb_cast_##in_name##_##out_name(const pb_unary_params_t *p, const in_t *input, out_t *output) \
    {                                                                                              \
        int32_t i;                                                                                 \
        for (i = 0; i < p->size; ++i) {                                                            \
            const in_t x = input[i];                                                               \
            output[i] = (out_t)(expr);                                                             \
        }                                                                                          \
    }
#define PB_CAST_INT_FROM(in_name, in_t)                  \
    PB_CAST_INT(in_name, in_t, s8, int8_t, x)            \
    PB_CAST_INT(in_name, in_t, s16, int16_t, x)          \
    PB_CAST_INT(in_name, in_t, s32, int32_t, x)          \
    PB_CAST_INT(in_name, in_t, u32, uint32_t, x)         \
    PB_CAST_INT(in_name, in_t, b, uint8_t, x != 0)
PB_CAST_INT_FROM(s8, int8_t)
PB_CAST_INT_FROM(s16, int16_t)
PB_CAST_INT_FROM(s32, int32_t)
PB_CAST_INT_FROM(u32, uint32_t)
PB_CAST_INT_FROM(b, uint8_t)
