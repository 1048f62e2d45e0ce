/* UNIDIRECTIONAL_SEQUENCE_LSTM, integer (see pb_lstm.h), as TFLite Micro computes it. */
#include "pb_lstm.h"

#include <string.h>

static int32_t pb_lstm_sat16(int32_t v)
{
    return PB_CLAMP(v, -32768, 32767);
}

/* int16 sigmoid, Q3.12 in, Q0.15 out: the input times 3 on the table's grid (1/24 per node
 * with 9 fraction bits), linear interpolation, sigmoid(-x) = 1 - sigmoid(x). */
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

/* int16 tanh to Q0.15: the input rescaled by (x * mult + round) >> shift to the grid of the
 * same table at half its step, tanh(x) = 2 * sigmoid(2x) - 1. */
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

/* One gate's pre-activation: the input layer and the recurrent layer, each requantized to
 * int16 on its own, added with saturation. */
static int16_t pb_lstm_gate(const pb_lstm_params_t *p, int32_t gate, int32_t acc_in, int32_t acc_rec)
{
    const int32_t a = pb_lstm_sat16(pb_mul_by_quantized_mult(acc_in, p->mults[gate], p->shifts[gate]));
    const int32_t b = pb_lstm_sat16(pb_mul_by_quantized_mult(acc_rec, p->mults[4 + gate], p->shifts[4 + gate]));
    return (int16_t)pb_lstm_sat16(a + b);
}

static int16_t pb_lstm_gate64(const pb_lstm_params_t *p, int32_t gate, int64_t acc_in, int64_t acc_rec)
{
    const int32_t a = pb_lstm_sat16(pb_mul_by_quantized_mult64(acc_in, p->mults[gate], p->shifts[gate]));
    const int32_t b = pb_lstm_sat16(pb_mul_by_quantized_mult64(acc_rec, p->mults[4 + gate], p->shifts[4 + gate]));
    return (int16_t)pb_lstm_sat16(a + b);
}

/* One unit of one step from its four gates' pre-activations (input, forget, cell, output):
 * updates its cell state and returns its new hidden value. */
static int32_t pb_lstm_unit(const pb_lstm_params_t *p, const int16_t *gates, int16_t *cell)
{
    const int32_t in = pb_lstm_sigmoid(p->sigmoid, gates[0]);
    const int32_t forget = pb_lstm_sigmoid(p->sigmoid, gates[1]);
    const int32_t cand = pb_lstm_tanh(p->sigmoid, gates[2], 3, 0);
    const int32_t out = pb_lstm_sigmoid(p->sigmoid, gates[3]);
    int32_t c = pb_lstm_sat16(pb_mul_by_quantized_mult(forget * *cell, p->forget_mult, p->forget_shift)) +
                pb_lstm_sat16(pb_mul_by_quantized_mult(in * cand, p->update_mult, p->update_shift));
    c = pb_lstm_sat16(c);
    if (p->cell_clip >= 0) {
        c = PB_CLAMP(c, -p->cell_clip, p->cell_clip);
    }
    *cell = (int16_t)c;
    c = pb_lstm_tanh(p->sigmoid, c, p->cell_tanh_mult, p->cell_tanh_shift);
    return PB_CLAMP(p->hidden_zp + pb_mul_by_quantized_mult(c * out, p->hidden_mult, p->hidden_shift), p->hidden_min,
                    p->hidden_max);
}

/* The row of input, and of output, of batch b at step t. */
static int32_t pb_lstm_row(const pb_lstm_params_t *p, int32_t b, int32_t t)
{
    return p->time_major ? t * p->batches + b : b * p->steps + t;
}

/* sum of w[k] * x[k] on top of acc, wrapping like the int32 accumulator it stands for */
static int32_t pb_lstm_dot_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t acc)
{
    uint32_t a = (uint32_t)acc;
    int32_t k;
    for (k = 0; k < n; ++k) {
        a += (uint32_t)(w[k] * x[k]);
    }
    return (int32_t)a;
}

static int64_t pb_lstm_dot_s16(const int8_t *w, const int16_t *x, int32_t n, int64_t acc)
{
    int32_t k;
    for (k = 0; k < n; ++k) {
        acc += (int32_t)w[k] * x[k];
    }
    return acc;
}

/* Unit by unit: its four gate rows of both matrices, then its cell. The new hidden values
 * go to the step's output row first, and to the hidden state once every unit has read the
 * old one. */
void pb_lstm_s8(const pb_lstm_params_t *p, const int8_t *input, const int8_t *hidden, const int16_t *cell,
                int8_t *output)
{
    const int32_t n = p->units, depth = p->input_size;
    int32_t b, t, u, k;
    for (b = 0; b < p->batches; ++b) {
        int8_t *h = (int8_t *)hidden + b * n;
        int16_t *c = (int16_t *)cell + b * n;
        for (t = 0; t < p->steps; ++t) {
            const int32_t row = pb_lstm_row(p, b, t);
            const int8_t *x = input + row * depth;
            int8_t *out = output + row * n;
            for (u = 0; u < n; ++u) {
                int16_t gates[4];
                for (k = 0; k < 4; ++k) {
                    const int32_t r = k * n + u;
                    gates[k] = pb_lstm_gate(p, k, pb_lstm_dot_s8(p->w_input + r * depth, x, depth, p->bias_input[r]),
                                            pb_lstm_dot_s8(p->w_recurrent + r * n, h, n, p->bias_recurrent[r]));
                }
                out[u] = (int8_t)pb_lstm_unit(p, gates, c + u);
            }
            memcpy(h, out, (size_t)n);
        }
    }
}

void pb_lstm_s16(const pb_lstm_params_t *p, const int16_t *input, const int16_t *hidden, const int16_t *cell,
                 int16_t *output)
{
    const int32_t n = p->units, depth = p->input_size;
    int32_t b, t, u, k;
    for (b = 0; b < p->batches; ++b) {
        int16_t *h = (int16_t *)hidden + b * n;
        int16_t *c = (int16_t *)cell + b * n;
        for (t = 0; t < p->steps; ++t) {
            const int32_t row = pb_lstm_row(p, b, t);
            const int16_t *x = input + row * depth;
            int16_t *out = output + row * n;
            for (u = 0; u < n; ++u) {
                int16_t gates[4];
                for (k = 0; k < 4; ++k) {
                    const int32_t r = k * n + u;
                    gates[k] = pb_lstm_gate64(p, k,
                                              pb_lstm_dot_s16(p->w_input + r * depth, x, depth, p->bias64_input[r]),
                                              pb_lstm_dot_s16(p->w_recurrent + r * n, h, n, p->bias64_recurrent[r]));
                }
                out[u] = (int16_t)pb_lstm_unit(p, gates, c + u);
            }
            memcpy(h, out, (size_t)n * sizeof(int16_t));
        }
    }
}
