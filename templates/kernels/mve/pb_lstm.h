/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 with an int16 cell state, Helium (MVE) tier for the
 * Cortex-M55: the portable kernel's unit-by-unit step with its gate rows multiplied by
 * VMLADAVA, 16 int8 products per instruction, four rows (one unit's gates) per pass over
 * the input. Bit-exact with TensorFlow Lite Micro; the 16x8 form stays portable.
 *
 * The generator (protobrain/compiler/ops/tiers/recurrent.py) packs each unit's four gate
 * rows (input, forget, cell, output) one after another, each zero-padded to 16 bytes, and
 * pairs each row's two constants (input and recurrent layer, the input offsets folded in).
 * pb_mve_dot4() and the requantization helpers also serve the SVDF (pb_svdf.c). */
#ifndef PB_MVE_LSTM_H
#define PB_MVE_LSTM_H

#include "pb_common.h"

typedef struct {
    int32_t batches, steps, input_size, units;
    int32_t time_major;
    int32_t input_words, unit_words;  /* one packed row: input_size and units rounded up to 16 bytes */
    const int32_t *w_input;           /* [units][4 gates][input_words] int8 */
    const int32_t *w_recurrent;       /* [units][4 gates][unit_words] int8 */
    const int32_t *bias;              /* [units][4 gates][2]: input row's and recurrent row's constant */
    const int32_t *mults, *shifts;    /* per gate: the 4 input layers', then the 4 recurrent ones' */
    int32_t cell_tanh_mult, cell_tanh_shift;
    int32_t forget_mult, forget_shift;
    int32_t update_mult, update_shift;
    int32_t hidden_mult, hidden_shift, hidden_zp, hidden_min, hidden_max;
    int32_t cell_clip;
    int32_t fast;                     /* every requantization as one rounded high multiply (see pb_lstm.c) */
    const uint16_t *sigmoid;
} pb_fast_mve_lstm_params_t;

void pb_fast_mve_lstm_s8(const pb_fast_mve_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                         const int16_t *cell, int8_t *output);

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* Saturation to int16 and int8: one SSAT each on the core. */
static inline int32_t pb_lstm_sat16(int32_t v)
{
#if defined(__ARM_FEATURE_DSP)
    return __ssat(v, 16);
#else
    return PB_CLAMP(v, -32768, 32767);
#endif
}

static inline int32_t pb_lstm_sat8(int32_t v)
{
#if defined(__ARM_FEATURE_DSP)
    return __ssat(v, 8);
#else
    return PB_CLAMP(v, -128, 127);
#endif
}

/* (a * b + 2^31) >> 32 */
static inline int32_t pb_lstm_smmulr(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* TFLite's MultiplyByQuantizedMultiplier. With fast set, the generator proved no shift a
 * left shift and every |2 * acc| below 2^31: the rounded high multiply of 2 * acc is then
 * the saturating rounding doubling high multiply exactly, and subtracting 1 from negative
 * values before the rounding shift rounds their halves away from zero, as the reference. */
static inline int32_t pb_lstm_requant(int32_t acc, int32_t mult, int32_t shift, int32_t fast)
{
    if (fast) {
        const int32_t v = pb_lstm_smmulr((int32_t)((uint32_t)acc << 1), mult);
        if (shift == 0) {
            return v;
        }
        return (v - (int32_t)((uint32_t)v >> 31) + ((int32_t)1 << (-shift - 1))) >> -shift;
    }
    return pb_mul_by_quantized_mult(acc, mult, shift);
}


/* acc[k] += the dot product of x (n int8 values) with row k of w, k < 4: rows of `words`
 * packed words each, zero beyond n. The last 1..16 values of x are read under a tail
 * predicate, never past its end. */
static inline __attribute__((always_inline)) void pb_mve_dot4(const int8_t *x, int32_t n, const int32_t *w,
                                                              int32_t words, int32_t *acc)
{
    const int8_t *w0 = (const int8_t *)w, *w1 = w0 + 4 * words, *w2 = w1 + 4 * words, *w3 = w2 + 4 * words;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t k;
    for (k = 0; k < n; k += 16) {
        const int8x16_t xv = vldrbq_z_s8(x + k, vctp8q((uint32_t)(n - k)));
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w0 + k));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1 + k));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w2 + k));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w3 + k));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

#endif /* PB_MVE_LSTM_H */
