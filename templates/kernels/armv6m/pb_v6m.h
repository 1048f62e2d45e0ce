/* The ARMv6-M tier's building blocks (Cortex-M0/M0+), shared by its matrix multiply
 * (pb_conv.c) and its depthwise convolution (pb_depthwise_conv.c): the requantization
 * without a 64-bit multiply, and the hand-scheduled Thumb-1 inner loops.
 *
 * Each inner loop is inline assembly where the compiler targets Thumb (PB_V6M_ASM) and
 * plain C with the same result everywhere else, so the host tests run the same layouts
 * and arithmetic. The assembly is Thumb-1 only (LDRB with an immediate offset, MOVS,
 * MULS, ADD to a high register), which every Cortex-M runs. */
#ifndef PB_V6M_H
#define PB_V6M_H

#include "pb_common.h"

#ifndef PB_ALWAYS_INLINE
#if defined(__GNUC__)
#define PB_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define PB_ALWAYS_INLINE inline
#endif
#endif

#if defined(__GNUC__)
#define PB_V6M_NOINLINE __attribute__((noinline))
#else
#define PB_V6M_NOINLINE
#endif

#if defined(__arm__) && defined(__thumb__) && defined(__GNUC__) && !defined(PB_V6M_PORTABLE)
#define PB_V6M_ASM 1
#endif

/* Requantization modes, as the DSP tier's (protobrain/compiler/ops/tiers/common.py):
 * FAST is one rounded high multiply of 2 * acc and one rounding shift with the output
 * offset folded in; EXACT is TFLite's MultiplyByQuantizedMultiplier step by step. */
#define PB_V6M_REQUANT_EXACT 0
#define PB_V6M_REQUANT_FAST 1
/* Per output channel: bias'', multiplier, shift, rounding (FAST: right shift >= 1,
 * rounding = 2^(shift-1) + output_offset * 2^shift; EXACT: TFLite's signed shift). */
#define PB_V6M_QUANT_WORDS 4

/* (a * m + 2^31) >> 32 for 0 <= m < 2^31, exactly, from four 16 x 16 -> 32 products:
 * ARMv6-M has no 32 x 32 -> 64 multiply (a C int64 product calls __aeabi_lmul). */
static PB_ALWAYS_INLINE int32_t pb_v6m_mulhi_round(int32_t a, int32_t m)
{
    const int32_t ah = a >> 16, mh = m >> 16;
    const uint32_t al = (uint32_t)a & 0xFFFFu, ml = (uint32_t)m & 0xFFFFu;
    const int32_t x = ah * (int32_t)ml;               /* |x| < 2^31 */
    const uint32_t y = al * (uint32_t)mh;             /* < 2^31 */
    const uint32_t z = al * ml;                       /* < 2^32 */
    const uint32_t low = ((uint32_t)x & 0xFFFFu) + y + (z >> 16) + 0x8000u; /* < 2^32 */
    return ah * mh + (x >> 16) + (int32_t)(low >> 16);
}

typedef struct {
    int32_t output_offset, act_min, act_max;
} pb_v6m_out_t;

/* FAST requantization of one accumulator with its channel's quant words q, clamped to
 * [lo, hi]. In Thumb-1 assembly, 33 instructions when nothing is clamped (the compiler's
 * version of the same C, about 60 with its branch-free clamp). The clamp branches. */
static PB_ALWAYS_INLINE int32_t pb_v6m_fast(int32_t acc, const int32_t *q, int32_t lo, int32_t hi)
{
#if defined(PB_V6M_ASM)
    uint32_t al, mh, ml, x;
    __asm__("   .syntax unified\n"
            "   ldr  %[mh], [%[q], #4]\n"
            "   lsls %[a], %[a], #1\n"
            "   uxth %[al], %[a]\n"
            "   asrs %[a], %[a], #16\n"
            "   uxth %[ml], %[mh]\n"
            "   lsrs %[mh], %[mh], #16\n"
            "   movs %[x], %[a]\n"
            "   muls %[x], %[ml]\n"   /* x = ah * ml */
            "   muls %[ml], %[al]\n"  /* z = al * ml */
            "   muls %[al], %[mh]\n"  /* y = al * mh */
            "   muls %[a], %[mh]\n"   /* ah * mh */
            "   movs %[mh], #128\n"
            "   lsls %[mh], %[mh], #8\n"
            "   adds %[mh], %[al]\n"
            "   uxth %[al], %[x]\n"
            "   adds %[mh], %[al]\n"
            "   lsrs %[ml], %[ml], #16\n"
            "   adds %[mh], %[ml]\n"  /* (x & 0xFFFF) + y + (z >> 16) + 2^15 */
            "   lsrs %[mh], %[mh], #16\n"
            "   asrs %[x], %[x], #16\n"
            "   adds %[a], %[x]\n"
            "   adds %[a], %[mh]\n"   /* v = (2 * acc * mult + 2^31) >> 32 */
            "   lsrs %[x], %[a], #31\n"
            "   subs %[a], %[x]\n"
            "   ldr  %[x], [%[q], #12]\n"
            "   adds %[a], %[x]\n"
            "   ldr  %[x], [%[q], #8]\n"
            "   asrs %[a], %[x]\n"
            "   cmp  %[a], %[lo]\n"
            "   bge  1f\n"
            "   mov  %[a], %[lo]\n"
            "1: cmp  %[a], %[hi]\n"
            "   ble  2f\n"
            "   mov  %[a], %[hi]\n"
            "2:\n"
            "   .syntax divided\n"
            : [a] "+l"(acc), [al] "=&l"(al), [mh] "=&l"(mh), [ml] "=&l"(ml), [x] "=&l"(x)
            : [q] "l"(q), [lo] "r"(lo), [hi] "r"(hi), "m"(*(const int32_t(*)[4])q)
            : "cc");
    return acc;
#else
    int32_t v = pb_v6m_mulhi_round((int32_t)((uint32_t)acc << 1), q[1]);
    v = (v - (int32_t)((uint32_t)v >> 31) + q[3]) >> q[2];
    return PB_CLAMP(v, lo, hi);
#endif
}

/* One int8 output from an accumulator (the bias already in it) and its channel's quant
 * words q. mode is a constant at every call site. */
static PB_ALWAYS_INLINE int8_t pb_v6m_out(int32_t acc, const int32_t *q, pb_v6m_out_t o, int mode)
{
    int32_t v;
    if (mode == PB_V6M_REQUANT_FAST) {
        return (int8_t)pb_v6m_fast(acc, q, o.act_min, o.act_max);
    }
    v = pb_mul_by_quantized_mult(acc, q[1], q[2]) + o.output_offset;
    return (int8_t)PB_CLAMP(v, o.act_min, o.act_max);
}

/* acc[r][c] += sum over n taps (a multiple of 8, at least 8) of w[2 * k + c] * x_r[k]:
 * two rows of unsigned bytes x0, x1 against two channels' unsigned bytes interleaved tap
 * by tap, in uint32 (the products and sums wrap as the layouts' offsets expect). 13
 * instructions per tap (4 loads, 1 move, 4 multiplies, 4 adds into high registers), 6 per
 * 16 taps of loop. */
/* One tap of pb_v6m_dot2x2: x bytes at offset k, the two channels' weights at w0 and w1.
 * Written out (no .irp) so the compiler counts every instruction when it sizes branches. */
#define PB_V6M_TAP2X2(k, w0, w1)                 \
    "   ldrb %[u], [%[x0], #" k "]\n"           \
    "   ldrb %[t], [%[w], #" w0 "]\n"           \
    "   movs %[s], %[u]\n"                      \
    "   muls %[s], %[t]\n"                      \
    "   add  %[c00], %[s]\n"                    \
    "   ldrb %[v], [%[x1], #" k "]\n"           \
    "   muls %[t], %[v]\n"                      \
    "   add  %[c10], %[t]\n"                    \
    "   ldrb %[t], [%[w], #" w1 "]\n"           \
    "   muls %[u], %[t]\n"                      \
    "   add  %[c01], %[u]\n"                    \
    "   muls %[v], %[t]\n"                      \
    "   add  %[c11], %[v]\n"

static PB_ALWAYS_INLINE void pb_v6m_dot2x2(const uint8_t *x0, const uint8_t *x1, const uint8_t *w, int32_t n,
                                           uint32_t *a00, uint32_t *a01, uint32_t *a10, uint32_t *a11)
{
#if defined(PB_V6M_ASM)
    const uint8_t *end = x0 + n;
    uint32_t c00 = *a00, c01 = *a01, c10 = *a10, c11 = *a11, u, v, t, s;
    if (n & 8) { /* 8 taps once, then 16 per turn */
        __asm__("   .syntax unified\n"
                PB_V6M_TAP2X2("0", "0", "1") PB_V6M_TAP2X2("1", "2", "3") PB_V6M_TAP2X2("2", "4", "5")
                PB_V6M_TAP2X2("3", "6", "7") PB_V6M_TAP2X2("4", "8", "9") PB_V6M_TAP2X2("5", "10", "11")
                PB_V6M_TAP2X2("6", "12", "13") PB_V6M_TAP2X2("7", "14", "15")
                "   adds %[x0], #8\n"
                "   adds %[x1], #8\n"
                "   adds %[w], #16\n"
                "   .syntax divided\n"
                : [x0] "+l"(x0), [x1] "+l"(x1), [w] "+l"(w), [c00] "+h"(c00), [c01] "+h"(c01), [c10] "+h"(c10),
                  [c11] "+h"(c11), [u] "=&l"(u), [v] "=&l"(v), [t] "=&l"(t), [s] "=&l"(s)
                : "m"(*(const uint8_t(*)[8])x0), "m"(*(const uint8_t(*)[8])x1), "m"(*(const uint8_t(*)[16])w)
                : "cc");
    }
    if (x0 != end) {
        __asm__("   .syntax unified\n"
                "1:\n"
                PB_V6M_TAP2X2("0", "0", "1") PB_V6M_TAP2X2("1", "2", "3") PB_V6M_TAP2X2("2", "4", "5")
                PB_V6M_TAP2X2("3", "6", "7") PB_V6M_TAP2X2("4", "8", "9") PB_V6M_TAP2X2("5", "10", "11")
                PB_V6M_TAP2X2("6", "12", "13") PB_V6M_TAP2X2("7", "14", "15")
                PB_V6M_TAP2X2("8", "16", "17") PB_V6M_TAP2X2("9", "18", "19") PB_V6M_TAP2X2("10", "20", "21")
                PB_V6M_TAP2X2("11", "22", "23") PB_V6M_TAP2X2("12", "24", "25") PB_V6M_TAP2X2("13", "26", "27")
                PB_V6M_TAP2X2("14", "28", "29") PB_V6M_TAP2X2("15", "30", "31")
                "   adds %[x0], #16\n"
                "   adds %[x1], #16\n"
                "   adds %[w], #32\n"
                "   cmp  %[x0], %[end]\n"
                "   beq  2f\n"
                "   b    1b\n" /* a conditional branch reaches 256 bytes back, the loop is 426 */
                "2:\n"
                "   .syntax divided\n"
                : [x0] "+l"(x0), [x1] "+l"(x1), [w] "+l"(w), [c00] "+h"(c00), [c01] "+h"(c01), [c10] "+h"(c10),
                  [c11] "+h"(c11), [u] "=&l"(u), [v] "=&l"(v), [t] "=&l"(t), [s] "=&l"(s)
                : [end] "h"(end), "m"(*(const uint8_t(*)[])x0), "m"(*(const uint8_t(*)[])x1),
                  "m"(*(const uint8_t(*)[])w)
                : "cc");
    }
    *a00 = c00;
    *a01 = c01;
    *a10 = c10;
    *a11 = c11;
#else
    uint32_t c00 = *a00, c01 = *a01, c10 = *a10, c11 = *a11;
    int32_t k;
    for (k = 0; k < n; ++k) {
        c00 += (uint32_t)x0[k] * w[2 * k];
        c01 += (uint32_t)x0[k] * w[2 * k + 1];
        c10 += (uint32_t)x1[k] * w[2 * k];
        c11 += (uint32_t)x1[k] * w[2 * k + 1];
    }
    *a00 = c00;
    *a01 = c01;
    *a10 = c10;
    *a11 = c11;
#endif
}

/* One tap of pb_v6m_dw3x3_pair: weight word at byte offset wo, the plane row's bytes at
 * offsets k and k + 1 (the two outputs' inputs). */
#define PB_V6M_DWTAP(wo, k, k1)                  \
    "   ldr  %[t], [%[w], #" wo "]\n"           \
    "   ldrb %[u], [%[r], #" k "]\n"            \
    "   ldrb %[v], [%[r], #" k1 "]\n"           \
    "   muls %[u], %[t]\n"                      \
    "   add  %[a0], %[u]\n"                     \
    "   muls %[v], %[t]\n"                      \
    "   add  %[a1], %[v]\n"

/* Two neighbouring outputs of a 3x3 window, stride and dilation 1, over a plane of
 * unsigned bytes: rows r, r + pw, r + 2 * pw, weights w[0..8] as words. 7 instructions
 * per tap for both outputs. */
static PB_ALWAYS_INLINE void pb_v6m_dw3x3_pair(const uint8_t *r, int32_t pw, const int32_t *w, int32_t bias,
                                               int32_t *out0, int32_t *out1)
{
#if defined(PB_V6M_ASM)
    int32_t a0 = bias, a1 = bias;
    uint32_t t, u, v;
    __asm__("   .syntax unified\n"
            PB_V6M_DWTAP("0", "0", "1") PB_V6M_DWTAP("4", "1", "2") PB_V6M_DWTAP("8", "2", "3")
            "   add  %[r], %[pw]\n"
            PB_V6M_DWTAP("12", "0", "1") PB_V6M_DWTAP("16", "1", "2") PB_V6M_DWTAP("20", "2", "3")
            "   add  %[r], %[pw]\n"
            PB_V6M_DWTAP("24", "0", "1") PB_V6M_DWTAP("28", "1", "2") PB_V6M_DWTAP("32", "2", "3")
            "   .syntax divided\n"
            : [r] "+l"(r), [a0] "+h"(a0), [a1] "+h"(a1), [t] "=&l"(t), [u] "=&l"(u), [v] "=&l"(v)
            : [w] "l"(w), [pw] "r"(pw), "m"(*(const int32_t(*)[9])w), "m"(*(const uint8_t(*)[])r)
            : "cc");
    *out0 = a0;
    *out1 = a1;
#else
    uint32_t s0 = (uint32_t)bias, s1 = (uint32_t)bias;
    int32_t ky;
    for (ky = 0; ky < 3; ++ky, r += pw, w += 3) {
        s0 += (uint32_t)w[0] * r[0] + (uint32_t)w[1] * r[1] + (uint32_t)w[2] * r[2];
        s1 += (uint32_t)w[0] * r[1] + (uint32_t)w[1] * r[2] + (uint32_t)w[2] * r[3];
    }
    *out0 = (int32_t)s0;
    *out1 = (int32_t)s1;
#endif
}

#endif /* PB_V6M_H */
