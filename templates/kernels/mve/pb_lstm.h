/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 with an int16 cell state, Helium (MVE) tier for the
 * Cortex-M55: the portable kernel's unit-by-unit step with its gate rows multiplied by
 * VMLADAVA, 16 int8 products per instruction, four rows (one unit's gates) per pass over
 * the input. Bit-exact with TensorFlow Lite Micro; the 16x8 form stays portable.
 *
 * The step, its parameters' layout (rows zero-padded to 16 bytes) and its cell arithmetic
 * are the fast tiers' (pb_fast_recurrent.h); this tier brings the dot product,
 * pb_mve_dot4(), which also serves the SVDF (pb_svdf.c). */
#ifndef PB_MVE_LSTM_H
#define PB_MVE_LSTM_H

#include "pb_common.h"
#include "pb_fast_recurrent.h"

typedef pb_fast_lstm_params_t pb_fast_mve_lstm_params_t;

void pb_fast_mve_lstm_s8(const pb_fast_mve_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                         const int16_t *cell, int8_t *output);

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

/* Four rows' multiply-accumulates for the inline assembly of pb_lstm.c and pb_svdf.c: the
 * vector register x against the next four 16-byte row vectors at the pointer operand w
 * (post-incremented), into r0, r2, r8 and r10 (VMLADAV writes only even registers); t0 and
 * t1 are the vector registers the rows load into. */
#define PB_MVE_ROWS4(x, w, t0, t1)                                                             \
    "vldrb.8 " t0 ", [%[" w "]], #16\n\tvmladava.s8 r0, " x ", " t0 "\n\t"                    \
    "vldrb.8 " t1 ", [%[" w "]], #16\n\tvmladava.s8 r2, " x ", " t1 "\n\t"                    \
    "vldrb.8 " t0 ", [%[" w "]], #16\n\tvmladava.s8 r8, " x ", " t0 "\n\t"                    \
    "vldrb.8 " t1 ", [%[" w "]], #16\n\tvmladava.s8 r10, " x ", " t1 "\n\t"

/* acc[k] += the dot product of x (n int8 values) with row k of w, k < 4: four rows of
 * `words` packed words each, zero beyond n, interleaved vector by vector (row 0's 16 bytes,
 * row 1's, row 2's, row 3's), so one pointer walks them. The last 1..16 values of x are
 * read under a tail predicate, never past its end. */
static inline __attribute__((always_inline)) void pb_mve_dot4(const int8_t *x, int32_t n, const int32_t *w,
                                                              int32_t words, int32_t *acc)
{
    const int8_t *wp = (const int8_t *)w;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t k;
    (void)words;
    /* whole vectors of x without a predicate, then the last 1..15 values under one */
    for (k = 0; k + 16 <= n; k += 16, wp += 64) {
        const int8x16_t xv = vldrbq_s8(x + k);
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(wp));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(wp + 16));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(wp + 32));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(wp + 48));
    }
    if (k < n) {
        const int8x16_t xv = vldrbq_z_s8(x + k, vctp8q((uint32_t)(n - k)));
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(wp));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(wp + 16));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(wp + 32));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(wp + 48));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

#endif /* PB_MVE_LSTM_H */
