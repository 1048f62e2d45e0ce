/* protobrain: fixed-point arithmetic shared by all kernels.
 * Integer-only, matching TensorFlow Lite Micro's reference arithmetic bit for bit. */
#ifndef PB_COMMON_H
#define PB_COMMON_H

#include <stdint.h>
#include <stddef.h>

#define PB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PB_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Branch-free select and clamp: with no data-dependent branches in the arithmetic, an
 * inference runs the same instructions whatever its input (constant running time). */
static inline int32_t pb_select(int32_t condition, int32_t if_true, int32_t if_false)
{
    const int32_t mask = -condition; /* condition is 0 or 1 */
    return (if_true & mask) | (if_false & ~mask);
}

static inline int32_t pb_clamp(int32_t x, int32_t lo, int32_t hi)
{
    x = pb_select(x < lo, lo, x);
    return pb_select(x > hi, hi, x);
}
#define PB_CLAMP(x, lo, hi) pb_clamp((x), (lo), (hi))

/* (a * b * 2) >> 32 with rounding to nearest, TFLite's SaturatingRoundingDoublingHighMul
 * where it cannot saturate (a or b not INT32_MIN). TFLite nudges a negative product by
 * 1 - 2^30 and divides by 2^31 truncating toward zero; for a product -m that is
 * -floor((m - 1 + 2^30) / 2^31) = floor((2^30 - m) / 2^31), so every product takes the
 * same floor((a * b + 2^30) / 2^31): one 64-bit multiply-add and an arithmetic shift, no
 * branch. */
static inline int32_t pb_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    return (int32_t)(uint32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* The same for any operands: only INT32_MIN * INT32_MIN overflows, its quotient 2^31
 * wrapping to INT32_MIN; less 1, it is the reference's INT32_MAX. */
static inline int32_t pb_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    const uint32_t overflow = (uint32_t)((a == INT32_MIN) & (b == INT32_MIN));
    return (int32_t)((uint32_t)pb_rounding_doubling_high_mul(a, b) - overflow);
}

/* x / 2^exponent, rounding half away from zero. */
static inline int32_t pb_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)x >> 31);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^shift, multiplier in Q0.31 (TFLite's MultiplyByQuantizedMultiplier);
 * positive: the multiplier is a requantization multiplier, a positive scale ratio's
 * significand in [0, 2^31) (never INT32_MIN), so the high multiply needs no overflow check. */
static inline int32_t pb_mul_by_quantized_mult_as(int32_t x, int32_t multiplier, int shift, int positive)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    /* Shift in unsigned arithmetic: wraps like the reference instead of being undefined. */
    const int32_t shifted = (int32_t)((uint32_t)x << left_shift);
    const int32_t high = positive ? pb_rounding_doubling_high_mul(shifted, multiplier)
                                  : pb_sat_rounding_doubling_high_mul(shifted, multiplier);
    return pb_rounding_divide_by_pot(high, right_shift);
}

static inline int32_t pb_mul_by_quantized_mult(int32_t x, int32_t multiplier, int shift)
{
    return pb_mul_by_quantized_mult_as(x, multiplier, shift, 0);
}

/* For a requantization multiplier (conv, depthwise, fully connected, the recurrent layers'). */
static inline int32_t pb_mul_by_quantized_mult_pos(int32_t x, int32_t multiplier, int shift)
{
    return pb_mul_by_quantized_mult_as(x, multiplier, shift, 1);
}

/* The 64-bit accumulator variant used by 16x8 kernels. */
static inline int32_t pb_mul_by_quantized_mult64(int64_t x, int32_t multiplier, int shift)
{
    const int32_t reduced = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int total_shift = 15 - shift;
    const int64_t rounded = x * (int64_t)reduced + ((int64_t)1 << (total_shift - 1));
    return (int32_t)(rounded >> total_shift);
}

/* First and one-past-last filter tap k with 0 <= origin + k * dilation < size: the taps
 * of a window that fall inside the input (the rest read padding). */
static inline void pb_tap_range(int32_t origin, int32_t dilation, int32_t taps, int32_t size,
                                int32_t *first, int32_t *last)
{
    int32_t lo = 0, hi = taps;
    if (origin < 0) {
        lo = (-origin + dilation - 1) / dilation;
    }
    if (origin + (hi - 1) * dilation >= size) {
        hi = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
    }
    if (hi < lo) {
        hi = lo;
    }
    *first = lo;
    *last = hi;
}

#endif /* PB_COMMON_H */
