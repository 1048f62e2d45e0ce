/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 with an int16 cell state, DSP tier (Cortex-M4/M7/M33;
 * plain C elsewhere through pb_simd.h): the portable kernel's unit-by-unit step with its
 * gate rows multiplied by SXTB16 + SMLAD, four rows (one unit's gates) per pass over the
 * input. Bit-exact with TensorFlow Lite Micro; the 16x8 form stays portable.
 *
 * The step, its parameters' layout (rows packed in words, zero-padded to 4 bytes) and its
 * cell arithmetic are the fast tiers' (pb_fast_recurrent.h); this tier brings the dot
 * products, pb_dsp_dot4() and, for rows stored as int16 (wide, --optimize), pb_dsp_dot4_wide(),
 * which also serve the SVDF (pb_svdf.c). */
#ifndef PB_DSP_LSTM_H
#define PB_DSP_LSTM_H

#include <string.h>

#include "pb_common.h"
#include "pb_fast_recurrent.h"
#include "pb_ldrd.h"
#include "pb_rows4.h"
#include "pb_simd.h"

void pb_fast_lstm_s8(const pb_fast_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                     const int16_t *cell, int8_t *output);

/* acc[k] += the dot product of x (n int8 values, any alignment) with row k of w, k < 4:
 * four rows of `words` packed words each, zero beyond n, interleaved word by word (row 0's
 * word i, row 1's, row 2's, row 3's), so one pointer walks them. The last partial word of x
 * is read byte by byte, never past its end. Sums wrap like int32 accumulators. */
/* one word of x (four int8 values) into the four rows' accumulators */
#define PB_DSP_MAC4(xv)                                                                            \
    do {                                                                                           \
        const uint32_t xl_ = pb_sxtb16(xv), xh_ = pb_sxtb16_hi(xv);                                \
        const uint32_t v0_ = (uint32_t)w[0], v1_ = (uint32_t)w[1];                                 \
        const uint32_t v2_ = (uint32_t)w[2], v3_ = (uint32_t)w[3];                                 \
        a0 = pb_smlad(pb_sxtb16_hi(v0_), xh_, pb_smlad(pb_sxtb16(v0_), xl_, a0));                  \
        a1 = pb_smlad(pb_sxtb16_hi(v1_), xh_, pb_smlad(pb_sxtb16(v1_), xl_, a1));                  \
        a2 = pb_smlad(pb_sxtb16_hi(v2_), xh_, pb_smlad(pb_sxtb16(v2_), xl_, a2));                  \
        a3 = pb_smlad(pb_sxtb16_hi(v3_), xh_, pb_smlad(pb_sxtb16(v3_), xl_, a3));                  \
        w += 4;                                                                                    \
    } while (0)

static PB_ALWAYS_INLINE void pb_dsp_dot4(const int8_t *x, int32_t n, const int32_t *w, int32_t words, int32_t *acc)
{
    const int8_t *end = x + (n & ~3);
    const int32_t rest = n & 3;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    (void)words;
    while (x != end) {
        const uint32_t xv = pb_load32(x);
        x += 4;
        PB_DSP_MAC4(xv);
    }
    if (rest) {
        uint32_t xv = 0;
        memcpy(&xv, x, (size_t)rest);
        PB_DSP_MAC4(xv);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* The same with the wide rows (the parameters' `wide`): each row's word i as two words of
 * int16 pairs, values (0, 2) and (1, 3), against SXTB16's halves of x's word; eight words
 * per word of x, the four rows' pairs one after another, each pair one LDRD. */
#define PB_DSP_MAC4_WIDE(xv)                                                                       \
    do {                                                                                           \
        const uint32_t xl_ = pb_sxtb16(xv), xh_ = pb_sxtb16_hi(xv);                                \
        uint32_t lo_, hi_;                                                                         \
        pb_ldrd_post(&wp, &lo_, &hi_);                                                             \
        a0 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a0));                                           \
        pb_ldrd_post(&wp, &lo_, &hi_);                                                             \
        a1 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a1));                                           \
        pb_ldrd_post(&wp, &lo_, &hi_);                                                             \
        a2 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a2));                                           \
        pb_ldrd_post(&wp, &lo_, &hi_);                                                             \
        a3 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a3));                                           \
    } while (0)

static PB_ALWAYS_INLINE void pb_dsp_dot4_wide(const int8_t *x, int32_t n, const int32_t *w, int32_t words,
                                              int32_t *acc)
{
    const int8_t *end = x + (n & ~3);
    const int32_t rest = n & 3;
    const void *wp = w;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    (void)words;
    while (x != end) {
        const uint32_t xv = pb_load32(x);
        x += 4;
        PB_DSP_MAC4_WIDE(xv);
    }
    if (rest) {
        uint32_t xv = 0;
        memcpy(&xv, x, (size_t)rest);
        PB_DSP_MAC4_WIDE(xv);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}


#endif /* PB_DSP_LSTM_H */
