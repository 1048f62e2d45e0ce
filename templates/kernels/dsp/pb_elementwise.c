/* int8 ADD through per-input lookup tables, DSP tier (see pb_elementwise.h).
 *
 * FAST mode: the generator checked that the doubled raw sum 2 * (t1[x] + t2[y]) fits int32
 * and that nothing below overflows, for every pair of inputs. Then TFLite's
 *     SaturatingRoundingDoublingHighMul(sum, m) == (2 * sum * m + 2^31) >> 32   (SMMULR)
 * (no saturation case: sum is never INT32_MIN), and its RoundingDivideByPOT(v, e), e >= 1,
 * rounding half away from zero, == (v + (v >> 31) + 2^(e-1)) >> e. The output zero point
 * minus act_min, times 2^e, rides along in the rounding constant, so the shift gives the
 * output relative to act_min and the clamp is to [0, act_max - act_min]. The tables hold
 * the doubled contributions, so the sum is SMMULR's operand as loaded.
 *
 * Neither mode branches on data: an inference takes the same time whatever its input. */
#include "pb_elementwise.h"

#if defined(__GNUC__)
#define PB_ADD_LUT_INLINE inline __attribute__((always_inline))
#else
#define PB_ADD_LUT_INLINE inline
#endif

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(PB_SIMD_PORTABLE)
#include <arm_acle.h>

/* (a * b + 2^31) >> 32: the rounded high word of the 64-bit product. */
static inline int32_t pb_add_lut_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* lo + clamp(s, 0, hi - lo), with two USATs (saturation, not branches or selects):
 * max(s, 0) = usat(s), then min(y, c) = c - max(c - y, 0). */
static inline int32_t pb_add_lut_clamp(int32_t s, int32_t range, int32_t hi)
{
    const int32_t y = (int32_t)__usat(s, 31);
    return hi - (int32_t)__usat(range - y, 31);
}

static inline int32_t pb_add_lut_ssat8(int32_t s)
{
    return __ssat(s, 8);
}
#else
static inline int32_t pb_add_lut_smmulr(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 31)) >> 32);
}

static inline int32_t pb_add_lut_clamp(int32_t s, int32_t range, int32_t hi)
{
    return hi - range + PB_CLAMP(s, 0, range);
}

static inline int32_t pb_add_lut_ssat8(int32_t s)
{
    return PB_CLAMP(s, -128, 127);
}
#endif

/* One output, FAST mode; full: FAST_FULL (the rounding constant holds the zero point, one
 * SSAT clamps). */
static PB_ADD_LUT_INLINE int32_t pb_add_lut_one(const int32_t *t1, const int32_t *t2, uint8_t x, uint8_t y, int32_t m,
                                               int32_t e, int32_t r, int32_t range, int32_t hi, int full)
{
    const int32_t v = pb_add_lut_smmulr(t1[x] + t2[y], m);
    const int32_t sign = -(int32_t)((uint32_t)v >> 31); /* v >> 31, without shifting a negative int */
    const int32_t s = (v + sign + r) >> e;
    return full ? pb_add_lut_ssat8(s) : pb_add_lut_clamp(s, range, hi); /* in int8 range: STRB stores it */
}

static PB_ADD_LUT_INLINE void pb_add_lut_fast(const pb_add_lut_params_t *p, const uint8_t *a, const uint8_t *b,
                                              int8_t *out, int full)
{
    const int32_t *t1 = p->table1;
    const int32_t *t2 = p->table2;
    const int32_t m = p->output_mult, e = p->output_shift, r = p->output_round;
    const int32_t hi = p->act_max, range = p->act_max - p->act_min;
    const int32_t n = p->size;
    int32_t i = 0;
    /* Four at a time (the loop count depends on the size only), then the rest. */
    for (; i + 4 <= n; i += 4) {
        out[i] = (int8_t)pb_add_lut_one(t1, t2, a[i], b[i], m, e, r, range, hi, full);
        out[i + 1] = (int8_t)pb_add_lut_one(t1, t2, a[i + 1], b[i + 1], m, e, r, range, hi, full);
        out[i + 2] = (int8_t)pb_add_lut_one(t1, t2, a[i + 2], b[i + 2], m, e, r, range, hi, full);
        out[i + 3] = (int8_t)pb_add_lut_one(t1, t2, a[i + 3], b[i + 3], m, e, r, range, hi, full);
    }
    for (; i < n; ++i) {
        out[i] = (int8_t)pb_add_lut_one(t1, t2, a[i], b[i], m, e, r, range, hi, full);
    }
}

/* one instance per clamp form, the form a constant in each */
static void pb_add_lut_fast_full(const pb_add_lut_params_t *p, const uint8_t *a, const uint8_t *b, int8_t *out)
{
    pb_add_lut_fast(p, a, b, out, 1);
}

static void pb_add_lut_fast_clamped(const pb_add_lut_params_t *p, const uint8_t *a, const uint8_t *b, int8_t *out)
{
    pb_add_lut_fast(p, a, b, out, 0);
}

static void pb_add_lut_exact(const pb_add_lut_params_t *p, const uint8_t *a, const uint8_t *b, int8_t *out)
{
    const int32_t *t1 = p->table1;
    const int32_t *t2 = p->table2;
    const int32_t n = p->size;
    int32_t i;
    for (i = 0; i < n; ++i) {
        /* Wraps like the reference's int32 addition (which int8 ADD scales never reach). */
        const int32_t sum = (int32_t)((uint32_t)t1[a[i]] + (uint32_t)t2[b[i]]);
        const int32_t v = pb_mul_by_quantized_mult(sum, p->output_mult, p->output_shift) + p->output_offset;
        out[i] = (int8_t)PB_CLAMP(v, p->act_min, p->act_max);
    }
}

void pb_add_lut_s8(const pb_add_lut_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const uint8_t *a = (const uint8_t *)input1;
    const uint8_t *b = (const uint8_t *)input2;
    if (p->mode == PB_ADD_LUT_FAST_FULL) {
        pb_add_lut_fast_full(p, a, b, output);
    } else if (p->mode == PB_ADD_LUT_FAST) {
        pb_add_lut_fast_clamped(p, a, b, output);
    } else {
        pb_add_lut_exact(p, a, b, output);
    }
}
