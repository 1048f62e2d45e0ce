/* The DSP tier's requantization, shared by its matrix multiply (pb_conv.c) and its
 * depthwise convolution (pb_depthwise_conv.c): the per-channel quant words the generator
 * (protobrain/compiler/ops/tiers/common.py) folds, and one output from an accumulator. */
#ifndef PB_DSP_REQUANT_H
#define PB_DSP_REQUANT_H

#include "pb_common.h"
#include "pb_simd.h"
#include "pb_tier.h"

/* Requantization: FAST is one rounded high multiply (SMMULR of 2 * acc) and one rounding
 * shift with the output offset folded in (valid when the generator proved nothing
 * overflows); EXACT is TFLite's MultiplyByQuantizedMultiplier step by step. */
#define PB_REQUANT_EXACT 0
#define PB_REQUANT_FAST 1

/* Per output channel, four words: bias', multiplier, shift, rounding constant.
 * FAST: shift is the right shift (>= 1), rounding = 2^(shift-1) + output_offset * 2^shift;
 * with int16 weights (and always in depthwise) weights and bias' are stored doubled, so
 * the accumulator is 2 * acc, the rounded high multiply's operand.
 * EXACT: shift is TFLite's signed shift, rounding unused; the multiplier, as every
 * requantization multiplier, in [0, 2^31). */
#define PB_QUANT_WORDS 4

/* full_range is a constant at every call site: the compiler drops the clamp when the
 * activation range is all of int8 (no activation, or ReLU with zero point -128). */
static PB_ALWAYS_INLINE int8_t pb_fast_clamp(int32_t v, int32_t act_min, int32_t act_max, int full_range)
{
    v = pb_ssat8(v);
    if (!full_range) {
        v = PB_MAX(v, act_min);
        v = PB_MIN(v, act_max);
    }
    return (int8_t)v;
}

/* The layer's requantization constants, read once: int8 output stores may alias anything,
 * so the compiler would otherwise read them again after each store. */
typedef struct {
    int32_t output_offset, act_min, act_max;
} pb_fast_out_t;

/* One channel's quant words (multiplier, shift, rounding). */
typedef struct {
    int32_t mult, shift, round;
} pb_fast_q_t;

static PB_ALWAYS_INLINE pb_fast_q_t pb_fast_q(const int32_t *q)
{
    pb_fast_q_t v;
    v.mult = q[1];
    v.shift = q[2];
    v.round = q[3];
    return v;
}

/* The rounded high multiply plus c: one SMMLAR. */
static PB_ALWAYS_INLINE int32_t pb_fast_smmlar(int32_t a, int32_t b, int32_t c)
{
#if defined(PB_SIMD_DSP)
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
#else
    return (int32_t)((uint32_t)pb_smmulr(a, b) + (uint32_t)c);
#endif
}

/* One requantized output. With doubled weights and bias (FAST mode, int16 weights) the
 * accumulator already is 2 * acc, the operand of the rounded high multiply. FAST folds
 * the high multiply's sign fix (less 1 when negative) into the rounding constant, taking
 * the sign of the operand instead of the product's: they differ only where the product
 * rounds to 0 (the multiplier is positive), and there round - 1 and round shift alike,
 * round being 2^(shift-1) modulo 2^shift (shift >= 1). */
static PB_ALWAYS_INLINE int8_t pb_fast_out(int32_t acc, pb_fast_q_t q, pb_fast_out_t o, int mode, int doubled,
                                           int full_range)
{
    int32_t v;
    if (mode == PB_REQUANT_EXACT) {
        v = pb_mul_by_quantized_mult_pos(acc, q.mult, q.shift) + o.output_offset;
    } else {
        const int32_t x = doubled ? acc : (int32_t)((uint32_t)acc << 1);
        v = pb_fast_smmlar(x, q.mult, q.round - (int32_t)((uint32_t)x >> 31)) >> q.shift;
    }
    return pb_fast_clamp(v, o.act_min, o.act_max, full_range);
}

#endif /* PB_DSP_REQUANT_H */
