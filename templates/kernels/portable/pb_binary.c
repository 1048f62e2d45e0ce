/* MINIMUM, MAXIMUM, SQUARED_DIFFERENCE, DIV, FLOOR_DIV, FLOOR_MOD, PRELU, ADD_N and the
 * int32 / float32 ADD, SUB, MUL, bit-exact with TFLite Micro's reference kernels. */
#include <string.h>

#include "pb_binary.h"

static const int32_t pb_bin_s8[3] = {1, 1, 1};
static const int32_t pb_bin_s16[3] = {2, 2, 2};
static const int32_t pb_bin_w4[3] = {4, 4, 4};
static const int32_t pb_bin_w8[3] = {8, 8, 8};
static const int32_t pb_bin_prelu16[3] = {2, 1, 1}; /* int16 input, int8 alpha */

/* ---- float helpers without libm ---------------------------------------------------- */

/* floor(x) for doubles: integral values, infinities and NaN come back unchanged. */
static double pb_floor(double x)
{
    double t;
    if (!(x > -4503599627370496.0 && x < 4503599627370496.0)) { /* |x| >= 2^52 or NaN */
        return x;
    }
    t = (double)(int64_t)x; /* toward zero, exact below 2^52 */
    if (t > x) {
        t -= 1.0;
    }
    return t == 0.0 ? x * 0.0 : t; /* floor(-0.0) is -0.0, floor(0.5) is +0.0 */
}

/* fmodf(x, y): the exact remainder with x's sign, by shift-and-subtract on the significands. */
static float pb_fmodf(float x, float y)
{
    uint32_t ux, uy, sign, mx, my;
    int32_t ex, ey;
    float r;
    memcpy(&ux, &x, sizeof ux);
    memcpy(&uy, &y, sizeof uy);
    sign = ux & 0x80000000u;
    ux &= 0x7fffffffu;
    uy &= 0x7fffffffu;
    if (uy == 0 || ux >= 0x7f800000u || uy > 0x7f800000u) {
        return (x * y) / (x * y); /* invalid: NaN, as the C library makes it */
    }
    if (ux < uy) {
        return x;
    }
    if (ux == uy) {
        ux = sign;
        memcpy(&r, &ux, sizeof r);
        return r;
    }
    /* significands with the implicit bit, subnormals normalized */
    ex = (int32_t)(ux >> 23);
    ey = (int32_t)(uy >> 23);
    mx = ex ? (ux & 0x7fffffu) | 0x800000u : ux;
    my = ey ? (uy & 0x7fffffu) | 0x800000u : uy;
    if (!ex) {
        ex = 1;
        while (mx < 0x800000u) {
            mx <<= 1;
            --ex;
        }
    }
    if (!ey) {
        ey = 1;
        while (my < 0x800000u) {
            my <<= 1;
            --ey;
        }
    }
    for (; ex > ey; --ex) {
        if (mx >= my) {
            mx -= my;
        }
        mx <<= 1;
    }
    if (mx >= my) {
        mx -= my;
    }
    if (mx == 0) {
        memcpy(&r, &sign, sizeof r);
        return r;
    }
    while (mx < 0x800000u) {
        mx <<= 1;
        --ey;
    }
    ux = ey > 0 ? ((uint32_t)ey << 23) | (mx & 0x7fffffu) : mx >> (1 - ey);
    ux |= sign;
    memcpy(&r, &ux, sizeof r);
    return r;
}

/* ---- integer helpers --------------------------------------------------------------- */

/* Leading sign bits of a 32-bit value, not counting the sign bit itself (31 for 0 and -1). */
static inline int32_t pb_clrsb32(int32_t v)
{
    return pb_clz32((uint32_t)pb_select(v < 0, ~v, v)) - 1;
}

/* x / 2^e rounded half away from zero, for e in [0, 63]. DIV asks for shifts past 31 on
 * small operands; TFLite Micro's reference then (on its x86-64 build, the golden) has an
 * all-ones mask and a shift count taken modulo 32, which is what this computes. */
static inline int32_t pb_div_rounding_shift(int32_t x, int32_t e)
{
    const int32_t mask = (int32_t)(uint32_t)(((uint64_t)1 << e) - 1u);
    const int32_t remainder = x & mask;
    const int32_t half = pb_select(e > 31, -1, (int32_t)((uint32_t)mask >> 1));
    const int32_t threshold = half + (int32_t)((uint32_t)x >> 31);
    return (x >> (e & 31)) + (remainder > threshold ? 1 : 0);
}

/* ADD/SUB/SQUARED_DIFFERENCE: an input brought to the common scale, 2^left_shift wider. */
static inline int32_t pb_bin_rescale(int32_t v, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift)
{
    return pb_mul_by_quantized_mult((int32_t)((uint32_t)(v + offset) << left_shift), mult, shift);
}

static inline int32_t pb_bin_squared_difference(const pb_binary_params_t *p, int32_t x, int32_t y)
{
    const int32_t a = pb_bin_rescale(x, p->input1_offset, p->left_shift, p->input1_mult, p->input1_shift);
    const int32_t b = pb_bin_rescale(y, p->input2_offset, p->left_shift, p->input2_mult, p->input2_shift);
    const int32_t d = a - b;
    const int32_t r = pb_mul_by_quantized_mult(pb_wrap_mul32(d, d), p->output_mult, p->output_shift) + p->output_offset;
    return PB_CLAMP(r, p->act_min, p->act_max);
}

/* int8 DIV: the divisor's reciprocal in Q0.31, the dividend normalized by its headroom,
 * one high multiply, then the output multiplier and the total shift. */
static inline int32_t pb_bin_div_q(const pb_binary_params_t *p, int32_t x, int32_t y)
{
    const int32_t n0 = x + p->input1_offset;
    const int32_t d0 = y + p->input2_offset;
    const int32_t flip = d0 < 0;
    const int32_t n = pb_select(flip, -n0, n0);
    const int32_t d = pb_select(flip, -d0, d0);
    const int32_t d_headroom_plus_one = pb_clz32((uint32_t)d); /* 32 for a zero divisor */
    const int32_t recip_shift = 31 - d_headroom_plus_one;
    const uint32_t d_norm = ((uint32_t)d << (d_headroom_plus_one & 31)) & (uint32_t)-(int32_t)(d != 0);
    const int32_t recip = pb_one_over_one_plus_x((int32_t)(d_norm - 0x80000000u));
    const int32_t headroom = pb_clrsb32(n);
    const int32_t quotient = pb_sat_rounding_doubling_high_mul((int32_t)((uint32_t)n << headroom), recip);
    const int32_t shift = headroom + recip_shift - p->output_shift; /* in [0, 63] (checked at generation) */
    const int32_t r = pb_div_rounding_shift(pb_sat_rounding_doubling_high_mul(quotient, p->output_mult), shift)
                      + p->output_offset;
    return PB_CLAMP(r, p->act_min, p->act_max);
}

static inline int32_t pb_bin_div_i32(const pb_binary_params_t *p, int32_t x, int32_t y)
{
    /* TFLite Micro traps on a zero divisor and on INT32_MIN / -1; here they give 0 and INT32_MIN. */
    const int32_t safe = pb_select(y == 0 || (y == -1 && x == INT32_MIN), 1, y);
    const int32_t q = pb_select(y == 0, 0, x / safe);
    return PB_CLAMP(q, p->act_min, p->act_max);
}

static inline int32_t pb_bin_prelu(const pb_binary_params_t *p, int32_t x, int32_t alpha)
{
    const int32_t v = x + p->input1_offset;
    const int32_t pos = pb_mul_by_quantized_mult(v, p->output_mult, p->output_shift);
    const int32_t neg = pb_mul_by_quantized_mult(v * (alpha + p->input2_offset), p->output2_mult, p->output2_shift);
    const int32_t r = pb_select(v >= 0, pos, neg) + p->output_offset;
    return PB_CLAMP(r, p->act_min, p->act_max);
}

static inline float pb_bin_floor_mod(float x, float y)
{
    const float r = pb_fmodf(x, y);
    return (r != 0.0f && ((y < 0.0f) != (r < 0.0f))) ? r + y : r;
}

/* ---- rows ---------------------------------------------------------------------------- */

PB_BIN_ROW(pb_row_add_i32, int32_t, int32_t, int32_t, PB_CLAMP(pb_wrap_add(x, y), p->act_min, p->act_max))
PB_BIN_ROW(pb_row_sub_i32, int32_t, int32_t, int32_t, PB_CLAMP(pb_wrap_sub(x, y), p->act_min, p->act_max))
PB_BIN_ROW(pb_row_mul_i32, int32_t, int32_t, int32_t, PB_CLAMP(pb_wrap_mul32(x, y), p->act_min, p->act_max))
PB_BIN_ROW(pb_row_div_i32, int32_t, int32_t, int32_t, pb_bin_div_i32(p, x, y))
PB_BIN_ROW(pb_row_add_f32, float, float, float, pb_clampf(x + y, p->act_min_f, p->act_max_f))
PB_BIN_ROW(pb_row_sub_f32, float, float, float, pb_clampf(x - y, p->act_min_f, p->act_max_f))
PB_BIN_ROW(pb_row_mul_f32, float, float, float, pb_clampf(x * y, p->act_min_f, p->act_max_f))
PB_BIN_ROW(pb_row_div_f32, float, float, float, pb_clampf(x / y, p->act_min_f, p->act_max_f))

PB_BIN_ROW(pb_row_min_s8, int8_t, int8_t, int8_t, x < y ? x : y)
PB_BIN_ROW(pb_row_max_s8, int8_t, int8_t, int8_t, x > y ? x : y)
PB_BIN_ROW(pb_row_min_s16, int16_t, int16_t, int16_t, x < y ? x : y)
PB_BIN_ROW(pb_row_max_s16, int16_t, int16_t, int16_t, x > y ? x : y)
PB_BIN_ROW(pb_row_min_i32, int32_t, int32_t, int32_t, x < y ? x : y)
PB_BIN_ROW(pb_row_max_i32, int32_t, int32_t, int32_t, x > y ? x : y)
PB_BIN_ROW(pb_row_min_i64, int64_t, int64_t, int64_t, x < y ? x : y)
PB_BIN_ROW(pb_row_max_i64, int64_t, int64_t, int64_t, x > y ? x : y)
PB_BIN_ROW(pb_row_min_f32, float, float, float, x < y ? x : y)
PB_BIN_ROW(pb_row_max_f32, float, float, float, x > y ? x : y)

PB_BIN_ROW(pb_row_sqdiff_s8, int8_t, int8_t, int8_t, pb_bin_squared_difference(p, x, y))
PB_BIN_ROW(pb_row_sqdiff_s16, int16_t, int16_t, int16_t, pb_bin_squared_difference(p, x, y))
PB_BIN_ROW(pb_row_sqdiff_i32, int32_t, int32_t, int32_t, pb_wrap_mul32(pb_wrap_sub(x, y), pb_wrap_sub(x, y)))
PB_BIN_ROW(pb_row_sqdiff_f32, float, float, float, (x - y) * (x - y))

PB_BIN_ROW(pb_row_div_s8, int8_t, int8_t, int8_t, pb_bin_div_q(p, x, y))
PB_BIN_ROW(pb_row_floor_div_f32, float, float, float, pb_floor((double)x / (double)y))
PB_BIN_ROW(pb_row_floor_mod_f32, float, float, float, pb_bin_floor_mod(x, y))

PB_BIN_ROW(pb_row_prelu_s8, int8_t, int8_t, int8_t, pb_bin_prelu(p, x, y))
PB_BIN_ROW(pb_row_prelu_s16, int16_t, int8_t, int16_t, pb_bin_prelu(p, x, y))
PB_BIN_ROW(pb_row_prelu_f32, float, float, float, x >= 0.0f ? x : x * y)

/* ---- entry points --------------------------------------------------------------------- */

#define PB_BIN_ENTRY(name, otype, row, sizes)                                                  \
    void name(const pb_binary_params_t *p, const void *const *in, otype *output)                \
    {                                                                                           \
        pb_bin_walk(p, in, 2, sizes, output, (int32_t)sizeof(otype), row);                      \
    }

PB_BIN_ENTRY(pb_binary_add_i32, int32_t, pb_row_add_i32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_sub_i32, int32_t, pb_row_sub_i32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_mul_i32, int32_t, pb_row_mul_i32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_div_i32, int32_t, pb_row_div_i32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_add_f32, float, pb_row_add_f32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_sub_f32, float, pb_row_sub_f32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_mul_f32, float, pb_row_mul_f32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_div_f32, float, pb_row_div_f32, pb_bin_w4)

PB_BIN_ENTRY(pb_binary_minimum_s8, int8_t, pb_row_min_s8, pb_bin_s8)
PB_BIN_ENTRY(pb_binary_maximum_s8, int8_t, pb_row_max_s8, pb_bin_s8)
PB_BIN_ENTRY(pb_binary_minimum_s16, int16_t, pb_row_min_s16, pb_bin_s16)
PB_BIN_ENTRY(pb_binary_maximum_s16, int16_t, pb_row_max_s16, pb_bin_s16)
PB_BIN_ENTRY(pb_binary_minimum_i32, int32_t, pb_row_min_i32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_maximum_i32, int32_t, pb_row_max_i32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_minimum_i64, int64_t, pb_row_min_i64, pb_bin_w8)
PB_BIN_ENTRY(pb_binary_maximum_i64, int64_t, pb_row_max_i64, pb_bin_w8)
PB_BIN_ENTRY(pb_binary_minimum_f32, float, pb_row_min_f32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_maximum_f32, float, pb_row_max_f32, pb_bin_w4)

PB_BIN_ENTRY(pb_binary_squared_difference_s8, int8_t, pb_row_sqdiff_s8, pb_bin_s8)
PB_BIN_ENTRY(pb_binary_squared_difference_s16, int16_t, pb_row_sqdiff_s16, pb_bin_s16)
PB_BIN_ENTRY(pb_binary_squared_difference_i32, int32_t, pb_row_sqdiff_i32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_squared_difference_f32, float, pb_row_sqdiff_f32, pb_bin_w4)

PB_BIN_ENTRY(pb_binary_div_s8, int8_t, pb_row_div_s8, pb_bin_s8)
PB_BIN_ENTRY(pb_binary_floor_div_f32, float, pb_row_floor_div_f32, pb_bin_w4)
PB_BIN_ENTRY(pb_binary_floor_mod_f32, float, pb_row_floor_mod_f32, pb_bin_w4)

PB_BIN_ENTRY(pb_binary_prelu_s8, int8_t, pb_row_prelu_s8, pb_bin_s8)
PB_BIN_ENTRY(pb_binary_prelu_s16, int16_t, pb_row_prelu_s16, pb_bin_prelu16)
PB_BIN_ENTRY(pb_binary_prelu_f32, float, pb_row_prelu_f32, pb_bin_w4)

/* ---- ADD_N --------------------------------------------------------------------------- */

/* The inputs in order: constants from const_data, the others from `in`. */
static void pb_add_n_inputs(const pb_add_n_params_t *p, const void *const *in, int32_t elem_size,
                            const uint8_t **inputs)
{
    int32_t j, next = 0;
    for (j = 0; j < p->count; ++j) {
        inputs[j] = p->const_offset[j] < 0 ? (const uint8_t *)in[next++]
                                           : (const uint8_t *)p->const_data + p->const_offset[j] * elem_size;
    }
}

void pb_binary_add_n_s8(const pb_add_n_params_t *p, const void *const *in, int8_t *output)
{
    const uint8_t *inputs[PB_ADD_N_MAX_INPUTS];
    /* TFLite Micro starts each sum at the input zero point's own term, not at zero */
    const int32_t start = pb_bin_rescale(0, p->input_offset, p->left_shift, p->input_mult, p->input_shift);
    int32_t i, j;
    pb_add_n_inputs(p, in, 1, inputs);
    for (i = 0; i < p->size; ++i) {
        int32_t sum = start, r;
        for (j = 0; j < p->count; ++j) {
            const int32_t x = ((const int8_t *)inputs[j])[i];
            sum += pb_bin_rescale(x, p->input_offset, p->left_shift, p->input_mult, p->input_shift);
        }
        r = pb_mul_by_quantized_mult(sum, p->output_mult, p->output_shift) + p->output_offset;
        output[i] = (int8_t)PB_CLAMP(r, p->act_min, p->act_max);
    }
}

void pb_binary_add_n_f32(const pb_add_n_params_t *p, const void *const *in, float *output)
{
    const uint8_t *inputs[PB_ADD_N_MAX_INPUTS];
    int32_t i, j;
    pb_add_n_inputs(p, in, 4, inputs);
    for (i = 0; i < p->size; ++i) {
        float sum = 0.0f;
        for (j = 0; j < p->count; ++j) {
            sum += ((const float *)inputs[j])[i];
        }
        output[i] = sum;
    }
}
