/* What the Helium (MVE) tier's kernels share, the matrix multiply (pb_conv.c) and the
 * depthwise convolution (pb_depthwise_conv.c): the quant group's format and its four-lane
 * requantization, and the tail-predicated fill and copy they stage input rows with. Their
 * .c files include it; the public headers do not (it needs arm_mve.h).
 *
 * Requantization runs on four lanes at once: VQRDMULH is TFLite's saturating rounding
 * doubling high multiply exactly, and its rounding divide (half away from zero) is VRSHL
 * (half up) applied to x - 1 for negative x. */
#ifndef PB_MVE_HELIUM_H
#define PB_MVE_HELIUM_H

#include "pb_common.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif
#include <arm_mve.h>

#define PB_MVE_INLINE inline __attribute__((always_inline))

/* Requantization of four int32 lanes, TFLite's MultiplyByQuantizedMultiplier exactly:
 * FAST when every channel shifts right by at least one bit and none left; GENERAL also
 * applies the left shifts and skips the half-away-from-zero fix where the right shift is 0. */
#define PB_MVE_REQUANT_FAST 1
#define PB_MVE_REQUANT_GENERAL 2

/* Words per quant group of four lanes: bias'[4], multiplier[4], -right_shift[4],
 * left_shift[4], fix mask[4] (-1 where right_shift >= 1, else 0). */
#define PB_MVE_GROUP_WORDS 20
/* A FAST layer's multiply keeps the first three (bias', multiplier, -right_shift). */
#define PB_MVE_FAST_GROUP_WORDS 12

/* ---- requantization ------------------------------------------------------------------ */

typedef struct {
    int32x4_t offset, lo, hi;
} pb_mve_out_t;

static PB_MVE_INLINE pb_mve_out_t pb_mve_out(int32_t output_offset, int32_t act_min, int32_t act_max)
{
    pb_mve_out_t o;
    o.offset = vdupq_n_s32(output_offset);
    o.lo = vdupq_n_s32(act_min);
    o.hi = vdupq_n_s32(act_max);
    return o;
}

/* acc (bias included) to the clamped output value of each lane; g: the lanes' group. */
static PB_MVE_INLINE int32x4_t pb_mve_requant(int32x4_t acc, const int32_t *g, int general, pb_mve_out_t o)
{
    int32x4_t v, neg;
    if (general) {
        acc = vshlq_s32(acc, vldrwq_s32(g + 12));
    }
    v = vqrdmulhq_s32(acc, vldrwq_s32(g + 4));
    neg = vshrq_n_s32(v, 31); /* -1 for negative lanes: rounds their half away from zero */
    if (general) {
        neg = vandq_s32(neg, vldrwq_s32(g + 16)); /* a zero shift does not round */
    }
    v = vrshlq_s32(vaddq_s32(v, neg), vldrwq_s32(g + 8));
    v = vaddq_s32(v, o.offset);
    return vminq_s32(vmaxq_s32(v, o.lo), o.hi);
}

/* ---- staging -------------------------------------------------------------------------- */

/* Fill n bytes with v; copy n bytes (n >= 0). Tail-predicated loops (WLSTP/LETP): 16 bytes
 * per pass, the last pass predicated, nothing for n = 0. */
static PB_MVE_INLINE void pb_mve_fill(int8_t *dst, int8x16_t v, int32_t n)
{
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n"
                     "1:\n\t"
                     "vstrb.8 %q[v], [%[d]], #16\n\t"
                     "letp lr, 1b\n"
                     "2:"
                     : [d] "+r"(dst)
                     : [n] "r"(n), [v] "w"(v)
                     : "lr", "memory");
}

static PB_MVE_INLINE void pb_mve_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n"
                     "1:\n\t"
                     "vldrb.8 q0, [%[s]], #16\n\t"
                     "vstrb.8 q0, [%[d]], #16\n\t"
                     "letp lr, 1b\n"
                     "2:"
                     : [d] "+r"(dst), [s] "+r"(src)
                     : [n] "r"(n)
                     : "q0", "lr", "memory");
}

#endif /* PB_MVE_HELIUM_H */
