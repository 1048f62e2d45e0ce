/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8, DSP tier (see pb_lstm.h). The cell arithmetic is the
 * portable kernel's, as TFLite Micro computes it. */
#include "pb_lstm.h"

/* int16 sigmoid, Q3.12 in, Q0.15 out (the portable kernel's, see portable/pb_lstm.c). */
static int32_t pb_lstm_sigmoid(const uint16_t *table, int32_t x)
{
    const int32_t v = x * 3;
    const uint32_t ax = (uint32_t)(v < 0 ? -v : v);
    const uint32_t node = ax >> 9;
    uint32_t r = 0x7FFFu << 10;
    if (node < 255u) {
        const uint32_t a = table[node];
        r = (a << 9) + (ax & 0x1FFu) * (table[node + 1u] - a);
    }
    r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
    return (int32_t)(r >> 10);
}

/* int16 tanh to Q0.15, the input rescaled by (x * mult + round) >> shift. */
static int32_t pb_lstm_tanh(const uint16_t *table, int32_t x, int32_t mult, int32_t shift)
{
    const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    const int32_t v = (x * mult + round) >> shift;
    const uint32_t ax = (uint32_t)(v < 0 ? -v : v);
    const uint32_t node = ax >> 8;
    int32_t r = 0xFFFF << 8;
    if (node < 255u) {
        const uint32_t a = table[node];
        r = (int32_t)((a << 8) + (ax & 0xFFu) * (table[node + 1u] - a));
    }
    r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return r >> 8;
}

/* One unit of one step from its four gates' accumulators (input layer's, recurrent
 * layer's, per gate): updates its cell state and returns its new hidden value. */
static int32_t pb_lstm_unit(const pb_fast_lstm_params_t *p, const int32_t *acc_in, const int32_t *acc_rec,
                            int16_t *cell)
{
    const int32_t fast = p->fast;
    int32_t g[4], k, c;
    for (k = 0; k < 4; ++k) {
        g[k] = pb_lstm_sat16(pb_lstm_sat16(pb_lstm_requant(acc_in[k], p->mults[k], p->shifts[k], fast)) +
                             pb_lstm_sat16(pb_lstm_requant(acc_rec[k], p->mults[4 + k], p->shifts[4 + k], fast)));
    }
    g[0] = pb_lstm_sigmoid(p->sigmoid, g[0]);
    g[1] = pb_lstm_sigmoid(p->sigmoid, g[1]);
    g[2] = pb_lstm_tanh(p->sigmoid, g[2], 3, 0);
    g[3] = pb_lstm_sigmoid(p->sigmoid, g[3]);
    c = pb_lstm_sat16(pb_lstm_requant(g[1] * *cell, p->forget_mult, p->forget_shift, fast)) +
        pb_lstm_sat16(pb_lstm_requant(g[0] * g[2], p->update_mult, p->update_shift, fast));
    c = pb_lstm_sat16(c);
    if (p->cell_clip >= 0) {
        c = PB_CLAMP(c, -p->cell_clip, p->cell_clip);
    }
    *cell = (int16_t)c;
    c = pb_lstm_tanh(p->sigmoid, c, p->cell_tanh_mult, p->cell_tanh_shift);
    /* the int8 hidden state's range is int8's whole range (hidden_min, hidden_max) */
    return pb_lstm_sat8(p->hidden_zp + pb_lstm_requant(c * g[3], p->hidden_mult, p->hidden_shift, fast));
}

void pb_fast_lstm_s8(const pb_fast_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                     const int16_t *cell, int8_t *output)
{
    const int32_t n = p->units, depth = p->input_size;
    int32_t b, t, u, k;
    for (b = 0; b < p->batches; ++b) {
        int8_t *h = (int8_t *)hidden + b * n;
        int16_t *c = (int16_t *)cell + b * n;
        for (t = 0; t < p->steps; ++t) {
            const int32_t row = p->time_major ? t * p->batches + b : b * p->steps + t;
            const int8_t *x = input + row * depth;
            int8_t *out = output + row * n;
            const int32_t *wi = p->w_input, *wr = p->w_recurrent, *bias = p->bias;
            for (u = 0; u < n; ++u) {
                int32_t acc_in[4], acc_rec[4];
                for (k = 0; k < 4; ++k) {
                    acc_in[k] = bias[2 * k];
                    acc_rec[k] = bias[2 * k + 1];
                }
                pb_dsp_dot4(x, depth, wi, p->input_words, acc_in);
                pb_dsp_dot4(h, n, wr, p->unit_words, acc_rec);
                out[u] = (int8_t)pb_lstm_unit(p, acc_in, acc_rec, c + u);
                wi += 4 * p->input_words;
                wr += 4 * p->unit_words;
                bias += 8;
            }
            /* every unit has read the old hidden state: the new one replaces it */
            memcpy(h, out, (size_t)n);
        }
    }
}
