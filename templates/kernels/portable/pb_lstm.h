/* UNIDIRECTIONAL_SEQUENCE_LSTM, integer: int8 activations with an int16 cell state
 * (pb_lstm_s8), or int16 activations with int8 weights and int64 bias (pb_lstm_s16).
 * Bit-exact with TensorFlow Lite Micro's integer LSTM.
 *
 * Gates are numbered input, forget, cell, output; the weights of all four are stacked into
 * one [4 * units][input_size] matrix (input) and one [4 * units][units] matrix
 * (recurrent), so each step's gate layers are two matrix multiplies. The input offsets are
 * folded into the per-row constants bias_input and bias_recurrent by the generator
 * (protobrain/compiler/ops/lstm.py). The hidden and cell states are the model's variable
 * tensors, updated in place; a step's new hidden values wait in its output row until every
 * unit has read the old ones, so the kernel needs no scratch. */
#ifndef PB_LSTM_H
#define PB_LSTM_H

#include "pb_common.h"

typedef struct {
    int32_t batches, steps, input_size, units;
    int32_t time_major;               /* input [steps][batches][input_size], else [batches][steps][...] */
    const int8_t *w_input;            /* [4 * units][input_size] */
    const int8_t *w_recurrent;        /* [4 * units][units] */
    const int32_t *bias_input;        /* int8 form: bias + input_offset * row sum */
    const int32_t *bias_recurrent;    /* int8 form: hidden_offset * row sum */
    const int64_t *bias64_input;      /* int16 form */
    const int64_t *bias64_recurrent;
    const int32_t *mults, *shifts;    /* per gate: the 4 input layers', then the 4 recurrent ones' */
    int32_t cell_tanh_mult, cell_tanh_shift;  /* tanh(cell state): its input rescaling */
    int32_t forget_mult, forget_shift;        /* forget gate * cell state -> cell scale */
    int32_t update_mult, update_shift;        /* input gate * cell gate -> cell scale */
    int32_t hidden_mult, hidden_shift, hidden_zp, hidden_min, hidden_max; /* tanh(c) * o -> hidden */
    int32_t cell_clip;                /* the cell state is clipped to [-cell_clip, cell_clip]; -1: not */
    const uint16_t *sigmoid;          /* 256 nodes of sigmoid on a 1/24 grid, Q0.16 */
} pb_lstm_params_t;

void pb_lstm_s8(const pb_lstm_params_t *p, const int8_t *input, const int8_t *hidden, const int16_t *cell,
                int8_t *output);
void pb_lstm_s16(const pb_lstm_params_t *p, const int16_t *input, const int16_t *hidden, const int16_t *cell,
                 int16_t *output);

#endif /* PB_LSTM_H */
