/* protobrain: extra fixed-point helpers (gemmlowp-style reciprocal, int16 table interpolation).
 * Integer-only; header-only so that each kernel family can use them. */
#ifndef PB_COMMON_FIXEDPOINT_H
#define PB_COMMON_FIXEDPOINT_H

#include "pb_common.h"

/* Number of leading zero bits of a 32-bit value (32 for zero). */
static inline int pb_clz32(uint32_t x)
{
#if defined(__GNUC__)
    return x ? __builtin_clz(x) : 32;
#else
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

/* (a + b) / 2 rounded half away from zero. */
static inline int32_t pb_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t negative = -(int64_t)(sum < 0); /* all ones or zero */
    const int64_t rounded = sum + 1 + 2 * negative; /* +1, or -1 for negatives */
    /* halve truncating toward zero, without a branch */
    return (int32_t)((rounded + (-(int64_t)(rounded < 0) & 1)) >> 1);
}

/* x * 2^exponent (0 < exponent < 31), saturating at the int32 limits. */
static inline int32_t pb_saturating_shl(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    const int32_t shifted = (int32_t)((uint32_t)x << exponent);
    return pb_select(x > threshold, INT32_MAX, pb_select(x < -threshold, INT32_MIN, shifted));
}

/* Two's complement wrapping add/sub, well defined in C. */
static inline int32_t pb_wrap_add(int32_t a, int32_t b)
{
    return (int32_t)(uint32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t pb_wrap_sub(int32_t a, int32_t b)
{
    return (int32_t)(uint32_t)((uint32_t)a - (uint32_t)b);
}

/* 1 / (1 + a) for a in [0, 1): Q0.31 in, Q0.31 out, three Newton-Raphson steps
 * starting from the 48/17 - 32/17 * d estimate (all intermediate values in Q2.29). */
static inline int32_t pb_one_over_one_plus_x(int32_t a)
{
    const int32_t half_den = pb_rounding_half_sum(a, INT32_MAX);
    int32_t x = pb_wrap_add(1515870810, pb_sat_rounding_doubling_high_mul(half_den, -1010580540));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t hdx = pb_sat_rounding_doubling_high_mul(half_den, x);
        const int32_t one_minus = pb_wrap_sub((int32_t)1 << 29, hdx);
        x = pb_wrap_add(x, pb_saturating_shl(pb_sat_rounding_doubling_high_mul(x, one_minus), 2));
    }
    return pb_saturating_shl(x, 1);
}

/* Interpolated lookup in a 513-entry int16 table covering the whole int16 input range:
 * the top 9 bits select a segment, the low 7 bits interpolate inside it. */
static inline int16_t pb_lut_interp_s16(int16_t value, const int16_t *lut)
{
    const int32_t index = 256 + (value >> 7);
    const int32_t offset = value & 0x7f;
    const int16_t base = lut[index];
    const int16_t slope = (int16_t)(lut[index + 1] - lut[index]);
    const int32_t delta = (slope * offset + 64) >> 7;
    return (int16_t)(base + delta);
}

#endif /* PB_COMMON_FIXEDPOINT_H */
