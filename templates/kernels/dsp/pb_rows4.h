/* Four rows at a time against one vector, DSP tier: the vector widened once to int16 pairs
 * (pb_dsp_widen4), then per block of four rows a fully unrolled run of groups in one
 * assembly routine (pb_dsp_rows4_dots). Serves the LSTM's gates (pb_lstm.c, whose routine
 * runs two vectors per unit), the SVDF's features (pb_svdf.c) and a FULLY_CONNECTED on one
 * row (pb_conv.c). The rows are the wide rows of pb_fast_recurrent.h: per group of 4 values,
 * each of the four rows' two words of int16 pairs, values (0, 2) then (1, 3). */
#ifndef PB_DSP_ROWS4_H
#define PB_DSP_ROWS4_H

#include "pb_common.h"
#include "pb_simd.h"

/* n int8 values of x as SXTB16's two halves of each word, (0, 2) then (1, 3), the last
 * word's values past n zero: what SMLAD takes against a wide row's two words. On the DSP
 * extension two words per turn in assembly (10 instructions; LDR takes any alignment). */
static PB_NOINLINE void pb_dsp_widen4(uint32_t *buf, const int8_t *x, int32_t n)
{
    const int8_t *end = x + (n & ~3);
    int32_t i;
#if defined(PB_SIMD_DSP)
    if (n >= 8) {
        const int8_t *pairs_end = x + (n & ~7);
        uint32_t a, b, c, d;
        __asm__ volatile("1:\n\t"
                         "ldr    %[a], [%[x]], #4\n\t"
                         "ldr    %[b], [%[x]], #4\n\t"
                         "sxtb16 %[c], %[a]\n\t"
                         "sxtb16 %[d], %[a], ror #8\n\t"
                         "strd   %[c], %[d], [%[buf]], #8\n\t"
                         "sxtb16 %[c], %[b]\n\t"
                         "sxtb16 %[d], %[b], ror #8\n\t"
                         "strd   %[c], %[d], [%[buf]], #8\n\t"
                         "cmp    %[x], %[end]\n\t"
                         "bne    1b\n\t"
                         : [x] "+r"(x), [buf] "+r"(buf), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d)
                         : [end] "r"(pairs_end)
                         : "cc", "memory");
    }
#endif
    for (; x != end; x += 4, buf += 2) {
        const uint32_t v = pb_load32(x);
        buf[0] = pb_sxtb16(v);
        buf[1] = pb_sxtb16_hi(v);
    }
    if (n & 3) {
        uint32_t v = 0;
        for (i = 0; i < (n & 3); ++i) {
            v |= (uint32_t)(uint8_t)x[i] << (8 * i);
        }
        buf[0] = pb_sxtb16(v);
        buf[1] = pb_sxtb16_hi(v);
    }
}

typedef struct {
    const uint32_t *xb;  /* the widened vector (pb_dsp_widen4) */
    int32_t groups;      /* its groups of 4 values, 1..PB_DSP_ROWS4_GROUPS_MAX */
    int32_t blocks;      /* blocks of four rows, at least 1 */
    const void *w;       /* the blocks' rows, one block after another */
    const int32_t *bias; /* where each row's accumulator starts, four per block (may be acc) */
    int32_t *acc;        /* the rows' dot products plus bias, four per block */
} pb_dsp_rows4_t;

/* The longest vector the routine takes, in groups of 4 values. */
#define PB_DSP_ROWS4_GROUPS_MAX 32

#if defined(PB_SIMD_DSP)
/* One group: the vector's word pair (4 values, at r10) against the four rows' 8 words (at
 * r11, by LDM in the rows' order) into r0-r3. Every instruction 32-bit: 44 bytes, so a fully
 * unrolled run of groups is entered at its end less 44 bytes per group to go, and no loop
 * counts them. */
#define PB_DSP_GROUP                    \
    "ldrd    r4, r5, [r10], #8\n\t"     \
    "ldmia.w r11!, {r6-r9}\n\t"         \
    "smlad   r0, r6, r4, r0\n\t"        \
    "smlad   r0, r7, r5, r0\n\t"        \
    "smlad   r1, r8, r4, r1\n\t"        \
    "smlad   r1, r9, r5, r1\n\t"        \
    "ldmia.w r11!, {r6-r9}\n\t"         \
    "smlad   r2, r6, r4, r2\n\t"        \
    "smlad   r2, r7, r5, r2\n\t"        \
    "smlad   r3, r8, r4, r3\n\t"        \
    "smlad   r3, r9, r5, r3\n\t"
#define PB_DSP_GROUPS4 PB_DSP_GROUP PB_DSP_GROUP PB_DSP_GROUP PB_DSP_GROUP
#define PB_DSP_GROUPS16 PB_DSP_GROUPS4 PB_DSP_GROUPS4 PB_DSP_GROUPS4 PB_DSP_GROUPS4

void pb_dsp_rows4_dots(const pb_dsp_rows4_t *f);

/* Per block, the accumulators from its biases (LDM), the run, out by STM; frame: [0] the
 * vector, [4] the run's entry, [8] blocks left; r12 the biases, lr the accumulators. Every
 * file that includes this header assembles it, in one COMDAT group: the link keeps one. */
__asm__(".pushsection .text.pb_dsp_rows4_dots,\"axG\",%progbits,pb_dsp_rows4_dots,comdat\n\t"
        ".balign 4\n\t"
        ".weak pb_dsp_rows4_dots\n\t"
        ".type pb_dsp_rows4_dots, %function\n\t"
        ".syntax unified\n\t"
        ".thumb\n\t"
        ".thumb_func\n"
        "pb_dsp_rows4_dots:\n\t"
        "push    {r4-r11, lr}\n\t"
        "sub     sp, sp, #16\n\t"
        "ldm     r0, {r0-r5}\n\t"
        "movs    r6, #44\n\t"
        "adr.w   r7, 3f\n\t"
        "mls     r7, r1, r6, r7\n\t"
        "orr     r7, r7, #1\n\t"
        "str     r0, [sp]\n\t"
        "strd    r7, r2, [sp, #4]\n\t"
        "mov     r11, r3\n\t"
        "mov     r12, r4\n\t"
        "mov     lr, r5\n"
        "1:\n\t"
        "ldmia   r12!, {r0-r3}\n\t"
        "ldr     r10, [sp]\n\t"
        "ldr     r4, [sp, #4]\n\t"
        "bx      r4\n\t"
        PB_DSP_GROUPS16 PB_DSP_GROUPS16
        "3:\n\t"
        "stmia   lr!, {r0-r3}\n\t"
        "ldr     r4, [sp, #8]\n\t"
        "subs    r4, r4, #1\n\t"
        "str     r4, [sp, #8]\n\t"
        "bne     1b\n\t"
        "add     sp, sp, #16\n\t"
        "pop     {r4-r11, pc}\n\t"
        ".size pb_dsp_rows4_dots, . - pb_dsp_rows4_dots\n\t"
        ".popsection");
#else
/* The same in C, elsewhere than the DSP extension. */
static PB_NOINLINE void pb_dsp_rows4_dots(const pb_dsp_rows4_t *f)
{
    const uint32_t *w = (const uint32_t *)f->w;
    const int32_t *bias = f->bias;
    int32_t *acc = f->acc;
    int32_t b, g, k;
    for (b = 0; b < f->blocks; ++b, bias += 4, acc += 4) {
        int32_t a[4];
        for (k = 0; k < 4; ++k) {
            a[k] = bias[k];
        }
        for (g = 0; g < f->groups; ++g, w += 8) {
            const uint32_t xl = f->xb[2 * g], xh = f->xb[2 * g + 1];
            for (k = 0; k < 4; ++k) {
                a[k] = pb_smlad(w[2 * k + 1], xh, pb_smlad(w[2 * k], xl, a[k]));
            }
        }
        for (k = 0; k < 4; ++k) {
            acc[k] = a[k];
        }
    }
}
#endif

#endif /* PB_DSP_ROWS4_H */
