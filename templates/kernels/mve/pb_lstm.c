/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8, Helium tier (see pb_lstm.h): the fast tiers' step
 * (pb_fast_recurrent.h) over this tier's dot product. */
#include "pb_lstm.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif

void pb_fast_mve_lstm_s8(const pb_fast_mve_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                         const int16_t *cell, int8_t *output)
{
    pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_mve_dot4);
}
