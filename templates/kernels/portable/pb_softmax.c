/* SOFTMAX: int8 -> int8, int8 -> int16 (fixed-point exp table + reciprocal), int16 -> int16 (LUTs). */
#include "pb_softmax.h"
#include "pb_common_fixedpoint.h"

/* One row of int8 input: the max, the Q12.19 sum of exps and its normalised reciprocal. */
static int32_t pb_softmax_row_s8(const pb_softmax_params_t *p, const int8_t *in,
                                 int32_t *scale, int *bits_over_unit)
{
    int32_t c, max = -128;
    int32_t sum = 0;
    int headroom;
    for (c = 0; c < p->depth; ++c) {
        max = PB_MAX(max, (int32_t)in[c]);
    }
    /* The table has all 256 entries, so every term is computed and masked: no branch. */
    for (c = 0; c < p->depth; ++c) {
        const int32_t diff = in[c] - max;
        sum += pb_select(diff >= p->diff_min, pb_rounding_divide_by_pot(p->exp_table[-diff], 12), 0);
    }
    /* 1/sum: normalise sum to [1, 2), take 1/(1 + x), remember the power of two. */
    headroom = pb_clz32((uint32_t)sum);
    *bits_over_unit = 12 - headroom;
    *scale = pb_one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
    return max;
}

void pb_softmax_s8(const pb_softmax_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *in = input + i * p->depth;
        int8_t *out = output + i * p->depth;
        int32_t scale;
        int bits;
        const int32_t max = pb_softmax_row_s8(p, in, &scale, &bits);
        const int exponent = bits + 31 - 8;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max;
            const int32_t v = pb_rounding_divide_by_pot(
                pb_sat_rounding_doubling_high_mul(scale, p->exp_table[-diff]), exponent) - 128;
            out[c] = (int8_t)pb_select(diff >= p->diff_min, PB_CLAMP(v, -128, 127), -128);
        }
    }
}

void pb_softmax_s8_s16(const pb_softmax_params_t *p, const int8_t *input, int16_t *output)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *in = input + i * p->depth;
        int16_t *out = output + i * p->depth;
        int32_t scale;
        int bits;
        const int32_t max = pb_softmax_row_s8(p, in, &scale, &bits);
        const int exponent = bits + 31 - 16;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max;
            const int32_t v = pb_rounding_divide_by_pot(
                pb_sat_rounding_doubling_high_mul(scale, p->exp_table[-diff]), exponent) - 32768;
            out[c] = (int16_t)pb_select(diff >= p->diff_min, PB_CLAMP(v, -32768, 32767), -32768);
        }
    }
}

void pb_softmax_s16(const pb_softmax_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int16_t *in = input + i * p->depth;
        int16_t *out = output + i * p->depth;  /* holds the exps until the final pass */
        int32_t max = -32768;
        int32_t sum = 0, shifted, recip;
        int headroom, right_shift;
        int64_t round;
        for (c = 0; c < p->depth; ++c) {
            max = PB_MAX(max, (int32_t)in[c]);
        }
        for (c = 0; c < p->depth; ++c) {
            /* Input differences scaled so that [-65535, 0] spans exp's table range [-10, 0]. */
            const int32_t scaled = pb_mul_by_quantized_mult(in[c] - max, p->input_multiplier, p->input_shift);
            const int32_t centred = PB_CLAMP(scaled + 32767, -32768, 32767);
            out[c] = pb_lut_interp_s16((int16_t)centred, p->exp_lut);
            sum += out[c];
        }
        headroom = pb_clz32((uint32_t)sum);
        shifted = (int32_t)((((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14);
        /* 1/(1 + x) table with x = normalised sum - 1, recentred on int16. */
        shifted = PB_CLAMP(shifted - ((1 << 15) + (1 << 16)), -32768, 32767);
        recip = pb_lut_interp_s16((int16_t)shifted, p->recip_lut);
        right_shift = 31 - headroom;
        round = (int64_t)1 << (right_shift - 1);
        for (c = 0; c < p->depth; ++c) {
            const int32_t v = (int32_t)(((int64_t)out[c] * recip + round) >> right_shift);
            out[c] = (int16_t)PB_CLAMP(v, 0, 32767);
        }
    }
}
