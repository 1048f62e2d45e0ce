/* UNIDIRECTIONAL_SEQUENCE_LSTM, integer (see pb_lstm.h), as TFLite Micro computes it. */
#include "pb_lstm.h"

#include <string.h>

#include "pb_lstm_cell.h"

/* One gate's pre-activation: the input layer and the recurrent layer, each requantized to
 * int16 on its own, added with saturation. */
static int16_t pb_lstm_gate(const pb_lstm_params_t *p, int32_t gate, int32_t acc_in, int32_t acc_rec)
{
    const int32_t a = pb_lstm_sat16(pb_mul_by_quantized_mult(acc_in, p->mults[gate], p->shifts[gate]), 0);
    const int32_t b = pb_lstm_sat16(pb_mul_by_quantized_mult(acc_rec, p->mults[4 + gate], p->shifts[4 + gate]), 0);
    return (int16_t)pb_lstm_sat16(a + b, 0);
}

static int16_t pb_lstm_gate64(const pb_lstm_params_t *p, int32_t gate, int64_t acc_in, int64_t acc_rec)
{
    const int32_t a = pb_lstm_sat16(pb_mul_by_quantized_mult64(acc_in, p->mults[gate], p->shifts[gate]), 0);
    const int32_t b = pb_lstm_sat16(pb_mul_by_quantized_mult64(acc_rec, p->mults[4 + gate], p->shifts[4 + gate]), 0);
    return (int16_t)pb_lstm_sat16(a + b, 0);
}

/* One unit of one step from its four gates' pre-activations (input, forget, cell, output):
 * updates its cell state (pb_lstm_cell.h, in TFLite's own steps) and returns its new hidden
 * value. */
static int32_t pb_lstm_unit(const pb_lstm_params_t *p, const int16_t *gates, int16_t *cell)
{
    int32_t g[4] = {gates[0], gates[1], gates[2], gates[3]};
    int32_t c;
    pb_lstm_activate(p->sigmoid, g);
    c = pb_lstm_cell(g, cell, p->forget_mult, p->forget_shift, p->update_mult, p->update_shift, p->cell_clip, 0, 0);
    c = pb_lstm_tanh(p->sigmoid, c, p->cell_tanh_mult, p->cell_tanh_shift);
    return PB_CLAMP(p->hidden_zp + pb_mul_by_quantized_mult(c * g[3], p->hidden_mult, p->hidden_shift), p->hidden_min,
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
