/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 with an int16 cell state, DSP tier (Cortex-M4/M7/M33;
 * plain C elsewhere through pb_simd.h): the portable kernel's unit-by-unit step with its
 * gate rows multiplied by SXTB16 + SMLAD, four rows (one unit's gates) per pass over the
 * input. Bit-exact with TensorFlow Lite Micro; the 16x8 form stays portable.
 *
 * The generator (protobrain/compiler/ops/tiers/recurrent.py) packs each unit's four gate
 * rows (input, forget, cell, output) one after another, each zero-padded to whole words,
 * and pairs each row's two constants (input and recurrent layer, the input offsets folded
 * in). pb_dsp_dot4() and the requantization helpers also serve the SVDF (pb_svdf.c). */
#ifndef PB_DSP_LSTM_H
#define PB_DSP_LSTM_H

#include <string.h>

#include "pb_common.h"
#include "pb_simd.h"

typedef struct {
    int32_t batches, steps, input_size, units;
    int32_t time_major;
    int32_t input_words, unit_words;  /* one packed row: input_size and units rounded up to 4 bytes */
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
} pb_fast_lstm_params_t;

void pb_fast_lstm_s8(const pb_fast_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                     const int16_t *cell, int8_t *output);

/* Saturation to int16 and int8: one SSAT each on the core. */
static inline int32_t pb_lstm_sat16(int32_t v)
{
#if defined(PB_SIMD_DSP)
    return __ssat(v, 16);
#else
    return PB_CLAMP(v, -32768, 32767);
#endif
}

static inline int32_t pb_lstm_sat8(int32_t v)
{
#if defined(PB_SIMD_DSP)
    return __ssat(v, 8);
#else
    return PB_CLAMP(v, -128, 127);
#endif
}

/* TFLite's MultiplyByQuantizedMultiplier. With fast set, the generator proved no shift a
 * left shift and every |2 * acc| below 2^31: the rounded high multiply of 2 * acc is then
 * the saturating rounding doubling high multiply exactly, and subtracting 1 from negative
 * values before the rounding shift rounds their halves away from zero, as the reference. */
static inline int32_t pb_lstm_requant(int32_t acc, int32_t mult, int32_t shift, int32_t fast)
{
    if (fast) {
        const int32_t v = pb_smmulr((int32_t)((uint32_t)acc << 1), mult);
        if (shift == 0) {
            return v;
        }
        return (v - (int32_t)((uint32_t)v >> 31) + ((int32_t)1 << (-shift - 1))) >> -shift;
    }
    return pb_mul_by_quantized_mult(acc, mult, shift);
}

/* acc[k] += the dot product of x (n int8 values, any alignment) with row k of w, k < 4:
 * rows of `words` packed words each, zero beyond n. The last partial word of x is read
 * byte by byte, never past its end. Sums wrap like int32 accumulators. */
/* one word of x (four int8 values) into the four rows' accumulators */
#define PB_DSP_MAC4(xv, i)                                                                         \
    do {                                                                                           \
        const uint32_t xl_ = pb_sxtb16(xv), xh_ = pb_sxtb16_hi(xv);                                \
        uint32_t v_ = (uint32_t)w[i];                                                              \
        a0 = pb_smlad(pb_sxtb16_hi(v_), xh_, pb_smlad(pb_sxtb16(v_), xl_, a0));                    \
        v_ = (uint32_t)w1[i];                                                                      \
        a1 = pb_smlad(pb_sxtb16_hi(v_), xh_, pb_smlad(pb_sxtb16(v_), xl_, a1));                    \
        v_ = (uint32_t)w2[i];                                                                      \
        a2 = pb_smlad(pb_sxtb16_hi(v_), xh_, pb_smlad(pb_sxtb16(v_), xl_, a2));                    \
        v_ = (uint32_t)w3[i];                                                                      \
        a3 = pb_smlad(pb_sxtb16_hi(v_), xh_, pb_smlad(pb_sxtb16(v_), xl_, a3));                    \
    } while (0)

static PB_ALWAYS_INLINE void pb_dsp_dot4(const int8_t *x, int32_t n, const int32_t *w, int32_t words, int32_t *acc)
{
    const int32_t *w1 = w + words, *w2 = w1 + words, *w3 = w2 + words;
    const int32_t full = n >> 2, rest = n & 3;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i;
    for (i = 0; i < full; ++i) {
        const uint32_t xv = pb_load32(x + 4 * i);
        PB_DSP_MAC4(xv, i);
    }
    if (rest) {
        uint32_t xv = 0;
        memcpy(&xv, x + 4 * full, (size_t)rest);
        PB_DSP_MAC4(xv, full);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#endif /* PB_DSP_LSTM_H */
