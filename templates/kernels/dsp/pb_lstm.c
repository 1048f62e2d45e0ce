/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8, DSP tier (see pb_lstm.h): the fast tiers' step
 * (pb_fast_recurrent.h) over this tier's dot product; with the wide rows, the step's input
 * and hidden vectors sign-extended once per step rather than once per unit. */
#include "pb_lstm.h"

/* The widened step takes input and hidden vectors of at most this many values; longer ones
 * take the general step. */
#define PB_DSP_LSTM_WIDEN_MAX 128
/* Units per pass of the widened step: their accumulators on the stack, 1 KiB. */
#define PB_DSP_LSTM_CHUNK 32

/* n int8 values of x as SXTB16's two halves of each word, (0, 2) then (1, 3), the last
 * word's values past n zero: what SMLAD takes against a wide row's two words. */
static void pb_dsp_lstm_widen(uint32_t *buf, const int8_t *x, int32_t n)
{
    const int32_t words = n >> 2;
    int32_t i;
    for (i = 0; i < words; ++i) {
        const uint32_t v = pb_load32(x + 4 * i);
        buf[2 * i] = pb_sxtb16(v);
        buf[2 * i + 1] = pb_sxtb16_hi(v);
    }
    if (n & 3) {
        uint32_t v = 0;
        for (i = 0; i < (n & 3); ++i) {
            v |= (uint32_t)(uint8_t)x[4 * words + i] << (8 * i);
        }
        buf[2 * words] = pb_sxtb16(v);
        buf[2 * words + 1] = pb_sxtb16_hi(v);
    }
}

/* One widened word of x (two LDRD-loaded halves) into the four rows' accumulators. */
#define PB_DSP_LSTM_STEP()                                                                         \
    do {                                                                                           \
        uint32_t xl_, xh_, lo_, hi_;                                                               \
        pb_ldrd_post(&xp, &xl_, &xh_);                                                             \
        pb_ldrd_post(wp, &lo_, &hi_);                                                              \
        a0 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a0));                                           \
        pb_ldrd_post(wp, &lo_, &hi_);                                                              \
        a1 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a1));                                           \
        pb_ldrd_post(wp, &lo_, &hi_);                                                              \
        a2 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a2));                                           \
        pb_ldrd_post(wp, &lo_, &hi_);                                                              \
        a3 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a3));                                           \
    } while (0)

/* acc[k] = bias[k] + the dot product of the widened x (`words` words of x, two buffer words
 * each) with the wide row k at *wp, k < 4; *wp moves past the four rows. Two words per pass. */
static PB_ALWAYS_INLINE void pb_dsp_lstm_dot4(const uint32_t *x, int32_t words, const void **wp, const int32_t *bias,
                                              int32_t *acc)
{
    const void *xp = x;
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
    int32_t k;
    if (words & 1) {
        PB_DSP_LSTM_STEP();
    }
    for (k = words >> 1; k > 0; --k) {
        PB_DSP_LSTM_STEP();
        PB_DSP_LSTM_STEP();
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* The step of pb_fast_lstm_s8_with for the wide rows, the input and hidden vectors widened
 * (pb_dsp_lstm_widen) once per step. */
static void pb_dsp_lstm_s8_widened(const pb_fast_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                                   const int16_t *cell, int8_t *output)
{
    const int32_t n = p->units, depth = p->input_size;
    const int32_t xwords = (depth + 3) >> 2, hwords = (n + 3) >> 2;
    uint32_t xb[PB_DSP_LSTM_WIDEN_MAX / 2], hb[PB_DSP_LSTM_WIDEN_MAX / 2];
    int32_t acc[PB_DSP_LSTM_CHUNK][8];
    int32_t b, t, u0, u;
    for (b = 0; b < p->batches; ++b) {
        int8_t *h = (int8_t *)hidden + b * n;
        int16_t *c = (int16_t *)cell + b * n;
        for (t = 0; t < p->steps; ++t) {
            const int32_t row = p->time_major ? t * p->batches + b : b * p->steps + t;
            int8_t *out = output + row * n;
            const void *wi = p->w_input, *wr = p->w_recurrent;
            const int32_t *bias = p->bias;
            pb_dsp_lstm_widen(xb, input + row * depth, depth);
            pb_dsp_lstm_widen(hb, h, n);
            for (u0 = 0; u0 < n; u0 += PB_DSP_LSTM_CHUNK) {
                const int32_t count = n - u0 < PB_DSP_LSTM_CHUNK ? n - u0 : PB_DSP_LSTM_CHUNK;
                for (u = 0; u < count; ++u, bias += 8) {
                    pb_dsp_lstm_dot4(xb, xwords, &wi, bias, acc[u]);
                    pb_dsp_lstm_dot4(hb, hwords, &wr, bias + 4, acc[u] + 4);
                }
                pb_fast_lstm_finish(p, count, acc, c + u0, out + u0);
            }
            /* every unit has read the old hidden state (from hb): the new one replaces it */
            memcpy(h, out, (size_t)n);
        }
    }
}

void pb_fast_lstm_s8(const pb_fast_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                     const int16_t *cell, int8_t *output)
{
    if (p->wide && p->input_size <= PB_DSP_LSTM_WIDEN_MAX && p->units <= PB_DSP_LSTM_WIDEN_MAX) {
        pb_dsp_lstm_s8_widened(p, input, hidden, cell, output);
    } else if (p->wide) {
        pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_dsp_dot4_wide, pb_fast_lstm_finish);
    } else {
        pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_dsp_dot4, pb_fast_lstm_finish);
    }
}
