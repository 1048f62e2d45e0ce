/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8, DSP tier (see pb_lstm.h): the fast tiers' step
 * (pb_fast_recurrent.h) over this tier's dot product. */
#include "pb_lstm.h"

void pb_fast_lstm_s8(const pb_fast_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                     const int16_t *cell, int8_t *output)
{
    if (p->wide) {
        pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_dsp_dot4_wide, pb_fast_lstm_finish);
    } else {
        pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_dsp_dot4, pb_fast_lstm_finish);
    }
}
