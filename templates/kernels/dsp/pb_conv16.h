/* Fast 16x8 kernels, DSP tier (Cortex-M4/M7/M33; plain C elsewhere): CONV_2D and
 * FULLY_CONNECTED with int16 activations and int8 weights as one blocked matrix multiply
 * over im2col rows (pb_depthwise_conv16.h: DEPTHWISE_CONV_2D). Parameters, requantization
 * forms and the im2col row: pb_fast16.h. */
#ifndef PB_DSP_CONV16_H
#define PB_DSP_CONV16_H

#include "pb_fast16.h"

/* scratch: two im2col rows of depth_pad int16 (NULL when the rows are read in place). */
void pb_fast_mm_s16(const pb_fast_mm16_params_t *p, const int16_t *input, int16_t *output, void *scratch);

#endif /* PB_DSP_CONV16_H */
