/* Fast 16x8 kernels, Helium (MVE) tier for the Cortex-M55: CONV_2D and FULLY_CONNECTED with
 * int16 activations and int8 weights as one matrix multiply over im2col rows
 * (pb_depthwise_conv16.h: DEPTHWISE_CONV_2D). Parameters, requantization forms and the
 * im2col row: pb_fast16.h. */
#ifndef PB_MVE_CONV16_H
#define PB_MVE_CONV16_H

#include "pb_fast16.h"

/* scratch: one im2col row of depth_pad int16 (NULL when the rows are read in place). */
void pb_fast_mve_mm_s16(const pb_fast_mm16_params_t *p, const int16_t *input, int16_t *output, void *scratch);

#endif /* PB_MVE_CONV16_H */
