/* SVDF, int8 input and output with an int8 or int16 state, Helium (MVE) tier for the
 * Cortex-M55: the portable kernel with its feature multiply, the bulk of the work, four
 * filters per pass over the input through VMLADAVA (pb_mve_dot4, pb_lstm.h). Bit-exact with
 * TensorFlow Lite Micro. The kernel's loops and its parameters' layout (feature rows
 * zero-padded to 16 bytes) are the fast tiers' (pb_fast_recurrent.h). */
#ifndef PB_MVE_SVDF_H
#define PB_MVE_SVDF_H

#include "pb_common.h"
#include "pb_fast_recurrent.h"

typedef pb_fast_svdf_params_t pb_fast_mve_svdf_params_t;

void pb_fast_mve_svdf_s8(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int8_t *state,
                         int8_t *output);
void pb_fast_mve_svdf_s8_s16(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int16_t *state,
                             int8_t *output);

#endif /* PB_MVE_SVDF_H */
